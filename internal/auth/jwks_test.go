package auth_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/auth"
	"github.com/ivs-ingest/ivs-ingest/internal/auth/authtest"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// logBuffer collects a logger's output while the verifier's goroutine writes.
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

func newLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// waitFor polls cond every 20 ms until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settle waits for a fetch in progress to end, so that the next unknown kid
// asks for a fetch of its own instead of waiting for that one.
func settle(t *testing.T, v *auth.Verifier) {
	t.Helper()
	if err := v.Ready(t.Context()); err != nil {
		t.Fatalf("Ready() = %v, want nil", err)
	}
}

// refused reports whether Verify refuses token as signed by an unknown key.
func refused(t *testing.T, v *auth.Verifier, token string) bool {
	t.Helper()
	_, err := v.Verify(t.Context(), token)
	return errors.Is(err, auth.ErrInvalidToken) && strings.Contains(err.Error(), "unknown kid")
}

// emptyKeySets are answers that hold no key the verifier would use.
var emptyKeySets = []struct {
	name string
	body string
}{
	{"empty key set", `{"keys":[]}`},
	{"symmetric key only", `{"keys":[{"kty":"oct","kid":"h","alg":"HS256","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`},
	{"short RSA key only", `{"keys":[{"kty":"RSA","kid":"r","alg":"RS256","n":"` + strings.Repeat("A", 170) + `","e":"AQAB"}]}`},
	{"off-curve EC key only", `{"keys":[{"kty":"EC","kid":"e","crv":"P-256","x":"` + strings.Repeat("A", 43) + `","y":"` + strings.Repeat("A", 42) + `E"}]}`},
	{"unsupported key types only", `{"keys":[{"kty":"OKP","kid":"o","crv":"Ed25519","x":"AAAA"},{"kty":"EC","kid":"p","crv":"P-384","x":"AA","y":"AA"}]}`},
}

// An answer without a usable key, confirmed by the next successful answer,
// revokes every asymmetric key: the first keeps the old keys, a failed fetch
// in between confirms nothing, and the second drops them.
func TestVerifyDropsKeysWhenAnEmptyJWKSIsConfirmed(t *testing.T) {
	t.Parallel()
	for _, tt := range emptyKeySets {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			iss := authtest.NewIssuer(t)
			var logs logBuffer
			cfg := iss.Config()
			cfg.JWKSURL += "?apikey=sb_secret_TOPSECRET"
			cfg.RefetchInterval = time.Second // long enough that nothing else happens between two statements
			cfg.RefreshInterval = time.Hour
			cfg.Logger = newLogger(&logs)
			v := newVerifier(t, cfg)
			es, rs := iss.Token(t, userID, sessionID), iss.Token(t, userID, sessionID, authtest.WithAlg("RS256"))
			mustVerify(t, v, es, "ES256 before the revocation")
			settle(t, v)
			before := iss.Fetches()

			// The first answer: an unknown kid makes the verifier fetch it.
			iss.SetJWKS([]byte(tt.body))
			if !refused(t, v, iss.Token(t, userID, sessionID, authtest.WithKID("new"))) {
				t.Fatal("Verify(unknown kid) was not refused as an unknown kid")
			}
			// The fetches that follow fail until the endpoint is back.
			iss.SetDown(true)
			if got, want := iss.Fetches(), before+1; got != want {
				t.Fatalf("Fetches() after the first empty answer = %d, want %d", got, want)
			}
			mustVerify(t, v, es, "ES256 after one empty answer")
			mustVerify(t, v, rs, "RS256 after one empty answer")
			if got := v.KeyCount(); got != 2 {
				t.Errorf("KeyCount() after one empty answer = %d, want 2", got)
			}
			waitFor(t, "a failed fetch after the first empty answer", func() bool { return iss.Fetches() > before+1 })
			mustVerify(t, v, es, "ES256 after an empty answer and a failed fetch")

			// The confirmation, by the fetch the verifier schedules itself.
			iss.SetDown(false)
			waitFor(t, "ES256 refused after the empty answer is confirmed", func() bool { return refused(t, v, es) })
			if !refused(t, v, rs) {
				t.Error("Verify(RS256) after the confirmation was not refused as an unknown kid")
			}
			if got := v.KeyCount(); got != 0 {
				t.Errorf("KeyCount() after the confirmation = %d, want 0", got)
			}
			mustVerify(t, v, iss.Token(t, userID, sessionID, authtest.WithAlg("HS256")), "HS256 with the legacy secret after the revocation")

			out := logs.String()
			warn := strings.Index(out, `"level":"WARN","msg":"auth: jwks has no usable key; keeping the previous keys`)
			alert := strings.Index(out, `"level":"ERROR","msg":"auth: jwks has no usable key, confirmed twice; the previous keys are dropped and asymmetric tokens are now refused"`)
			if warn < 0 || alert < warn || strings.Count(out, `"level":"ERROR"`) != 1 {
				t.Errorf("logs = %s\nwant one WARN for the first empty answer, then one ERROR for the confirmation", out)
			}
			if !strings.Contains(out, `"url":"`+iss.JWKSURL()+`?[REDACTED]"`) || strings.Contains(out, "TOPSECRET") {
				t.Errorf("logs = %s\nwant the JWKS URL with its query redacted", out)
			}

			// A usable key set brings the keys back.
			iss.SetJWKS(nil)
			waitFor(t, "ES256 accepted again once the JWKS has keys", func() bool {
				_, err := v.Verify(t.Context(), es)
				return err == nil
			})
		})
	}
}

// A usable answer between two empty ones starts the count again.
func TestVerifyUsableJWKSResetsTheEmptyCount(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	cfg := iss.Config()
	cfg.RefetchInterval = time.Second // long enough that nothing else happens between two statements
	cfg.RefreshInterval = time.Hour
	v := newVerifier(t, cfg)
	es := iss.Token(t, userID, sessionID)
	mustVerify(t, v, es, "ES256 before")
	settle(t, v)
	before := iss.Fetches()

	iss.SetJWKS([]byte(`{"keys":[]}`))
	if !refused(t, v, iss.Token(t, userID, sessionID, authtest.WithKID("new-1"))) {
		t.Fatal("Verify(unknown kid) was not refused as an unknown kid")
	}
	iss.SetJWKS(nil) // the scheduled confirmation finds the keys again
	waitFor(t, "the fetch after the empty answer", func() bool { return iss.Fetches() >= before+2 })
	mustVerify(t, v, es, "ES256 after an empty and a usable answer")

	// Another empty answer is the first of a new count, not a confirmation.
	iss.SetJWKS([]byte(`{"keys":[]}`))
	time.Sleep(cfg.RefetchInterval) // the unknown-kid allowance is spent until then
	settle(t, v)
	if !refused(t, v, iss.Token(t, userID, sessionID, authtest.WithKID("new-2"))) {
		t.Fatal("Verify(second unknown kid) was not refused as an unknown kid")
	}
	iss.SetDown(true)
	if got, want := iss.Fetches(), before+3; got != want {
		t.Fatalf("Fetches() = %d, want %d (empty, usable, empty)", got, want)
	}
	mustVerify(t, v, es, "ES256 after empty, usable, empty")
	if got := v.KeyCount(); got != 2 {
		t.Errorf("KeyCount() = %d, want 2", got)
	}
}

// The background refresh follows the same rule without any request.
func TestVerifyBackgroundRefreshConfirmsAnEmptyJWKS(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	var logs logBuffer
	cfg := iss.Config()
	cfg.RefetchInterval = time.Hour // no unknown kid fetches anything here
	cfg.RefreshInterval = 100 * time.Millisecond
	cfg.Logger = newLogger(&logs)
	v := newVerifier(t, cfg)
	es := iss.Token(t, userID, sessionID)
	mustVerify(t, v, es, "ES256 before")
	before := iss.Fetches()

	iss.SetJWKS([]byte(`{"keys":[]}`))
	waitFor(t, "ES256 refused after background refreshes", func() bool { return v.KeyCount() == 0 })
	if got := iss.Fetches(); got < before+2 {
		t.Errorf("Fetches() when the keys were dropped = %d, want at least %d", got, before+2)
	}
	if !refused(t, v, es) {
		t.Error("Verify(ES256) after the confirmation was not refused as an unknown kid")
	}
	out := logs.String()
	if strings.Index(out, `"level":"WARN","msg":"auth: jwks has no usable key; keeping`) < 0 || !strings.Contains(out, `"level":"ERROR","msg":"auth: jwks has no usable key, confirmed twice`) {
		t.Errorf("logs = %s\nwant a WARN, then an ERROR", out)
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Neither Verify's error, which reaches the 503's request log line, nor any
// log line shows the JWKS URL's user info or query.
func TestJWKSFailuresHideTheURLsSecrets(t *testing.T) {
	t.Parallel()
	status500 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	t.Cleanup(status500.Close)
	hangs := authtest.NewIssuer(t)
	hangs.SetSlow(true)
	tests := []struct {
		name   string
		host   string
		client *http.Client
		cause  string
	}{
		{"unreachable", closedAddr(t), nil, "connection refused"},
		{"status 500", strings.TrimPrefix(status500.URL, "http://"), nil, "status 500"},
		{"timeout", strings.TrimPrefix(hangs.URL(), "http://"), &http.Client{Timeout: 200 * time.Millisecond}, "Client.Timeout exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			iss := authtest.NewIssuer(t)
			var logs logBuffer
			v := newVerifier(t, auth.Config{
				Issuer:      iss.IssuerURL(),
				JWKSURL:     "http://user:pw@" + tt.host + authtest.JWKSPath + "?apikey=sb_secret_TOPSECRET#frag",
				HS256Secret: secret.New(iss.HS256Secret()),
				HTTPClient:  tt.client,
				Logger:      newLogger(&logs),
			})
			_, err := v.Verify(t.Context(), iss.Token(t, userID, sessionID))
			if !errors.Is(err, auth.ErrUnavailable) || !strings.Contains(err.Error(), tt.cause) {
				t.Errorf("Verify(ES256) = %v, want %v saying %q", err, auth.ErrUnavailable, tt.cause)
			}
			v.Close()
			out := logs.String()
			if !strings.Contains(out, `"msg":"auth: jwks fetch failed"`) || !strings.Contains(out, `"url":"http://[REDACTED]@`+tt.host+authtest.JWKSPath+`?[REDACTED]#[REDACTED]"`) {
				t.Errorf("logs = %s\nwant the failed fetch logged with its URL redacted", out)
			}
			for _, s := range []string{"TOPSECRET", "apikey", "user", "pw@", ":pw", "***", "frag"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("Verify() error = %q, which shows %q", err, s)
				}
				if strings.Contains(out, s) {
					t.Errorf("logs show %q:\n%s", s, out)
				}
			}
		})
	}
}
