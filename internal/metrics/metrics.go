// Package metrics is ivs-ingest's Prometheus instrumentation: one registry
// per process (never the global one), the collectors every package reports
// to, and the handler that serves them.
//
// Labels take values only from small fixed sets (route patterns, IVS
// operation names, outcomes, statuses), never from a request: no user id,
// show id, ARN, key or token can reach a series, and a client cannot grow the
// number of series.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "ivs_ingest"

// Metrics holds the service's collectors. A nil *Metrics records nothing, so
// code paths and tests that run without metrics need no special casing.
type Metrics struct {
	reg *prometheus.Registry

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	ivsCalls        *prometheus.CounterVec
	ivsDuration     *prometheus.HistogramVec
	keyCache        *prometheus.CounterVec
	unusable        *prometheus.CounterVec
	jwksFetches     *prometheus.CounterVec
	tokenCacheHit   prometheus.Counter
	tokenCacheMiss  prometheus.Counter
	rejections      *prometheus.CounterVec
	unaudited       prometheus.Counter
	eventQueue      *eventQueueMetrics
	stream          *streamMetrics
}

// New returns Metrics on a fresh registry, with the Go runtime and process
// collectors and a build_info series carrying version.
func New(version string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help: "Time to answer an HTTP request, by route pattern.",
			// The hot path answers in milliseconds; a request that waits for
			// IVS call budget can take up to IVS_BUDGET_WAIT.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"route"}),
		ivsCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "ivs_calls_total",
			Help: "HTTP attempts made to the IVS API (SDK retries included), by operation and outcome.",
		}, []string{"operation", "outcome"}),
		ivsDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "ivs_call_duration_seconds",
			Help:    "Duration of one HTTP attempt to the IVS API, by operation.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation"}),
		keyCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "stream_key_cache_lookups_total",
			Help: "Stream key cache lookups on the get-ivs-ingest path, by result (hit or miss).",
		}, []string{"result"}),
		unusable: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "stored_values_unusable_total",
			Help: "Stored stream key values and SRT passphrases that did not open, served from IVS instead, by reason: " +
				"unknown_key (sealed under a master key this process does not hold: left as it is), " +
				"unreadable (tampered with, or copied from another row: stored again).",
		}, []string{"reason"}),
		jwksFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "jwks_refreshes_total",
			Help: "Fetches of the Supabase JWKS, by result (success or failure).",
		}, []string{"result"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "rate_limit_rejections_total",
			Help: "Requests refused by a limit: user_requests (per-user request rate, 429), stream_status_requests (per-user reads of the stream status, 429), ip_requests (per-IP request rate, 429), key_creations (per-seller key creations, 429), revocations (per-show revocations, 429), ivs_seller_share (a seller's share of the IVS call budget, 429), ivs_call_budget (IVS call budget exhausted, 503), ivs_throttled (IVS itself still throttling after every retry, 503).",
		}, []string{"limit"}),
		unaudited: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "unaudited_refusals_total",
			Help: "Requests refused by the per-user request limit that wrote no audit row: only a user's first refusal in a rolling minute does.",
		}),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "Always 1; the version label says which build is running.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	buildInfo.Set(1)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo,
		m.requests, m.requestDuration, m.ivsCalls, m.ivsDuration, m.keyCache, m.unusable, m.jwksFetches, m.rejections, m.unaudited,
	)
	m.eventQueue = newEventQueueMetrics(reg)
	m.stream = newStreamMetrics(reg)
	tokenCache := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "token_cache_lookups_total",
		Help: "Access tokens looked up in the verified-token cache, by result: hit (signature not checked again) or miss.",
	}, []string{"result"})
	reg.MustRegister(tokenCache)
	// Resolved once: this is counted on every authenticated request.
	m.tokenCacheHit, m.tokenCacheMiss = tokenCache.WithLabelValues("hit"), tokenCache.WithLabelValues("miss")
	for _, r := range []string{"hit", "miss"} {
		m.keyCache.WithLabelValues(r)
	}
	for _, r := range []string{"unknown_key", "unreadable"} {
		m.unusable.WithLabelValues(r)
	}
	for _, r := range []string{"success", "failure"} {
		m.jwksFetches.WithLabelValues(r)
	}
	for _, l := range []string{LimitUserRequests, LimitIPRequests, LimitKeyCreations, LimitRevocations, LimitSellerShare, LimitIVSBudget, LimitIVSThrottled} {
		m.rejections.WithLabelValues(l)
	}
	return m
}

// Handler serves the registry in the Prometheus text format (or OpenMetrics
// when the scraper asks for it).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:          m.reg, // counts its own scrape errors
		EnableOpenMetrics: true,
		Timeout:           10 * time.Second,
	})
}

// Register adds collectors to the registry.
func (m *Metrics) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Request records an answered HTTP request. route must be a route pattern
// (or a fixed placeholder), never a raw path.
func (m *Metrics) Request(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.requestDuration.WithLabelValues(route).Observe(d.Seconds())
}

// IVSCall records one HTTP attempt to the IVS API.
func (m *Metrics) IVSCall(operation, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.ivsCalls.WithLabelValues(operation, outcome).Inc()
	m.ivsDuration.WithLabelValues(operation).Observe(d.Seconds())
}

// KeyCacheLookup records a stream key cache lookup.
func (m *Metrics) KeyCacheLookup(hit bool) {
	if m == nil {
		return
	}
	result := "miss"
	if hit {
		result = "hit"
	}
	m.keyCache.WithLabelValues(result).Inc()
}

// StoredValueUnusable records a stored value that did not open; reason is
// "unknown_key" or "unreadable" (ingest.UnusableUnknownKey,
// ingest.UnusableUnreadable).
func (m *Metrics) StoredValueUnusable(reason string) {
	if m == nil {
		return
	}
	m.unusable.WithLabelValues(reason).Inc()
}

// TokenCacheLookup records a lookup in the verified-token cache.
func (m *Metrics) TokenCacheLookup(hit bool) {
	if m == nil {
		return
	}
	if hit {
		m.tokenCacheHit.Inc()
	} else {
		m.tokenCacheMiss.Inc()
	}
}

// JWKSFetched records a fetch of the JWKS; err is its failure, or nil.
func (m *Metrics) JWKSFetched(err error) {
	if m == nil {
		return
	}
	result := "success"
	if err != nil {
		result = "failure"
	}
	m.jwksFetches.WithLabelValues(result).Inc()
}

// The limits a request can be refused by. Each is the name its refusal (a
// *limit.LimitedError, or the domain's creation limit) carries.
const (
	LimitUserRequests = "user_requests"
	LimitIPRequests   = "ip_requests"
	LimitKeyCreations = "key_creations"
	LimitRevocations  = "revocations"
	LimitSellerShare  = "ivs_seller_share"
	LimitIVSBudget    = "ivs_call_budget"
	// LimitIVSThrottled is AWS's own limit: the budget let the call go,
	// yet IVS throttled it through every retry (another client shares the
	// account's quota, or IVS_MAX_CALLS_PER_SECOND is above it).
	LimitIVSThrottled = "ivs_throttled"
)

// Rejected records a request refused by limit, one of the Limit constants.
func (m *Metrics) Rejected(limit string) {
	if m == nil {
		return
	}
	m.rejections.WithLabelValues(limit).Inc()
}

// RefusalNotAudited records a refusal by the per-user request limit that
// wrote no audit row.
func (m *Metrics) RefusalNotAudited() {
	if m == nil {
		return
	}
	m.unaudited.Inc()
}
