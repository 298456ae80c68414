package httpapi_test

// End-to-end tests of the stream status routes over the real
// streamstatus.Service and its PostgreSQL store (lane A of issue 14), through
// the service as serve assembles it with IVS_EVENTS_TOKEN set (internal/app's
// wiring), and of a direct Lambda invocation through internal/lambdahttp.

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/lambdahttp"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// ivsEventOf is an IVS event in the shape of AWS's samples (Amazon IVS User
// Guide, "Using Amazon EventBridge with IVS"): detailType and eventName for
// channelARN at at, with EventBridge's id.
func ivsEventOf(id, detailType, eventName, channelARN string, at time.Time) string {
	resources := `[]`
	if channelARN != "" {
		resources = `["` + channelARN + `"]`
	}
	return `{
  "version": "0",
  "id": "` + id + `",
  "detail-type": "` + detailType + `",
  "source": "aws.ivs",
  "account": "123456789012",
  "time": "` + at.UTC().Format(time.RFC3339) + `",
  "region": "us-east-1",
  "resources": ` + resources + `,
  "detail": {"event_name": "` + eventName + `", "channel_name": "Your Channel", "stream_id": "st-ABCDEfghij01234KLMN5678"}
}`
}

func TestStreamStatusEndToEnd(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Supabase: true})
	svc := start(t, env, map[string]string{"IVS_EVENTS_TOKEN": eventsToken})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	sibling := env.Show(t, owner, false) // another show of the owner, on the same channel below
	pgtest.Exec(t, env.DatabaseURL, `UPDATE public.shows SET ivs_channel_arn = $1 WHERE id = $2`, show.ChannelARN, sibling.ID)
	token := env.Token(t, owner)
	post := func(what, body string, status int, outcome string) response {
		t.Helper()
		r := call(t, http.MethodPost, svc.URL+eventsPath, eventsToken, body, nil)
		if r.Status != status || (outcome != "" && r.Body["outcome"] != outcome) {
			t.Errorf("%s = %s, want %d %s", what, r, status, outcome)
		}
		return r
	}
	column := func(showID string) string {
		t.Helper()
		return queryStrings(t, env.DatabaseURL, `SELECT coalesce(stream_status, 'NULL') FROM public.shows WHERE id = '`+showID+`'`)[0]
	}
	status := func(what, wantStatus string, wantHealth any, wantSince any) {
		t.Helper()
		r := call(t, http.MethodGet, svc.URL+statusPath+"?showId="+show.ID, token, "", nil)
		if r.Status != 200 || r.Body["status"] != wantStatus || r.Body["health"] != wantHealth || r.Body["since"] != wantSince {
			t.Errorf("%s: status = %s, want %q health %v since %v", what, r, wantStatus, wantHealth, wantSince)
		}
	}

	// Nothing received yet: unknown, and NULL in shows.
	status("before any event", "unknown", nil, nil)
	if got := column(show.ID); got != "NULL" {
		t.Errorf("stream_status before any event = %s, want NULL (no default, no backfill)", got)
	}

	t0 := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	startEvent := ivsEventOf(testenv.NewID(t), streamstatus.DetailTypeState, "Stream Start", show.ChannelARN, t0)
	post("Stream Start", startEvent, 200, "applied")
	if got := column(show.ID); got != "live" {
		t.Errorf("stream_status after Stream Start = %s, want live", got)
	}
	if got := column(sibling.ID); got != "live" {
		t.Errorf("stream_status of another show on the channel = %s, want live", got)
	}
	r := call(t, http.MethodGet, svc.URL+statusPath+"?showId="+show.ID, token, "", nil)
	if r.Status != 200 || r.Body["status"] != "live" || r.Body["since"] != t0.Format(time.RFC3339) {
		t.Errorf("status after Stream Start = %s, want live since %s", r, t0.Format(time.RFC3339))
	}
	post("the same Stream Start again", startEvent, 200, "duplicate")
	post("a Stream End older than the start", ivsEventOf(testenv.NewID(t), streamstatus.DetailTypeState, "Stream End", show.ChannelARN, t0.Add(-10*time.Second)),
		200, "stale")
	if got := column(show.ID); got != "live" {
		t.Errorf("stream_status after a late, older Stream End = %s, want live", got)
	}

	post("Starvation Start", ivsEventOf(testenv.NewID(t), streamstatus.DetailTypeHealth, "Starvation Start", show.ChannelARN, t0.Add(5*time.Second)),
		200, "applied")
	status("starving", "live", "starving", t0.Format(time.RFC3339))
	post("Starvation End", ivsEventOf(testenv.NewID(t), streamstatus.DetailTypeHealth, "Starvation End", show.ChannelARN, t0.Add(6*time.Second)),
		200, "applied")
	status("recovered", "live", "healthy", t0.Format(time.RFC3339))

	end := t0.Add(20 * time.Second)
	post("Stream End", ivsEventOf(testenv.NewID(t), streamstatus.DetailTypeState, "Stream End", show.ChannelARN, end), 200, "applied")
	status("ended", "offline", nil, end.Format(time.RFC3339))
	if got := column(show.ID); got != "offline" {
		t.Errorf("stream_status after Stream End = %s, want offline", got)
	}

	// The other two ends: a new session that fails, then one that ends.
	restart := end.Add(10 * time.Second)
	post("Stream Start again", ivsEventOf(testenv.NewID(t), streamstatus.DetailTypeState, "Stream Start", show.ChannelARN, restart), 200, "applied")
	post("Stream Failure", ivsEventOf(testenv.NewID(t), streamstatus.DetailTypeState, "Stream Failure", show.ChannelARN, restart.Add(time.Second)),
		200, "applied")
	status("failed", "offline", nil, restart.Add(time.Second).Format(time.RFC3339))
	post("Stream Start after the failure", ivsEventOf(testenv.NewID(t), streamstatus.DetailTypeState, "Stream Start", show.ChannelARN, restart.Add(2*time.Second)),
		200, "applied")
	if got := column(show.ID); got != "live" {
		t.Errorf("stream_status after a new Stream Start = %s, want live", got)
	}
	end = restart.Add(3 * time.Second)
	post("Session Ended", ivsEventOf(testenv.NewID(t), streamstatus.DetailTypeState, "Session Ended", show.ChannelARN, end), 200, "applied")
	status("session ended", "offline", nil, end.Format(time.RFC3339))
	if got := column(show.ID); got != "offline" {
		t.Errorf("stream_status after Session Ended = %s, want offline", got)
	}

	// Taken and ignored: an unknown channel, another detail-type.
	post("unknown channel", ivsEventOf(testenv.NewID(t), streamstatus.DetailTypeState, "Stream Start",
		"arn:aws:ivs:us-east-1:123456789012:channel/unknownchan1", t0), 200, "unknown_channel")
	post("another detail-type", ivsEventOf(testenv.NewID(t), "IVS Recording State Change", "Recording Start", show.ChannelARN, end.Add(time.Second)),
		200, "irrelevant")

	// Refused: malformed (final), a bad token, too large. Never a 500.
	post("state change without a channel", ivsEventOf(testenv.NewID(t), streamstatus.DetailTypeState, "Stream Start", "", end.Add(time.Second)), 400, "")
	post("not a JSON object", `["aws.ivs"]`, 400, "")
	post("not JSON", `{"source":`, 400, "")
	if got := column(show.ID); got != "offline" {
		t.Errorf("stream_status after refused events = %s, want offline still", got)
	}
	wantError(t, "bad token", call(t, http.MethodPost, svc.URL+eventsPath, eventsToken+"x", startEvent, nil), 401, "Missing or invalid events token")
	wantError(t, "no token", call(t, http.MethodPost, svc.URL+eventsPath, "", startEvent, nil), 401, "Missing or invalid events token")
	wantError(t, "over 64 KiB", call(t, http.MethodPost, svc.URL+eventsPath, eventsToken,
		`{"pad":"`+strings.Repeat("a", 70<<10)+`"}`, nil), 413, "Request body too large")
	if strings.Contains(svc.logs.String(), eventsToken) {
		t.Error("the log holds the events token")
	}

	// The database down: 503 with Retry-After, so EventBridge retries.
	u, err := url.Parse(env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, pgtest.AdminURL(t), "DROP DATABASE "+strings.TrimPrefix(u.Path, "/")+" WITH (FORCE)")
	r = call(t, http.MethodPost, svc.URL+eventsPath, eventsToken,
		ivsEventOf(testenv.NewID(t), streamstatus.DetailTypeState, "Stream Start", show.ChannelARN, end.Add(time.Minute)), nil)
	wantError(t, "event with the database down", r, 503, "Service unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Error("event with the database down: no Retry-After")
	}
}

// An event a rule hands the Lambda function directly: applied by the same
// domain, with no token; malformed, dropped without a retry; the database
// down, retried.
func TestStreamEventByDirectLambdaInvocation(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)
	// As cmd/ivs-ingest's lambda wires it.
	h := lambdahttp.New(svc.app.Handler, nil, lambdahttp.WithEventBridge(svc.app.ReceiveEvent))
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	column := func() string {
		return queryStrings(t, env.DatabaseURL, `SELECT coalesce(stream_status, 'NULL') FROM public.shows WHERE id = '`+show.ID+`'`)[0]
	}
	t0 := time.Now().UTC().Truncate(time.Second)

	if _, err := h.Invoke(context.Background(), []byte(ivsEventOf(testenv.NewID(t), streamstatus.DetailTypeState, "Stream Start", show.ChannelARN, t0))); err != nil {
		t.Fatalf("Invoke(Stream Start) = %v", err)
	}
	if got := column(); got != "live" {
		t.Errorf("stream_status after a direct invocation = %s, want live", got)
	}
	if _, err := h.Invoke(context.Background(), []byte(ivsEventOf(testenv.NewID(t), streamstatus.DetailTypeState, "Stream End", "", t0.Add(time.Second)))); err != nil {
		t.Errorf("Invoke(malformed) = %v, want nil: Lambda must not retry bad input", err)
	}
	if got := column(); got != "live" {
		t.Errorf("stream_status after a malformed event = %s, want live still", got)
	}
	u, err := url.Parse(env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, pgtest.AdminURL(t), "DROP DATABASE "+strings.TrimPrefix(u.Path, "/")+" WITH (FORCE)")
	if _, err := h.Invoke(context.Background(), []byte(ivsEventOf(testenv.NewID(t), streamstatus.DetailTypeState, "Stream End", show.ChannelARN, t0.Add(2*time.Second)))); err == nil {
		t.Error("Invoke with the database down = nil, want an error (Lambda retries)")
	}
}
