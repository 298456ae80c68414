package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ivs-ingest/ivs-ingest/internal/lambdahttp"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// auditedIP is the client_ip of the audit row of the request r answered.
func auditedIP(t *testing.T, env *testenv.Env, r response) string {
	t.Helper()
	return queryStrings(t, env.DatabaseURL, `SELECT coalesce(client_ip, '') FROM ivs_ingest.audit_log WHERE request_id = '`+
		r.Header.Get("X-Request-Id")+`'`)[0]
}

// xff is an X-Forwarded-For header.
func xff(v string) map[string]string { return map[string]string{"X-Forwarded-For": v} }

// From a peer that is not a trusted proxy, X-Forwarded-For is the client's
// to write and is ignored: the audit row, the log line and the per-IP limit
// all take the peer's address, so a client cannot hide behind made-up
// addresses nor walk through the per-IP limit with them.
func TestSpoofedForwardedForFromAnUntrustedPeerIsIgnored(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	// The test's client is 127.0.0.1; the trusted proxies are elsewhere.
	svc := start(t, env, map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8", "RATE_LIMIT_REQUESTS_PER_MINUTE_PER_IP": "1"})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)

	r := svc.get(t, token, show.ID, xff("198.51.100.1, 10.0.0.1"))
	wantKey(t, "request with a spoofed X-Forwarded-For", r)
	if got := auditedIP(t, env, r); got != "127.0.0.1" {
		t.Errorf("audit row client_ip = %q, want the peer 127.0.0.1", got)
	}
	wantError(t, "second request, claiming another address", svc.get(t, token, show.ID, xff("198.51.100.2")), 429, "Too many requests")
	logs := svc.logs.String()
	if !strings.Contains(logs, `"client_ip":"127.0.0.1"`) {
		t.Errorf("no log line has client_ip 127.0.0.1:\n%s", logs)
	}
	for _, spoofed := range []string{"198.51.100.1", "198.51.100.2"} {
		if strings.Contains(logs, spoofed) {
			t.Errorf("the log names the spoofed address %s", spoofed)
		}
	}
}

// Behind trusted proxies the client is the right-most address of
// X-Forwarded-For that is not one of them: it is in the audit row and the
// log line, and it is what the per-IP limit counts (an IPv6 client by /64).
func TestClientIPBehindTrustedProxies(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	// 127.0.0.1 is the load balancer the test's requests come through, and
	// 10.0.0.0/8 a CDN in front of it.
	svc := start(t, env, map[string]string{"TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8", "RATE_LIMIT_REQUESTS_PER_MINUTE_PER_IP": "1"})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)

	for _, tt := range []struct {
		name    string
		forward string
		status  int
		audited string // "" for no audit row (refused before the token)
	}{
		{"client behind two proxies, with a forged entry of its own", "192.0.2.66, 203.0.113.9, 10.0.0.5", 200, "203.0.113.9"},
		{"another client", "198.51.100.2", 200, "198.51.100.2"},
		{"the first client again, through the other proxy", "203.0.113.9", 429, ""},
		{"the first client posing as a trusted proxy", "10.9.9.9, 203.0.113.9", 429, ""},
		{"IPv6 client", "2001:db8:1:2::1", 200, "2001:db8:1:2::1"},
		{"another address of its /64", "2001:db8:1:2:ffff::7, 10.0.0.5", 429, ""},
		{"a header with garbage: the load balancer itself", "203.0.113.9, garbage", 200, "127.0.0.1"},
	} {
		r := svc.get(t, token, show.ID, xff(tt.forward))
		if r.Status != tt.status {
			t.Errorf("%s (X-Forwarded-For %q) = %s, want %d", tt.name, tt.forward, r, tt.status)
			continue
		}
		if tt.audited == "" {
			continue
		}
		if got := auditedIP(t, env, r); got != tt.audited {
			t.Errorf("%s (X-Forwarded-For %q): audit row client_ip = %q, want %q", tt.name, tt.forward, got, tt.audited)
		}
		if line := logLineOf(t, svc, r); !strings.Contains(line, `"client_ip":"`+tt.audited+`"`) {
			t.Errorf("%s: the log line does not say client_ip %s: %s", tt.name, tt.audited, line)
		}
	}
	if strings.Contains(svc.logs.String(), "192.0.2.66") {
		t.Error("the log names the address the client forged")
	}
}

// logLineOf returns the request log line of the request r answered.
func logLineOf(t *testing.T, svc *service, r response) string {
	t.Helper()
	id := r.Header.Get("X-Request-Id")
	for _, line := range strings.Split(svc.logs.String(), "\n") {
		if strings.Contains(line, `"msg":"request"`) && strings.Contains(line, `"request_id":"`+id+`"`) {
			return line
		}
	}
	t.Fatalf("no request log line for %s", id)
	return ""
}

// In AWS Lambda mode the client is the event's source IP, which AWS fills in
// from the connection: X-Forwarded-For is the client's, even when the source
// IP is in TRUSTED_PROXIES.
func TestLambdaClientIPIsTheSourceIP(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, map[string]string{"TRUSTED_PROXIES": "203.0.113.0/24"})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	h := lambdahttp.New(svc.app.Handler, nil)

	ev := &events.APIGatewayV2HTTPRequest{
		Version: "2.0",
		RawPath: path,
		Headers: map[string]string{
			"authorization":   "Bearer " + env.Token(t, owner),
			"content-type":    "application/json",
			"x-forwarded-for": "198.51.100.1, 203.0.113.50",
		},
		Body: `{"showId":"` + show.ID + `"}`,
	}
	ev.RequestContext.HTTP.Method = http.MethodPost
	ev.RequestContext.HTTP.SourceIP = "203.0.113.50"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := h.Serve(ctx, ev)
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		var body struct{ Error string }
		_ = json.Unmarshal([]byte(resp.Body), &body)
		t.Fatalf("Lambda get = %d %q, want 200", resp.StatusCode, body.Error)
	}
	r := response{Status: resp.StatusCode, Header: http.Header{"X-Request-Id": {resp.Headers["X-Request-Id"]}}}
	if got := auditedIP(t, env, r); got != "203.0.113.50" {
		t.Errorf("audit row client_ip = %q, want the event's source IP 203.0.113.50", got)
	}
}
