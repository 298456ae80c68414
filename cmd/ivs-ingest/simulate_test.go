package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/demo"
	"github.com/ivs-ingest/ivs-ingest/internal/ivs"
	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
)

// simulate runs `ivs-ingest simulate-stream` against dir with env.
func simulate(dir string, env map[string]string, args ...string) (string, error) {
	var out strings.Builder
	err := run(context.Background(), append([]string{"simulate-stream", "--data", dir}, args...),
		func(k string) string { return env[k] }, &out, io.Discard)
	return out.String(), err
}

// eventRecorder stands in for the events route's receiving end: it keeps
// what each delivery carried.
type eventRecorder struct {
	mu     sync.Mutex
	events []map[string]any
	auth   []string
}

func (r *eventRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var ev map[string]any
	if req.Method != http.MethodPost || req.URL.Path != eventsPath || json.NewDecoder(req.Body).Decode(&ev) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	w.WriteHeader(http.StatusAccepted)
}

func (r *eventRecorder) take() ([]map[string]any, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev, auth := r.events, r.auth
	r.events, r.auth = nil, nil
	return ev, auth
}

var eventIDRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// simulate-stream plays each action on dev's emulator, through its control
// endpoint (GetStream and ListStreams then tell it, through the real SDK
// client), and delivers the matching EventBridge event with dev's events
// token. The events go to a recorder here, put in dev-endpoints.json in
// place of dev's base URL, so that their shape is checked whole; the
// route's handling of them is the events route's own tests'.
func TestSimulateStreamPlaysABroadcast(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	d := startDev(t, dir, nil)

	// dev made its events token and its endpoints file, both 0600.
	for _, name := range []string{eventsTokenFile, endpointsFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v; want it, 0600", name, err, fi)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, eventsTokenFile))
	token := strings.TrimSpace(string(raw))
	if len(token) < 32 {
		t.Errorf("dev's events token has %d characters, want at least 32", len(token))
	}
	ep, err := readDevEndpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ep.BaseURL != d.data.BaseURL || !strings.HasSuffix(ep.ControlURL, controlPath) || len(ep.ControlToken) < 32 {
		t.Fatalf("dev-endpoints.json = %+v; want dev's base URL %s, a control URL and token", ep, d.data.BaseURL)
	}
	if !strings.Contains(d.stdout.String(), "simulate-stream --data "+dir+" --show ") {
		t.Errorf("the banner says nothing of simulate-stream:\n%s", d.stdout.String())
	}

	rec := &eventRecorder{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	redirected := ep
	redirected.BaseURL = srv.URL
	if err := writeDevEndpoints(dir, redirected); err != nil {
		t.Fatal(err)
	}

	approved := mustRole(t, d.data, demo.RoleApprovedSeller)
	show, _ := d.data.ShowOf(*approved.SellerID, true)
	bare, _ := d.data.ShowOf(*approved.SellerID, false)

	// The real SDK client, through the adapter, on dev's emulator.
	endpoint := strings.TrimSuffix(ep.ControlURL, controlPath)
	var client *ivs.Client
	var channelARN string

	steps := []struct {
		action, detailType, eventName string
		kind                          streamstatus.Kind
		live                          bool
		health                        streamstatus.Health
	}{
		{"start", "IVS Stream State Change", "Stream Start", streamstatus.KindStreamStart, true, streamstatus.Healthy},
		{"starve", "IVS Stream Health Change", "Starvation Start", streamstatus.KindStarvationStart, true, streamstatus.Starving},
		{"recover", "IVS Stream Health Change", "Starvation End", streamstatus.KindStarvationEnd, true, streamstatus.Healthy},
		{"end", "IVS Stream State Change", "Stream End", streamstatus.KindStreamEnd, false, ""},
	}
	var streamID string
	for i, st := range steps {
		args := []string{"--show", show.ID, st.action}
		if i%2 == 1 {
			args = []string{st.action, "--show", show.ID} // the action may come first
		}
		out, err := simulate(dir, nil, args...)
		if err != nil {
			t.Fatalf("simulate-stream %s = %v", st.action, err)
		}
		events, auth := rec.take()
		if len(events) != 1 {
			t.Fatalf("simulate-stream %s delivered %d events, want 1", st.action, len(events))
		}
		ev := events[0]
		if auth[0] != "Bearer "+token {
			t.Errorf("simulate-stream %s delivered with Authorization %q..., want dev's events token", st.action, auth[0][:min(len(auth[0]), 12)])
		}
		resources, _ := ev["resources"].([]any)
		if len(resources) != 1 {
			t.Fatalf("event resources = %v, want the channel's ARN", ev["resources"])
		}
		if channelARN == "" {
			channelARN = resources[0].(string)
			region, ok := ivs.RegionOf(channelARN)
			if !ok {
				t.Fatalf("event resources[0] = %q, not a channel ARN", channelARN)
			}
			if client, err = ivs.New(context.Background(), ivs.Config{Region: region, Endpoint: endpoint,
				AccessKeyID: "AKIAIVSINGESTDEV0000", SecretAccessKey: emulatorSecret}); err != nil {
				t.Fatal(err)
			}
		}
		detail, _ := ev["detail"].(map[string]any)
		at, terr := time.Parse(time.RFC3339, ev["time"].(string))
		if ev["source"] != "aws.ivs" || ev["detail-type"] != st.detailType || detail["event_name"] != st.eventName ||
			resources[0] != channelARN || !eventIDRe.MatchString(ev["id"].(string)) || ev["version"] != "0" ||
			terr != nil || at.Nanosecond() != 0 || time.Since(at) > time.Minute || ev["account"] == "" || ev["region"] == "" {
			t.Errorf("simulate-stream %s delivered %v; want source aws.ivs, %s / %s on %s, a UUID id, a time in RFC 3339 seconds",
				st.action, ev, st.detailType, st.eventName, channelARN)
		}
		// The service reads it as the kind it is.
		raw, _ := json.Marshal(ev)
		if parsed, err := streamstatus.ParseEvent(raw); err != nil || parsed.Kind != st.kind || parsed.ChannelARN != channelARN {
			t.Errorf("streamstatus.ParseEvent(simulate-stream %s's event) = %+v, %v; want %s on %s", st.action, parsed, err, st.kind, channelARN)
		}
		if !strings.Contains(out, channelARN) || !strings.Contains(out, st.eventName) {
			t.Errorf("simulate-stream %s printed %q; want the channel and the event", st.action, out)
		}

		// The emulator tells the same story.
		streams, err := client.LiveStreams(context.Background(), "")
		if err != nil {
			t.Fatalf("LiveStreams = %v", err)
		}
		live, err := client.Live(context.Background(), channelARN)
		if err != nil || live != st.live || len(streams) != map[bool]int{true: 1, false: 0}[st.live] {
			t.Fatalf("after %s: Live = %v, %v, ListStreams %+v; want live %v", st.action, live, err, streams, st.live)
		}
		if st.live {
			if streams[0].ChannelARN != channelARN || streams[0].Health != st.health {
				t.Errorf("after %s: ListStreams = %+v, want %s %s", st.action, streams[0], channelARN, st.health)
			}
			if streamID == "" {
				streamID = streams[0].StreamID
			}
			if streams[0].StreamID != streamID {
				t.Errorf("after %s: stream %s, want the started stream %s", st.action, streams[0].StreamID, streamID)
			}
		}
		// The event names the stream: the one that started, starved, ended.
		if detail["stream_id"] != streamID {
			t.Errorf("simulate-stream %s: stream_id %v, want %s", st.action, detail["stream_id"], streamID)
		}
	}

	// Refusals: each says why, and delivers nothing.
	for _, c := range []struct {
		what string
		env  map[string]string
		args []string
		want string
	}{
		{"starve while offline", nil, []string{"--show", show.ID, "starve"}, "not live"},
		{"a show without a channel", nil, []string{"--show", bare.ID, "start"}, "has no IVS channel"},
		{"an unknown show", nil, []string{"--show", "0a000000-0000-4000-8000-00000000abcd", "start"}, "no show"},
	} {
		if _, err := simulate(dir, c.env, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("simulate-stream on %s = %v, want an error saying %q", c.what, err, c.want)
		}
	}
	for _, args := range [][]string{
		{"--show", show.ID},
		{"--show", show.ID, "pause"},
		{"--show", "not-a-uuid", "start"},
		{"start"},
		{"--show", show.ID, "start", "end"},
	} {
		if _, err := simulate(dir, nil, args...); exitCode(err) != 2 {
			t.Errorf("simulate-stream %q = %v, want a usage error", args, err)
		}
	}
	bad := redirected
	bad.ControlToken = "not-the-token"
	if err := writeDevEndpoints(dir, bad); err != nil {
		t.Fatal(err)
	}
	if _, err := simulate(dir, nil, "--show", show.ID, "start"); err == nil || !strings.Contains(err.Error(), "bad control token") {
		t.Errorf("simulate-stream with a wrong control token = %v, want it refused", err)
	}
	if events, _ := rec.take(); len(events) != 0 {
		t.Errorf("refused simulations delivered %d events, want none", len(events))
	}

	// Once dev stops, its endpoints file goes, and simulate-stream says dev
	// is not running.
	if err := writeDevEndpoints(dir, ep); err != nil {
		t.Fatal(err)
	}
	d.halt(t)
	if _, err := os.Stat(filepath.Join(dir, endpointsFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after dev stopped, %s: %v; want it gone", endpointsFile, err)
	}
	if _, err := simulate(dir, nil, "--show", show.ID, "start"); !errors.Is(err, errDevNotRunning) || !strings.Contains(err.Error(), "ivs-ingest dev --data") {
		t.Errorf("simulate-stream with dev stopped = %v, want %v saying how to start it", err, errDevNotRunning)
	}
	// A file left by a dev that died: nothing answers at its URLs (a port
	// closed just now: dev's own may be another test's by now).
	stale := ep
	stale.ControlURL = "http://" + closedAddr(t) + controlPath
	if err := writeDevEndpoints(dir, stale); err != nil {
		t.Fatal(err)
	}
	if _, err := simulate(dir, nil, "--show", show.ID, "start"); !errors.Is(err, errDevNotRunning) {
		t.Errorf("simulate-stream with a stale %s = %v, want %v", endpointsFile, err, errDevNotRunning)
	}
}

// Through dev's own routes: each event simulate-stream delivers is taken by
// POST /functions/v1/ivs-events, and GET /functions/v1/ivs-stream-status
// follows the broadcast: not live, live and healthy, starving, healthy,
// offline, live again.
func TestSimulateStreamThroughDev(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	d := startDev(t, dir, nil)
	approved := mustRole(t, d.data, demo.RoleApprovedSeller)
	show, _ := d.data.ShowOf(*approved.SellerID, true)

	status := func() (state string, health any) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, d.data.BaseURL+"/functions/v1/ivs-stream-status?showId="+show.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+approved.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET ivs-stream-status = %d, %v %v; want 200", resp.StatusCode, body, err)
		}
		s, _ := body["status"].(string)
		return s, body["health"]
	}
	// unknown until dev's first reconciliation (at start) finds the channel
	// offline.
	if s, h := status(); (s != "unknown" && s != "offline") || h != nil {
		t.Fatalf("before any event: status %q, health %v; want unknown or offline, null", s, h)
	}
	for _, st := range []struct {
		action, status string
		health         any
	}{
		{"start", "live", "healthy"},
		{"starve", "live", "starving"},
		{"recover", "live", "healthy"},
		{"end", "offline", nil},
		{"start", "live", "healthy"}, // a new stream, in the same second as the end: applied, another event
	} {
		out, err := simulate(dir, nil, "--show", show.ID, st.action)
		if err != nil {
			t.Fatalf("simulate-stream %s = %v", st.action, err)
		}
		if !strings.Contains(out, "delivered") {
			t.Errorf("simulate-stream %s printed %q; want it to say the event was delivered", st.action, out)
		}
		if s, h := status(); s != st.status || h != st.health {
			t.Errorf("after %s: status %q, health %v; want %q, %v", st.action, s, h, st.status, st.health)
		}
	}

	// A wrong events token is refused by the route, and said so.
	env := map[string]string{"IVS_EVENTS_TOKEN": "not-the-token-dev-runs-with-0123456789"}
	if _, err := simulate(dir, env, "--show", show.ID, "end"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("simulate-stream with another events token = %v, want the route's 401, explained", err)
	}
	if s, _ := status(); s != "live" {
		t.Errorf("after a refused end: status %q, want live still", s)
	}
}

// dev keeps its events token across runs, and takes IVS_EVENTS_TOKEN (by
// value or file) instead when given, writing none of its own.
func TestDevEventsToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	getenv, save, err := withEventsToken(func(string) string { return "" }, dir)
	if err != nil {
		t.Fatal(err)
	}
	first := getenv("IVS_EVENTS_TOKEN")
	if _, err := os.Stat(filepath.Join(dir, eventsTokenFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s before save: %v; want none yet", eventsTokenFile, err)
	}
	if err := save(); err != nil {
		t.Fatal(err)
	}
	again, _, err := withEventsToken(func(string) string { return "" }, dir)
	if err != nil || len(first) < 32 || again("IVS_EVENTS_TOKEN") != first {
		t.Errorf("dev's events token: %d characters, then %v; want at least 32, kept", len(first), err)
	}
	if got := getenv("AWS_REGION"); got != "" {
		t.Errorf("the wrapped getenv changed another variable: %q", got)
	}
	for _, name := range []string{"IVS_EVENTS_TOKEN", "IVS_EVENTS_TOKEN_FILE"} {
		other := t.TempDir()
		env := map[string]string{name: "given-by-the-operator-0123456789abcdef"}
		getenv, save, err := withEventsToken(func(k string) string { return env[k] }, other)
		if err != nil || getenv("IVS_EVENTS_TOKEN") != env["IVS_EVENTS_TOKEN"] || save() != nil {
			t.Errorf("with %s set: IVS_EVENTS_TOKEN = %q, %v; want the environment's", name, getenv("IVS_EVENTS_TOKEN"), err)
		}
		if _, err := os.Stat(filepath.Join(other, eventsTokenFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("with %s set, dev wrote %s (%v); want none", name, eventsTokenFile, err)
		}
	}
	// simulate-stream takes the environment's token over dev's file.
	env := map[string]string{"IVS_EVENTS_TOKEN": "from-the-environment-0123456789abcdef"}
	if tok, err := simulateEventsToken(func(k string) string { return env[k] }, dir); err != nil || tok.Reveal() != env["IVS_EVENTS_TOKEN"] {
		t.Errorf("simulateEventsToken with IVS_EVENTS_TOKEN set = %v; want the environment's", err)
	}
	if tok, err := simulateEventsToken(func(string) string { return "" }, dir); err != nil || tok.Reveal() != first {
		t.Errorf("simulateEventsToken = %v; want dev's", err)
	}
	if _, err := simulateEventsToken(func(string) string { return "" }, t.TempDir()); err == nil {
		t.Error("simulateEventsToken without a token anywhere = nil error, want one")
	}
}

// simulate-stream against a dev run with --real-aws has no emulator to play
// on, and says so.
func TestSimulateStreamNeedsTheEmulator(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := writeDevEndpoints(dir, devEndpoints{BaseURL: "http://" + closedAddr(t)}); err != nil {
		t.Fatal(err)
	}
	if _, err := simulate(dir, nil, "--show", "0a000000-0000-4000-8000-000000000001", "start"); err == nil || !strings.Contains(err.Error(), "--real-aws") {
		t.Errorf("simulate-stream without an emulator = %v, want an error naming --real-aws", err)
	}
}

// closedAddr is a loopback address on which nothing listens (it was free a
// moment ago).
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
