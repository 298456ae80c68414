package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ivs-ingest/ivs-ingest/internal/auth/authtest"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

const metricsToken = "metrics-token-for-tests-0123456789"

// scrape reads GET /metrics with token ("" for none) and returns the parsed
// families and the raw text.
func scrape(t *testing.T, svc *service, token string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, svc.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %q, want 200 text/plain", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families, string(raw)
}

// sample returns the value of family's series whose labels include want
// (counters, gauges and untyped), summed over the series that match.
func sample(families map[string]*dto.MetricFamily, family string, want map[string]string) float64 {
	var sum float64
	f := families[family]
	if f == nil {
		return 0
	}
series:
	for _, m := range f.GetMetric() {
		labels := make(map[string]string)
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

func TestMetricsFollowRequests(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, map[string]string{"METRICS_TOKEN": metricsToken})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	throttled := env.Show(t, owner, true)
	token := env.Token(t, owner)
	env.Emulator.ResetCounts() // the setup's own calls were not the service's

	first := wantKey(t, "first request", svc.get(t, token, show.ID, nil))
	before, text1 := scrape(t, svc, metricsToken)
	second := wantKey(t, "hot request", svc.get(t, token, show.ID, nil))
	if second != first {
		t.Fatal("the hot request answered another key than the first")
	}
	after, text2 := scrape(t, svc, metricsToken)

	const (
		cache    = "ivs_ingest_stream_key_cache_lookups_total"
		ivsCalls = "ivs_ingest_ivs_calls_total"
		requests = "ivs_ingest_http_requests_total"
	)
	hit, miss := map[string]string{"result": "hit"}, map[string]string{"result": "miss"}
	if got := sample(before, cache, miss); got != 1 {
		t.Errorf("after the first request, %s{result=miss} = %v, want 1", cache, got)
	}
	for _, op := range []string{"GetChannel", "CreateStreamKey"} {
		if got := sample(before, ivsCalls, map[string]string{"operation": op, "outcome": "success"}); got != 1 {
			t.Errorf("after the first request, %s{operation=%s,outcome=success} = %v, want 1", ivsCalls, op, got)
		}
	}
	if got := sample(after, cache, hit) - sample(before, cache, hit); got != 1 {
		t.Errorf("a hot request raised %s{result=hit} by %v, want 1", cache, got)
	}
	if got := sample(after, cache, miss) - sample(before, cache, miss); got != 0 {
		t.Errorf("a hot request raised %s{result=miss} by %v, want 0", cache, got)
	}
	if got := sample(after, ivsCalls, nil) - sample(before, ivsCalls, nil); got != 0 {
		t.Errorf("a hot request raised %s by %v, want 0", ivsCalls, got)
	}
	route := map[string]string{"route": "/functions/v1/get-ivs-ingest", "method": "POST", "status": "200"}
	if got := sample(after, requests, route) - sample(before, requests, route); got != 1 {
		t.Errorf("a hot request raised %s%v by %v, want 1", requests, route, got)
	}
	scrapes := map[string]string{"route": "/metrics", "method": "GET", "status": "200"}
	if got := sample(after, requests, scrapes); got != 1 {
		t.Errorf("%s%v = %v after one earlier scrape, want 1", requests, scrapes, got)
	}
	if got := sample(after, "ivs_ingest_http_request_duration_seconds", map[string]string{"route": "/functions/v1/get-ivs-ingest"}); got != 2 {
		t.Errorf("the latency histogram counted %v get-ivs-ingest requests, want 2", got)
	}
	if got := sample(after, "ivs_ingest_jwks_refreshes_total", map[string]string{"result": "success"}); got < 1 {
		t.Errorf("ivs_ingest_jwks_refreshes_total{result=success} = %v, want at least 1", got)
	}
	if got := sample(after, "ivs_ingest_db_pool_max_connections", nil); got != 20 {
		t.Errorf("ivs_ingest_db_pool_max_connections = %v, want DATABASE_MAX_CONNS's default 20", got)
	}
	if got := sample(after, "ivs_ingest_db_pool_acquires_total", nil); got < 2 {
		t.Errorf("ivs_ingest_db_pool_acquires_total = %v, want at least the 2 requests' acquires", got)
	}
	if got := sample(after, "ivs_ingest_build_info", nil); got != 1 {
		t.Errorf("ivs_ingest_build_info = %v, want 1", got)
	}

	// A throttled attempt is counted as such, then its retry as a success.
	env.Emulator.FailNext("GetChannel", "ThrottlingException", 1)
	wantKey(t, "request whose GetChannel is throttled once", svc.get(t, token, throttled.ID, nil))
	last, text3 := scrape(t, svc, metricsToken)
	if got := sample(last, ivsCalls, map[string]string{"operation": "GetChannel", "outcome": "throttled"}); got != 1 {
		t.Errorf("%s{operation=GetChannel,outcome=throttled} = %v, want 1", ivsCalls, got)
	}
	if got, want := sample(last, ivsCalls, nil), float64(env.Emulator.TotalCalls()); got != want {
		t.Errorf("%s sums to %v; the emulator saw %v calls", ivsCalls, got, want)
	}

	// No series names a user, show, channel, key or token.
	for _, text := range []string{text1, text2, text3} {
		for what, v := range map[string]string{
			"stream key": first, "access token": token, "metrics token": metricsToken,
			"user id": owner.ID, "show id": show.ID, "channel ARN": show.ChannelARN,
		} {
			if strings.Contains(text, v) {
				t.Errorf("/metrics contains the %s", what)
			}
		}
	}
}

func TestMetricsToken(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, map[string]string{"METRICS_TOKEN": metricsToken})

	for _, tc := range []struct{ name, auth, challenge string }{
		{"no token", "", "Bearer"},
		{"wrong token", "Bearer " + metricsToken + "x", `Bearer error="invalid_token"`},
		{"token without scheme", metricsToken, `Bearer error="invalid_token"`},
		{"prefix of the token", "Bearer " + metricsToken[:10], `Bearer error="invalid_token"`},
	} {
		r := call(t, http.MethodGet, svc.URL+"/metrics", "", "", map[string]string{"Authorization": tc.auth})
		wantError(t, "GET /metrics with "+tc.name, r, http.StatusUnauthorized, "Missing or invalid metrics token")
		if got := r.Header.Get("WWW-Authenticate"); got != tc.challenge {
			t.Errorf("GET /metrics with %s: WWW-Authenticate = %q, want %q", tc.name, got, tc.challenge)
		}
		if strings.Contains(r.Raw, "ivs_ingest_") {
			t.Errorf("GET /metrics with %s leaked metrics", tc.name)
		}
	}
	r := call(t, http.MethodPost, svc.URL+"/metrics", "", "", map[string]string{"Authorization": "Bearer " + metricsToken})
	wantError(t, "POST /metrics", r, http.StatusMethodNotAllowed, "Method not allowed")
	scrape(t, svc, metricsToken)
	// The scheme is case-insensitive (RFC 9110), as on the API's routes.
	if r := call(t, http.MethodGet, svc.URL+"/metrics", "", "", map[string]string{"Authorization": "bearer " + metricsToken}); r.Status != http.StatusOK {
		t.Errorf("GET /metrics with a lowercase scheme = %d, want 200", r.Status)
	}

	// Without METRICS_TOKEN the endpoint is open.
	open := start(t, env, nil)
	scrape(t, open, "")
}

func TestMetricsCountRejectionsAndBoundRoutes(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, map[string]string{"RATE_LIMIT_REQUESTS_PER_MINUTE": "1"})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)

	wantKey(t, "first request", svc.get(t, token, show.ID, nil))
	wantError(t, "second request within the minute", svc.get(t, token, show.ID, nil), http.StatusTooManyRequests, "Too many requests")
	// Paths no route serves share one label, whatever the client sent.
	probe := "/functions/v1/" + show.ID
	wantError(t, "GET "+probe, call(t, http.MethodGet, svc.URL+probe, "", "", nil), http.StatusNotFound, "Not found")

	families, text := scrape(t, svc, "")
	if got := sample(families, "ivs_ingest_rate_limit_rejections_total", map[string]string{"limit": "user_requests"}); got != 1 {
		t.Errorf("rate_limit_rejections_total{limit=user_requests} = %v, want 1", got)
	}
	if got := sample(families, "ivs_ingest_rate_limit_rejections_total", map[string]string{"limit": "key_creations"}); got != 0 {
		t.Errorf("rate_limit_rejections_total{limit=key_creations} = %v, want 0", got)
	}
	want := map[string]string{"route": "/functions/v1/get-ivs-ingest", "method": "POST", "status": "429"}
	if got := sample(families, "ivs_ingest_http_requests_total", want); got != 1 {
		t.Errorf("http_requests_total%v = %v, want 1", want, got)
	}
	want = map[string]string{"route": "unmatched", "method": "GET", "status": "404"}
	if got := sample(families, "ivs_ingest_http_requests_total", want); got != 1 {
		t.Errorf("http_requests_total%v = %v, want 1", want, got)
	}
	if strings.Contains(text, show.ID) {
		t.Error("/metrics carries the path a client sent")
	}
}

func TestMetricsCountEachRefusal(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	env.Issuer.SetDown(true)
	svc := start(t, env, map[string]string{"RATE_LIMIT_KEY_CREATES_PER_HOUR": "1"})
	owner := env.Seller(t, "approved")
	shows := []testenv.Show{env.Show(t, owner, true), env.Show(t, owner, true), env.Show(t, owner, true)}
	// The JWKS is down: ES256 tokens get 503, the legacy secret still works.
	wantError(t, "ES256 token while the JWKS is down", svc.get(t, env.Token(t, owner), shows[0].ID, nil), 503, "Service unavailable")
	token := env.Token(t, owner, authtest.WithAlg("HS256"))

	refusals := func(what string, want map[string]float64) {
		t.Helper()
		families, _ := scrape(t, svc, "")
		for limit, n := range want {
			if got := sample(families, "ivs_ingest_rate_limit_rejections_total", map[string]string{"limit": limit}); got != n {
				t.Errorf("after %s: rate_limit_rejections_total{limit=%s} = %v, want %v", what, limit, got, n)
			}
		}
	}

	wantKey(t, "the seller's one key creation of the hour", svc.get(t, token, shows[0].ID, nil))
	wantError(t, "rotation over the creation limit", call(t, http.MethodPost, svc.URL+rotatePath, token, `{"showId":"`+shows[0].ID+`"}`, nil), 429, "Too many requests")
	refusals("a rotation over the creation limit", map[string]float64{"key_creations": 1, "ivs_call_budget": 0, "ivs_throttled": 0, "user_requests": 0})

	// IVS throttles through every retry: AWS's limit, not the budget's.
	env.Emulator.Fail("GetChannel", "ThrottlingException")
	wantError(t, "request throttled by IVS through every retry", svc.get(t, token, shows[1].ID, nil), 503, "Service unavailable")
	env.Emulator.ClearFailures()
	refusals("a request IVS throttled", map[string]float64{"key_creations": 1, "ivs_call_budget": 0, "ivs_throttled": 1})

	// Every slot of the shared budget is taken for the next hour.
	pgtest.Exec(t, env.DatabaseURL, `UPDATE ivs_ingest.ivs_call_budget SET next_slot = clock_timestamp() + interval '1 hour'`)
	wantError(t, "request while the IVS call budget is exhausted", svc.get(t, token, shows[2].ID, nil), 503, "Service unavailable")
	refusals("a request refused for budget", map[string]float64{"key_creations": 1, "ivs_call_budget": 1, "ivs_throttled": 1})

	families, _ := scrape(t, svc, "")
	if got := sample(families, "ivs_ingest_jwks_refreshes_total", map[string]string{"result": "failure"}); got < 1 {
		t.Errorf("jwks_refreshes_total{result=failure} = %v while the JWKS is down, want at least 1", got)
	}
	if got := sample(families, "ivs_ingest_jwks_refreshes_total", map[string]string{"result": "success"}); got != 0 {
		t.Errorf("jwks_refreshes_total{result=success} = %v while the JWKS is down, want 0", got)
	}
	if got := sample(families, "ivs_ingest_ivs_calls_total", map[string]string{"operation": "GetChannel", "outcome": "throttled"}); got != 6 {
		t.Errorf("ivs_calls_total{operation=GetChannel,outcome=throttled} = %v, want the 6 attempts of one call", got)
	}
}
