package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/auth"
	"github.com/ivs-ingest/ivs-ingest/internal/auth/authtest"
	"github.com/ivs-ingest/ivs-ingest/internal/httpapi"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

const (
	eventsPath = "/functions/v1/ivs-events"
	statusPath = "/functions/v1/ivs-stream-status"
	// eventsToken is the IVS_EVENTS_TOKEN of these tests.
	eventsToken = "ivs-events-token-DO-NOT-LEAK-0123456789"
)

// streamStartEvent is AWS's sample IVS Stream State Change event (Amazon
// IVS User Guide, "Using Amazon EventBridge with IVS"), for channelARN.
func streamStartEvent(id, channelARN string) string {
	return `{
  "version": "0",
  "id": "` + id + `",
  "detail-type": "IVS Stream State Change",
  "source": "aws.ivs",
  "account": "123456789012",
  "time": "2026-12-06T10:23:43Z",
  "region": "us-east-1",
  "resources": ["` + channelARN + `"],
  "detail": {"event_name": "Stream Start", "channel_name": "Your Channel", "stream_id": "st-ABCDEfghij01234KLMN5678"}
}`
}

// streamsDouble stands in for the stream status domain (lane A's
// streamstatus.Service) behind the two ports, for the transport's own
// concerns only: the token, the body limit, the statuses, the 503. Who may
// read a status is decided by the real domain over the real database.
type streamsDouble struct {
	mu       sync.Mutex
	received [][]byte
	outcome  streamstatus.Outcome
	err      error
	views    map[string]streamstatus.View // by channel ARN
	viewErr  error
	viewed   []string
}

func (d *streamsDouble) Receive(_ context.Context, body []byte) (streamstatus.Outcome, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.received = append(d.received, append([]byte(nil), body...))
	if d.err != nil {
		return "", d.err
	}
	return d.outcome, nil
}

func (d *streamsDouble) View(_ context.Context, channelARN string) (streamstatus.View, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.viewed = append(d.viewed, channelARN)
	if d.viewErr != nil {
		return streamstatus.View{}, d.viewErr
	}
	if v, ok := d.views[channelARN]; ok {
		return v, nil
	}
	return streamstatus.View{Status: "unknown"}, nil
}

func (d *streamsDouble) set(outcome streamstatus.Outcome, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.outcome, d.err = outcome, err
}

func (d *streamsDouble) receivedCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.received)
}

func (d *streamsDouble) lastViewed() (string, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.viewed) == 0 {
		return "", 0
	}
	return d.viewed[len(d.viewed)-1], len(d.viewed)
}

// streamsService is the transport with both stream status routes, over the
// real domain (as serve assembles it from env) and a real token verifier.
type streamsService struct {
	URL  string
	logs *logBuffer
	d    *streamsDouble
	base *service
}

// startStreams serves cfg's transport (its ports the double unless cfg sets
// them) over the domain serve would build from env with overrides.
func startStreams(t *testing.T, env *testenv.Env, overrides map[string]string, cfg httpapi.Config) *streamsService {
	t.Helper()
	base := start(t, env, overrides)
	verifier, err := auth.New(context.Background(), env.Issuer.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(verifier.Close)
	d := &streamsDouble{outcome: streamstatus.Applied, views: map[string]streamstatus.View{}}
	if cfg.StreamEvents == nil {
		cfg.StreamEvents = d
	}
	if cfg.StreamViews == nil {
		cfg.StreamViews = d
	}
	logs := &logBuffer{}
	cfg.Logger = newTestLogger(logs)
	srv := httptest.NewServer(httpapi.NewServer(cfg, verifier, base.app.Domain.Service, base.app.Store.Ping))
	t.Cleanup(srv.Close)
	return &streamsService{URL: srv.URL, logs: logs, d: d, base: base}
}

func TestIVSEventsRoute(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	// The per-IP and per-user limits at their tightest: neither applies.
	svc := startStreams(t, env, nil, httpapi.Config{
		EventsToken: secret.New(eventsToken), RequestsPerMinute: 1, RequestsPerMinutePerIP: 1, StreamStatusRequestsPerMinute: 1,
	})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	eventID := "0b6f7c4e-DO-NOT-LOG-" + testenv.NewID(t)[:8]
	event := streamStartEvent(eventID, show.ChannelARN)
	post := func(token, body string, header map[string]string) response {
		return call(t, http.MethodPost, svc.URL+eventsPath, token, body, header)
	}

	// Every outcome of an event taken is a 200 saying it, the body handed
	// over whole.
	for _, o := range []streamstatus.Outcome{streamstatus.Applied, streamstatus.Stale, streamstatus.Duplicate,
		streamstatus.Irrelevant, streamstatus.UnknownChannel} {
		svc.d.set(o, nil)
		r := post(eventsToken, event, nil)
		if r.Status != 200 || r.Body["outcome"] != string(o) || len(r.Body) != 1 {
			t.Errorf("event whose outcome is %s = %s, want 200 {\"outcome\":%q}", o, r, o)
		}
	}
	svc.d.mu.Lock()
	if got := string(svc.d.received[0]); got != event {
		t.Errorf("Receive got %q, want the body as sent", got)
	}
	svc.d.mu.Unlock()

	// The token: missing, wrong, a user's, another scheme.
	n := svc.d.receivedCount()
	for name, header := range map[string]map[string]string{
		"no authorization header": nil,
		"wrong token":             {"Authorization": "Bearer " + eventsToken + "x"},
		"a prefix of the token":   {"Authorization": "Bearer " + eventsToken[:16]},
		"a seller's token":        {"Authorization": "Bearer " + env.Token(t, owner)},
		"basic scheme":            {"Authorization": "Basic " + eventsToken},
	} {
		r := post("", event, header)
		wantError(t, name, r, 401, "Missing or invalid events token")
		want := `Bearer error="invalid_token"`
		if header == nil {
			want = "Bearer"
		}
		if got := r.Header.Get("WWW-Authenticate"); got != want {
			t.Errorf("%s: WWW-Authenticate = %q, want %q", name, got, want)
		}
	}
	if got := svc.d.receivedCount(); got != n {
		t.Errorf("Receive ran %d times for requests without the token, want 0", got-n)
	}
	// The scheme in any case, as for every bearer token.
	if r := post("", event, map[string]string{"Authorization": "bearer " + eventsToken}); r.Status != 200 {
		t.Errorf("lowercase bearer scheme = %s, want 200", r)
	}

	// Over 64 KiB: 413, declared or not, and nothing applied.
	n = svc.d.receivedCount()
	big := `{"pad":"` + strings.Repeat("a", httpapi.MaxBodyBytes) + `"}`
	wantError(t, "body over 64 KiB", post(eventsToken, big, nil), 413, "Request body too large")
	chunked, err := http.NewRequest(http.MethodPost, svc.URL+eventsPath, struct{ *strings.Reader }{strings.NewReader(big)})
	if err != nil {
		t.Fatal(err)
	}
	chunked.Header.Set("Authorization", "Bearer "+eventsToken)
	resp, err := noRedirects.Do(chunked)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked body over 64 KiB = %d, want 413", resp.StatusCode)
	}
	if got := svc.d.receivedCount(); got != n {
		t.Errorf("Receive ran %d times for bodies over the limit, want 0", got-n)
	}

	// Malformed: 400, final. A store failure: 503 with Retry-After, so
	// EventBridge delivers it again.
	svc.d.set("", fmt.Errorf("%w: no channel ARN in resources", streamstatus.ErrMalformed))
	wantError(t, "malformed event", post(eventsToken, `{"source":"aws.ivs"}`, nil), 400, "Malformed event")
	svc.d.set("", errors.New("apply stream event: dial tcp: connection refused"))
	r := post(eventsToken, event, nil)
	wantError(t, "event while the database is down", r, 503, "Service unavailable")
	if got := r.Header.Get("Retry-After"); got != "5" {
		t.Errorf("event while the database is down: Retry-After = %q, want 5", got)
	}

	// Machine to machine: no preflight, POST only.
	r = call(t, http.MethodOptions, svc.URL+eventsPath, "", "", map[string]string{"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"})
	if r.Status != 405 || r.Header.Get("Allow") != "POST" {
		t.Errorf("OPTIONS %s = %s (Allow %q), want 405 Allow: POST (no preflight)", eventsPath, r, r.Header.Get("Allow"))
	}
	wantError(t, "GET of the events route", call(t, http.MethodGet, svc.URL+eventsPath, eventsToken, "", nil), 405, "Method not allowed")

	// The log line says what the event was and what came of it; never the
	// body, never the token.
	logs := svc.logs.String()
	for _, want := range []string{`"event_kind":"stream_start"`, `"event_outcome":"applied"`, `"event_outcome":"duplicate"`,
		`"event_outcome":"malformed"`, `"event_outcome":"failed"`, `"path":"` + eventsPath + `"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %s", want)
		}
	}
	for _, secret := range []string{eventsToken, eventID, "Your Channel"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q, from the request's token or body", secret)
		}
	}
}

// Without IVS_EVENTS_TOKEN the route does not exist: 404, as any unknown
// path, whatever the request.
func TestIVSEventsRouteNeedsItsToken(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := startStreams(t, env, nil, httpapi.Config{})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	for _, token := range []string{"", eventsToken} {
		for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodOptions} {
			r := call(t, method, svc.URL+eventsPath, token, streamStartEvent("e1", show.ChannelARN), nil)
			wantError(t, method+" "+eventsPath+" without IVS_EVENTS_TOKEN", r, 404, "Not found")
		}
	}
	if n := svc.d.receivedCount(); n != 0 {
		t.Errorf("Receive ran %d times without the route, want 0", n)
	}
	// Nor in the service as serve assembles it without the variable.
	wantError(t, "POST "+eventsPath+" to serve's handler", call(t, http.MethodPost, svc.base.URL+eventsPath, eventsToken, "{}", nil),
		404, "Not found")
}

// TestStreamStatusRoute walks the status route through the rows of the error
// table it answers, with the real verifier and the real authorization.
func TestStreamStatusRoute(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Supabase: true})
	svc := startStreams(t, env, nil, httpapi.Config{})

	owner := env.Seller(t, "approved")
	live := env.Show(t, owner, true)
	offline := env.Show(t, owner, true)
	starving := env.Show(t, owner, true)
	unknown := env.Show(t, owner, true)
	bare := env.Show(t, owner, false)
	other := env.Seller(t, "approved")
	othersShow := env.Show(t, other, true)
	pooled := env.Show(t, owner, true)
	pgtest.Exec(t, env.DatabaseURL, `INSERT INTO public.shows (id, seller_id, ivs_channel_arn) VALUES ($1, $2, $3)`,
		testenv.NewID(t), other.SellerID, pooled.ChannelARN)
	suspended := env.Seller(t, "suspended")
	suspendedShow := env.Show(t, suspended, true)
	admin := env.Admin(t)
	user := env.User(t)
	signedOut := env.Seller(t, "approved")
	signedOutToken := env.Token(t, signedOut)
	env.SignOut(t, signedOut)
	token := env.Token(t, owner)

	// A time with a zone other than UTC: the answer is in UTC.
	since := time.Date(2026, 12, 6, 11, 23, 43, 0, time.FixedZone("CET", 3600))
	healthy, starved := streamstatus.Healthy, streamstatus.Starving
	svc.d.mu.Lock()
	svc.d.views[live.ChannelARN] = streamstatus.View{Status: "live", Health: &healthy, Since: &since}
	svc.d.views[starving.ChannelARN] = streamstatus.View{Status: "live", Health: &starved, Since: &since}
	svc.d.views[offline.ChannelARN] = streamstatus.View{Status: "offline", Since: &since}
	svc.d.views[suspendedShow.ChannelARN] = streamstatus.View{Status: "offline", Since: &since}
	svc.d.views[othersShow.ChannelARN] = streamstatus.View{Status: "live", Health: &healthy, Since: &since}
	svc.d.mu.Unlock()
	const sinceUTC = "2026-12-06T10:23:43Z"

	get := func(token, query string, header map[string]string) response {
		return call(t, http.MethodGet, svc.URL+statusPath+query, token, "", header)
	}
	wantStatus := func(what string, r response, status string, health, since any) {
		t.Helper()
		if r.Status != 200 || len(r.Body) != 3 || r.Body["status"] != status || r.Body["health"] != health || r.Body["since"] != since {
			t.Errorf("%s = %s, want 200 {\"status\":%q,\"health\":%v,\"since\":%v}", what, r, status, health, since)
		}
	}
	wantStatus("live and healthy", get(token, "?showId="+live.ID, nil), "live", "healthy", sinceUTC)
	wantStatus("live and starving", get(token, "?showId="+starving.ID, nil), "live", "starving", sinceUTC)
	wantStatus("offline", get(token, "?showId="+offline.ID, nil), "offline", nil, sinceUTC)
	wantStatus("never set", get(token, "?showId="+unknown.ID, nil), "unknown", nil, nil)
	if arn, _ := svc.d.lastViewed(); arn != unknown.ChannelARN {
		t.Errorf("View(%q), want the show's channel %q", arn, unknown.ChannelARN)
	}
	wantStatus("show in capitals", get(token, "?showId="+strings.ToUpper(live.ID), nil), "live", "healthy", sinceUTC)
	// A show without a channel is no error: its status is unknown.
	wantStatus("show without a channel", get(token, "?showId="+bare.ID, nil), "unknown", nil, nil)
	if arn, _ := svc.d.lastViewed(); arn != "" {
		t.Errorf("View(%q) for a show without a channel, want View(\"\")", arn)
	}
	wantStatus("suspended owner", get(env.Token(t, suspended), "?showId="+suspendedShow.ID, nil), "offline", nil, sinceUTC)
	wantStatus("admin, another seller's show", get(env.Token(t, admin), "?showId="+othersShow.ID, nil), "live", "healthy", sinceUTC)
	wantStatus("admin on a shared channel", get(env.Token(t, admin), "?showId="+pooled.ID, nil), "unknown", nil, nil)

	_, viewsBefore := svc.d.lastViewed()
	for _, tt := range []struct {
		name, token, query string
		header             map[string]string
		status             int
		message            string
	}{
		{"no authorization header", "", "?showId=" + live.ID, nil, 401, "Missing authorization header"},
		{"basic scheme", "", "?showId=" + live.ID, map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, 401, "Invalid or expired token"},
		{"garbage token", "not.a.jwt", "?showId=" + live.ID, nil, 401, "Invalid or expired token"},
		{"expired token", env.Token(t, owner, authtest.WithExpiry(-time.Hour)), "?showId=" + live.ID, nil, 401, "Invalid or expired token"},
		{"the events token", eventsToken, "?showId=" + live.ID, nil, 401, "Invalid or expired token"},
		{"signed-out session", signedOutToken, "?showId=" + live.ID, nil, 401, "Invalid or expired token"},
		{"showId missing", token, "", nil, 400, "showId is required"},
		{"showId empty", token, "?showId=", nil, 400, "showId is required"},
		{"showId not a uuid", token, "?showId=show-1", nil, 400, "showId must be a UUID"},
		{"user who is not a seller", env.Token(t, user), "?showId=" + live.ID, nil, 403, "Seller profile not found"},
		{"no such show", token, "?showId=" + testenv.NewID(t), nil, 404, "Show not found"},
		{"admin, no such show", env.Token(t, admin), "?showId=" + testenv.NewID(t), nil, 404, "Show not found"},
		{"another seller's show", token, "?showId=" + othersShow.ID, nil, 403, "You do not own this show"},
		{"channel shared with another seller's show", token, "?showId=" + pooled.ID, nil, 403, "Channel is shared with another seller's show"},
	} {
		wantError(t, tt.name, get(tt.token, tt.query, tt.header), tt.status, tt.message)
	}
	if _, n := svc.d.lastViewed(); n != viewsBefore {
		t.Errorf("View ran %d times for refused requests, want 0", n-viewsBefore)
	}

	// The status domain failing is an internal error, as for the other
	// routes: nothing of it is said.
	svc.d.mu.Lock()
	svc.d.viewErr = errors.New("stream state: dial tcp: connection refused")
	svc.d.mu.Unlock()
	wantError(t, "status while the stream state cannot be read", get(token, "?showId="+live.ID, nil), 500, "Internal server error")

	// CORS as the other endpoints: a preflight, GET only.
	r := call(t, http.MethodOptions, svc.URL+statusPath, "", "", map[string]string{"Origin": "https://shop.example",
		"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
	if r.Status != 204 || r.Header.Get("Access-Control-Allow-Methods") != "GET, OPTIONS" || r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight of %s = %s, headers %v; want 204 allowing GET", statusPath, r, r.Header)
	}
	for _, m := range []string{http.MethodHead, http.MethodPost} {
		r := call(t, m, svc.URL+statusPath+"?showId="+live.ID, token, "", nil)
		if r.Status != 405 || r.Header.Get("Allow") != "GET, OPTIONS" {
			t.Errorf("%s %s = %s (Allow %q), want 405 Allow: GET, OPTIONS", m, statusPath, r, r.Header.Get("Allow"))
		}
	}

	// No audit row, whatever the answer: a status reveals no key.
	if n := queryStrings(t, env.DatabaseURL, `SELECT count(*) FROM ivs_ingest.audit_log`)[0]; n != "0" {
		t.Errorf("%s audit rows after status reads only, want 0", n)
	}
}

// Status reads have their own per-user bucket: polling never spends the
// limit a seller needs for their key, nor the reverse; the per-IP limit
// applies as to every route; the MFA gate does not.
func TestStreamStatusLimits(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	bare := env.Show(t, owner, false)
	token := env.Token(t, owner)

	svc := startStreams(t, env, nil, httpapi.Config{RequestsPerMinute: 1, StreamStatusRequestsPerMinute: 2})
	status := func() response { return call(t, http.MethodGet, svc.URL+statusPath+"?showId="+show.ID, token, "", nil) }
	getKey := func() response { return call(t, http.MethodPost, svc.URL+path, token, `{"showId":"`+bare.ID+`"}`, nil) }
	for i := range 2 {
		if r := status(); r.Status != 200 {
			t.Errorf("status read %d = %s, want 200", i+1, r)
		}
	}
	r := status()
	wantError(t, "third status read in a minute", r, 429, "Too many requests")
	if r.Header.Get("Retry-After") == "" || r.Body["retryAfter"] == nil {
		t.Errorf("third status read: no Retry-After: %s %v", r, r.Header)
	}
	// The status bucket spent, the key route's is whole: its one request
	// a minute is answered (the show has no channel), the next refused.
	wantError(t, "get after the status bucket is spent", getKey(), 400, "Show does not have IVS channel configured")
	wantError(t, "second get in a minute", getKey(), 429, "Too many requests")

	// The key route's bucket spent, and the MFA gate on (the issuer's
	// tokens are aal1): status reads go on.
	gated := startStreams(t, env, map[string]string{"REQUIRE_MFA": "true"}, httpapi.Config{RequestsPerMinute: 1})
	wantError(t, "get with aal1", call(t, http.MethodPost, gated.URL+path, token, `{"showId":"`+bare.ID+`"}`, nil),
		403, "Multi-factor authentication required")
	for i := range 3 {
		if r := call(t, http.MethodGet, gated.URL+statusPath+"?showId="+show.ID, token, "", nil); r.Status != 200 {
			t.Errorf("status read %d with aal1 and the key route's bucket spent = %s, want 200", i+1, r)
		}
	}

	// The per-IP limit: every route, this one too.
	perIP := startStreams(t, env, nil, httpapi.Config{RequestsPerMinutePerIP: 1})
	other := env.Seller(t, "approved")
	othersShow := env.Show(t, other, true)
	if r := call(t, http.MethodGet, perIP.URL+statusPath+"?showId="+show.ID, token, "", nil); r.Status != 200 {
		t.Errorf("first status read from the address = %s, want 200", r)
	}
	wantError(t, "second status read from the address, another user", call(t, http.MethodGet,
		perIP.URL+statusPath+"?showId="+othersShow.ID, env.Token(t, other), "", nil), 429, "Too many requests")
}

// The key set unreachable: 503, as for every authenticated route.
func TestStreamStatusKeySetDown(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	env.Issuer.SetDown(true)
	svc := startStreams(t, env, nil, httpapi.Config{})
	r := call(t, http.MethodGet, svc.URL+statusPath+"?showId="+show.ID, env.Token(t, owner), "", nil)
	wantError(t, "status read while the JWKS is down", r, 503, "Service unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("status read while the JWKS is down: no Retry-After")
	}
}
