package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/app"
	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/logging"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

const path = "/functions/v1/get-ivs-ingest"

// logBuffer collects the service's log output; safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// service is one running instance of ivs-ingest.
type service struct {
	URL  string
	logs *logBuffer
	app  *app.App
}

// start runs the service against env, configured exactly as `serve` would
// be from env.Getenv(overrides), with debug logs captured.
func start(t *testing.T, env *testenv.Env, overrides map[string]string) *service {
	t.Helper()
	cfg, err := config.Load(env.Getenv(overrides))
	if err == nil {
		err = cfg.RequireServe()
	}
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logs := &logBuffer{}
	logger := logging.New(logs, slog.LevelDebug)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.Open(ctx, cfg, logger)
	if err != nil {
		t.Fatalf("app.Open: %v", err)
	}
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return &service{URL: srv.URL, logs: logs, app: a}
}

// response is an answer with its JSON body decoded.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// String describes r for failure messages, with any stream key redacted:
// test output must not carry one.
func (r response) String() string {
	raw := strings.TrimSpace(r.Raw)
	for _, field := range []string{"srtUrl", "streamKey"} { // the SRT URL holds the key and a passphrase
		if v, ok := r.Body[field].(string); ok && v != "" {
			if b, err := json.Marshal(v); err == nil {
				raw = strings.ReplaceAll(raw, string(b[1:len(b)-1]), "[REDACTED]")
			}
			raw = strings.ReplaceAll(raw, v, "[REDACTED]")
		}
	}
	return fmt.Sprintf("%d %s", r.Status, raw)
}

// noRedirects shows redirects as they are: the API never answers with one.
var noRedirects = &http.Client{
	Timeout:       150 * time.Second, // above the service's own bound on a request (budget wait + 30s)
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// call sends a request; token "" sends no Authorization header.
func call(t *testing.T, method, url, token, body string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	r := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			t.Fatalf("decode %q: %v", raw, err)
		}
	}
	return r
}

func (s *service) get(t *testing.T, token, showID string, header map[string]string) response {
	t.Helper()
	return call(t, http.MethodPost, s.URL+path, token, `{"showId":"`+showID+`"}`, header)
}

// wantError checks an error answer's status and message.
func wantError(t *testing.T, what string, r response, status int, message string) {
	t.Helper()
	if r.Status != status || r.Body["error"] != message {
		t.Errorf("%s = %s, want %d {\"error\": %q}", what, r, status, message)
	}
}

// wantKey checks a success answer and returns its key.
func wantKey(t *testing.T, what string, r response) string {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s = %s, want 200", what, r)
	}
	key, _ := r.Body["streamKey"].(string)
	server, _ := r.Body["serverUrl"].(string)
	if !strings.HasPrefix(key, "sk_us-east-1_") {
		t.Errorf("%s: streamKey does not look like an IVS key (sk_us-east-1_...)", what)
	}
	if !strings.HasPrefix(server, "rtmps://") || !strings.HasSuffix(server, ".global-contribute.live-video.net:443/app/") {
		t.Errorf("%s: serverUrl = %q, want rtmps://<host>.global-contribute.live-video.net:443/app/", what, server)
	}
	if r.Body["ingestEndpoint"] != server {
		t.Errorf("%s: ingestEndpoint = %v, want the serverUrl %q", what, r.Body["ingestEndpoint"], server)
	}
	if r.Body["streamKeyHint"] != "Use this as your Stream Key in OBS or your streaming software" {
		t.Errorf("%s: streamKeyHint = %v", what, r.Body["streamKeyHint"])
	}
	if srt, ok := r.Body["srtUrl"].(string); ok {
		// The seed's four fields, plus the SRT URL when the channel has one.
		if !strings.HasPrefix(srt, "srt://") || !strings.Contains(srt, ".srt.live-video.net:9000?") ||
			!strings.Contains(srt, "streamid="+key) || !strings.Contains(srt, "passphrase=") {
			t.Errorf("%s: srtUrl is not srt://<endpoint>:9000?streamid=<key>&passphrase=<passphrase>", what)
		}
	}
	if n := len(r.Body); n != 4 && !(n == 5 && r.Body["srtUrl"] != nil) {
		t.Errorf("%s: body has %d fields, want the seed's 4 and srtUrl: %s", what, n, r)
	}
	return key
}

// queryStrings returns the text columns of the single row sql selects.
func queryStrings(t *testing.T, dbURL, sql string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("query %q returned no row", sql)
	}
	vals, err := rows.Values()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = fmt.Sprint(v)
	}
	return out
}

func newTestLogger(w io.Writer) *slog.Logger { return logging.New(w, slog.LevelDebug) }
