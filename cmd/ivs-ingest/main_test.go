package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// syncBuffer is an io.Writer safe for the server's concurrent log writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serving is `ivs-ingest serve` running in the test.
type serving struct {
	URL    string
	stderr *syncBuffer
	stop   context.CancelFunc // what SIGTERM does in main
	done   chan struct{}      // closed when run returns
	err    error              // run's result, once done is closed
}

// wait returns run's result, failing the test if it takes over 20s.
func (s *serving) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-s.done:
		return s.err
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not return within 20s")
		return nil
	}
}

// serve calls run("serve") as main would and waits until /healthz answers.
func serve(t *testing.T, getenv func(string) string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{stderr: &syncBuffer{}, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.err = run(ctx, []string{"serve"}, getenv, io.Discard, s.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop within 20s of cancellation")
		}
	})

	deadline := time.Now().Add(15 * time.Second)
	for s.URL == "" {
		select {
		case <-s.done:
			t.Fatalf("serve exited early: %v\n%s", s.err, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not log its address within 15s:\n%s", s.stderr.String())
		}
		s.URL = listenURL(s.stderr.String())
		time.Sleep(10 * time.Millisecond)
	}
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /healthz never answered 200: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// listenURL finds the address in the "listening" log line.
func listenURL(logs string) string {
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
			_, port, err := net.SplitHostPort(line.Addr)
			if err == nil {
				return "http://127.0.0.1:" + port
			}
		}
	}
	return ""
}

func post(t *testing.T, url, token, body string) (int, map[string]any) {
	t.Helper()
	status, m, err := tryPost(url, token, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, m
}

// tryPost asks for ingest details; safe to call from any goroutine.
func tryPost(url, token, body string) (int, map[string]any, error) {
	req, err := http.NewRequest(http.MethodPost, url+"/functions/v1/get-ivs-ingest", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, m, nil
}

func TestMigrateThenServe(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Supabase: true, Unmigrated: true})
	getenv := env.Getenv(nil)
	var stderr syncBuffer
	for i := range 2 { // idempotent
		if err := run(context.Background(), []string{"migrate"}, getenv, io.Discard, &stderr); err != nil {
			t.Fatalf("migrate run %d: %v\n%s", i+1, err, stderr.String())
		}
	}
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)

	s := serve(t, getenv)
	status, body := post(t, s.URL, env.Token(t, owner), `{"showId":"`+show.ID+`"}`)
	if status != http.StatusOK || !strings.HasPrefix(body["serverUrl"].(string), "rtmps://") {
		t.Fatalf("POST get-ivs-ingest = %d %v, want 200 with an rtmps:// serverUrl", status, body["error"])
	}
	resp, err := http.Get(s.URL + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz = %v, %v; want 200", resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}

	s.stop()
	if err := s.wait(t); err != nil {
		t.Errorf("serve returned %v after SIGTERM, want nil (exit 0)", err)
	}
}

// TestShutdownLetsInFlightRequestsFinish: SIGTERM while a slow first request
// (IVS answering slowly) is in flight: the request still gets its key, and
// serve returns nil.
func TestShutdownLetsInFlightRequestsFinish(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	s := serve(t, env.Getenv(nil))
	env.Emulator.SetLatency(300 * time.Millisecond) // GetChannel, List, Create: about a second

	env.Emulator.ResetCounts()

	type result struct {
		status int
		body   map[string]any
		err    error
	}
	res := make(chan result, 1)
	token := env.Token(t, owner)
	go func() {
		var r result
		r.status, r.body, r.err = tryPost(s.URL, token, `{"showId":"`+show.ID+`"}`)
		res <- r
	}()
	// Wait until IVS has seen the request, then "send SIGTERM".
	deadline := time.Now().Add(10 * time.Second)
	for env.Emulator.TotalCalls() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	s.stop()

	r := <-res
	if r.err != nil || r.status != http.StatusOK || r.body["streamKey"] == nil {
		t.Errorf("in-flight request across shutdown = %d %v %v, want 200 with a key", r.status, r.body["error"], r.err)
	}
	if err := s.wait(t); err != nil {
		t.Errorf("serve returned %v, want nil", err)
	}
	if _, err := http.Get(s.URL + "/healthz"); err == nil {
		t.Error("the server still accepts connections after shutdown")
	}
}

func TestConfigurationErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		"DATABASE_URL": "postgres://u:secretpw@127.0.0.1:1/db",
		"SUPABASE_URL": "https://abc.supabase.co",
	}
	tests := []struct {
		cmd  string
		env  map[string]string
		want string
	}{
		{"serve", map[string]string{"DATABASE_URL": ""}, "DATABASE_URL"},
		{"serve", map[string]string{"SUPABASE_URL": ""}, "SUPABASE_URL"},
		{"serve", map[string]string{"SUPABASE_URL": "abc.supabase.co"}, "SUPABASE_URL"},
		{"serve", map[string]string{"PORT": "http"}, "PORT"},
		{"serve", map[string]string{"PORT": "70000"}, "PORT"},
		{"serve", map[string]string{"LOG_LEVEL": "verbose"}, "LOG_LEVEL"},
		{"serve", map[string]string{"STREAM_KEY_CACHE_TTL": "forever"}, "STREAM_KEY_CACHE_TTL"},
		{"serve", map[string]string{"DATABASE_MAX_CONNS": "1"}, "DATABASE_MAX_CONNS"},
		{"serve", map[string]string{"AWS_ENDPOINT_URL_IVS": "localhost:4566"}, "AWS_ENDPOINT_URL_IVS"},
		{"serve", map[string]string{"AWS_ACCESS_KEY_ID": "AKIAONLY"}, "AWS_SECRET_ACCESS_KEY"},
		{"serve", map[string]string{"CORS_ALLOWED_ORIGINS": "shop.example"}, "CORS_ALLOWED_ORIGINS"},
		{"serve", map[string]string{"PPROF_ADDR": "0.0.0.0:6060"}, "PPROF_ADDR"},
		{"serve", map[string]string{"PPROF_ADDR": ":6060"}, "PPROF_ADDR"},
		{"migrate", map[string]string{"DATABASE_URL": ""}, "DATABASE_URL"},
	}
	for _, tt := range tests {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range tt.env {
			env[k] = v
		}
		err := run(context.Background(), []string{tt.cmd}, func(k string) string { return env[k] }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s with %v = %v, want an error naming %s", tt.cmd, tt.env, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "secretpw") {
			t.Errorf("%s with %v: the error carries the database password", tt.cmd, tt.env)
		}
	}
}

// serve --print-config prints config.Print's redacted lines (tested with
// every secret form in internal/config) and nothing else: no value reaches
// the output another way.
func TestPrintConfigIsConfigPrint(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"DATABASE_URL":         "postgres://app:dbpw@db.example:5432/postgres",
		"SUPABASE_URL":         "https://user:pw@abc.supabase.co",
		"SUPABASE_JWKS_URL":    "https://abc.supabase.co/auth/v1/.well-known/jwks.json?apikey=sb_secret_TOPSECRET",
		"AWS_ENDPOINT_URL_IVS": "http://user:pw@127.0.0.1:4566/?apikey=TOPSECRET",
	}
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	if err := run(context.Background(), []string{"serve", "--print-config"}, getenv, &out, io.Discard); err != nil {
		t.Fatalf("serve --print-config = %v", err)
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := cfg.Print(&want); err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() {
		t.Errorf("serve --print-config printed\n%s\nwant config.Print's\n%s", out.String(), want.String())
	}
	for _, s := range []string{"TOPSECRET", "dbpw", "pw@"} {
		if strings.Contains(out.String(), s) {
			t.Errorf("serve --print-config shows %q", s)
		}
	}
}

func TestUnreachableDatabaseErrorHasNoPassword(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"DATABASE_URL": "postgres://u:secretpw@127.0.0.1:1/db?connect_timeout=2",
		"SUPABASE_URL": "https://abc.supabase.co",
	}
	err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("serve against a closed port succeeded")
	}
	if strings.Contains(err.Error(), "secretpw") {
		t.Error("the connection error carries the database password")
	}
}

func TestCommands(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, func(string) string { return "" }, &out, io.Discard); err != nil || strings.TrimSpace(out.String()) == "" {
		t.Errorf("version = %q, %v; want a version and nil", out.String(), err)
	}
	for _, args := range [][]string{nil, {"launch"}, {"serve", "extra"}, {"migrate", "--bogus"}} {
		err := run(context.Background(), args, func(string) string { return "" }, io.Discard, io.Discard)
		if !errors.Is(err, errUsage) || exitCode(err) != 2 {
			t.Errorf("run(%q) = %v, want a usage error (exit 2)", args, err)
		}
	}
}
