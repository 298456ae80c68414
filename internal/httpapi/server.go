// Package httpapi is ivs-ingest's HTTP transport: the routes, their
// middleware, request parsing, and the one table that maps errors to
// statuses and messages.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"path"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/auth"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/limit"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
)

// Authenticator verifies a bearer token.
type Authenticator interface {
	Verify(ctx context.Context, token string) (auth.Caller, error)
}

// IngestService is the domain as the transport calls it.
type IngestService interface {
	// Admit decides what the caller's token alone allows of the action,
	// before the per-user request limit (the MFA gate).
	Admit(caller ingest.Caller, action ingest.Action) error
	IngestDetails(ctx context.Context, req ingest.Request) (ingest.Details, error)
	RotateStreamKey(ctx context.Context, req ingest.Request) (ingest.Details, error)
	RevokeStreamKey(ctx context.Context, req ingest.RevokeRequest) (ingest.Revoked, error)
	ReadAudit(ctx context.Context, caller ingest.Caller, q ingest.AuditQuery) (ingest.AuditPage, error)
	WriteAudit(ctx context.Context, e ingest.AuditEntry) error
	// WatchShow decides whether the caller may follow a show's stream
	// status and returns its channel ARN ("" for none).
	WatchShow(ctx context.Context, req ingest.WatchRequest) (channelARN string, err error)
}

// StreamEvents applies the IVS events POST /functions/v1/ivs-events
// receives (a *streamstatus.Service is one).
type StreamEvents interface {
	// Receive parses body as an EventBridge event and applies it; an error
	// matching streamstatus.ErrMalformed refuses a body that is no event,
	// any other is a failure the sender should retry.
	Receive(ctx context.Context, body []byte) (streamstatus.Outcome, error)
}

// StreamViews reads what GET /functions/v1/ivs-stream-status shows (a
// *streamstatus.Service is one).
type StreamViews interface {
	// View reads a channel's status ("" for a show without a channel).
	View(ctx context.Context, channelARN string) (streamstatus.View, error)
}

// ReadyFunc reports whether the service's dependencies answer.
type ReadyFunc func(ctx context.Context) error

// Config tunes the transport.
type Config struct {
	// AllowedOrigins lists the CORS origins; empty or containing "*"
	// allows any origin.
	AllowedOrigins []string
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client (see clientIPs.of); empty: the client is the socket's peer.
	TrustedProxies []netip.Prefix
	// RequestsPerMinute limits each user's requests (keyed on the token's
	// sub), in bursts of at most 10; 0 for no limit.
	RequestsPerMinute int
	// RequestsPerMinutePerIP limits each client IP's requests likewise,
	// before the token is verified; 0 for no limit.
	RequestsPerMinutePerIP int
	// StreamStatusRequestsPerMinute limits each user's reads of their
	// shows' stream status (keyed on the token's sub), in bursts of at most
	// 10; 0 for no limit. A bucket of its own: a panel polling the status
	// never spends the RequestsPerMinute a seller needs for their key.
	StreamStatusRequestsPerMinute int
	// Limits keeps the request limits' counts: nil for this process's
	// memory (per replica), or the store's, shared by every replica (AWS
	// Lambda mode, where each environment is a process of its own).
	Limits limit.Source
	// KeySetRetry is how long after a failed fetch the token verifier
	// fetches the key set again (JWKS_MIN_REFETCH_INTERVAL): the
	// Retry-After of a 503 for want of the key set. 0 means 30s.
	KeySetRetry time.Duration
	// RequestTimeout bounds the work done for one request; 0 means 30s.
	RequestTimeout time.Duration
	Logger         *slog.Logger
	// Metrics counts requests and refusals; nil for none.
	Metrics Metrics
	// MetricsHandler serves GET /metrics; nil answers 404 there.
	MetricsHandler http.Handler
	// MetricsToken, when set, is the bearer token GET /metrics requires.
	MetricsToken secret.String
	// EventsToken, when set together with StreamEvents, opens POST
	// /functions/v1/ivs-events to requests bearing it (IVS_EVENTS_TOKEN);
	// zero: the route does not exist (404).
	EventsToken secret.String
	// StreamEvents applies the events that route receives.
	StreamEvents StreamEvents
	// StreamViews serves GET /functions/v1/ivs-stream-status; nil: the
	// route does not exist (404).
	StreamViews StreamViews
	// ReadyDetail, when it returns something, is said in /readyz's 200 as
	// "detail": what the service serves without (a key store whose KMS
	// data key is not unwrapped yet). nil for none.
	ReadyDetail func() string
	// MaxActiveRequests caps the requests of the authenticated API routes
	// doing work at once (see admission); the others wait, before their
	// token is verified, within their RequestTimeout. 0 means
	// DefaultMaxActiveRequests.
	MaxActiveRequests int
}

// Metrics is what the transport reports about the requests it answers.
type Metrics interface {
	// Request reports an answered request; route is its route pattern.
	Request(route, method string, status int, d time.Duration)
	// Rejected reports a request refused by a limit (see package metrics).
	Rejected(limit string)
	// RefusalNotAudited reports a refusal by the per-user request limit
	// that wrote no audit row (only the first in a rolling minute does).
	RefusalNotAudited()
}

type noMetrics struct{}

func (noMetrics) Request(string, string, int, time.Duration) {}
func (noMetrics) Rejected(string)                            {}
func (noMetrics) RefusalNotAudited()                         {}

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 64 << 10

type server struct {
	authn          Authenticator
	ingest         IngestService
	ready          *readiness
	cors           cors
	clientIPs      clientIPs
	limits         requestLimits
	timeout        time.Duration
	keySetRetry    time.Duration
	logger         *slog.Logger
	metrics        Metrics
	metricsHandler http.Handler // nil when metrics are not served
	metricsToken   secret.String
	eventsToken    secret.String
	streamEvents   StreamEvents // nil: no events route
	streamViews    StreamViews  // nil: no status route
	admission      *admission
}

// NewServer returns the service's HTTP handler.
func NewServer(cfg Config, authn Authenticator, svc IngestService, ready ReadyFunc) http.Handler {
	s := newServer(cfg, authn, svc, ready)
	mux := http.NewServeMux()
	s.routes(mux)
	return s.requestContext(s.recoverPanics(s.cors.middleware(s.cleanPaths(mux))))
}

// newServer is NewServer's server, its defaults filled in, before routing.
func newServer(cfg Config, authn Authenticator, svc IngestService, ready ReadyFunc) *server {
	s := &server{
		authn:          authn,
		ingest:         svc,
		ready:          &readiness{check: ready, detail: cfg.ReadyDetail},
		cors:           newCORS(cfg.AllowedOrigins),
		clientIPs:      clientIPs{trusted: cfg.TrustedProxies},
		limits:         newRequestLimits(cfg.Limits, cfg.RequestsPerMinute, cfg.RequestsPerMinutePerIP, cfg.StreamStatusRequestsPerMinute),
		timeout:        cfg.RequestTimeout,
		keySetRetry:    cfg.KeySetRetry,
		logger:         cfg.Logger,
		metrics:        cfg.Metrics,
		metricsHandler: cfg.MetricsHandler,
		metricsToken:   cfg.MetricsToken,
		streamViews:    cfg.StreamViews,
		admission:      newAdmission(cfg.MaxActiveRequests),
	}
	if !cfg.EventsToken.IsZero() && cfg.StreamEvents != nil {
		s.eventsToken, s.streamEvents = cfg.EventsToken, cfg.StreamEvents
	}
	if s.metrics == nil {
		s.metrics = noMetrics{}
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	if s.keySetRetry <= 0 {
		s.keySetRetry = 30 * time.Second
	}
	return s
}

// cleanPaths answers 404 to a path that is not in canonical form, which
// ServeMux would otherwise redirect with a bodiless 301/307.
func (s *server) cleanPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p != "/" && (path.Clean(p) != p || !strings.HasPrefix(p, "/")) {
			s.writeError(w, r, errNotFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into a 500 answer and a log line with the stack.
func (s *server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logger.ErrorContext(r.Context(), "panic serving request",
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if rec, ok := w.(*statusRecorder); ok && rec.code != 0 {
				return // too late for another answer
			}
			s.writeError(w, r, errors.New("panic"))
		}()
		next.ServeHTTP(w, r)
	})
}

// NewHTTPServer wraps h in an http.Server with the timeouts every listener
// of the service needs; requestTimeout is the handler's own bound on a
// request's work, which the write timeout leaves room for.
func NewHTTPServer(addr string, h http.Handler, requestTimeout time.Duration, logger *slog.Logger) *http.Server {
	return &http.Server{
		Addr:    addr,
		Handler: h,
		// Why: a client that trickles its headers must not hold a
		// connection open (slowloris).
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      requestTimeout + 10*time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}
