package auth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/auth"
	"github.com/ivs-ingest/ivs-ingest/internal/auth/authtest"
)

// The leeway is checked against the verifier's clock, to the second: the
// tokens' exp, iat and nbf are whole seconds of that clock.
func TestVerifyLeeway(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	now := time.Unix(time.Now().Unix(), 0)
	at := func(exp, iat, nbf time.Duration) string {
		claims := map[string]any{"exp": now.Add(exp).Unix(), "iat": now.Add(iat).Unix()}
		if nbf != 0 {
			claims["nbf"] = now.Add(nbf).Unix()
		}
		return iss.Token(t, userID, sessionID, authtest.WithClaims(claims))
	}
	const past = -time.Minute // an iat that no leeway is needed for
	tests := []struct {
		name   string
		leeway time.Duration // auth.Config.Leeway
		token  string
		reason string // "" when the token is accepted
	}{
		{"expired 4 s ago, default leeway", 0, at(-4*time.Second, past, 0), ""},
		{"expired 6 s ago, default leeway", 0, at(-6*time.Second, past, 0), "token expired"},
		{"expired 30 s ago, default leeway (the old 30 s)", 0, at(-30*time.Second, past, 0), "token expired"},
		{"issued 4 s ahead, default leeway", 0, at(time.Hour, 4*time.Second, 0), ""},
		{"issued 6 s ahead, default leeway", 0, at(time.Hour, 6*time.Second, 0), "token issued in the future"},
		{"valid from 4 s ahead, default leeway", 0, at(time.Hour, past, 4*time.Second), ""},
		{"valid from 6 s ahead, default leeway", 0, at(time.Hour, past, 6*time.Second), "token not valid yet"},
		{"expired 20 s ago, 30 s leeway", 30 * time.Second, at(-20*time.Second, past, 0), ""},
		{"expired 40 s ago, 30 s leeway", 30 * time.Second, at(-40*time.Second, past, 0), "token expired"},
		{"expires in 1 s, no leeway", auth.NoLeeway, at(time.Second, past, 0), ""},
		{"expired 1 s ago, no leeway", auth.NoLeeway, at(-time.Second, past, 0), "token expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := iss.Config()
			cfg.Leeway = tt.leeway
			cfg.Now = func() time.Time { return now }
			v := newVerifier(t, cfg)
			_, err := v.Verify(t.Context(), tt.token)
			switch {
			case tt.reason == "" && err != nil:
				t.Errorf("Verify(%s) = %v, want nil", tt.name, err)
			case tt.reason != "" && (!errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(err.Error(), tt.reason)):
				t.Errorf("Verify(%s) = %v, want %v: %s", tt.name, err, auth.ErrInvalidToken, tt.reason)
			}
		})
	}
}

// A key the auth server stops publishing stays accepted until the key set
// is fetched again: nothing asks for a fetch while every token's kid is
// known, so with a long refresh interval it is still accepted.
func TestVerifyRemovedKeyStaysAcceptedUntilTheNextFetch(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	cfg := iss.Config()
	cfg.RefreshInterval = time.Hour
	v := newVerifier(t, cfg)
	old := iss.Token(t, userID, sessionID)
	mustVerify(t, v, old, "token of the key about to be removed")
	settle(t, v)
	before := iss.Fetches()

	iss.Rotate(t)
	iss.RemoveOldestKey(t)
	mustVerify(t, v, old, "token of the removed key, before any fetch")
	if got := iss.Fetches(); got != before {
		t.Errorf("Fetches() = %d, want %d: nothing should have fetched the key set", got, before)
	}
}

// The background refresh, at JWKS_REFRESH_INTERVAL, is what drops a removed
// key when no token asks for a fetch: with a short interval (and no
// unknown-kid fetch allowed) the removed key's tokens are refused well
// within the 10 minutes of the default.
func TestVerifyRemovedKeyIsRefusedAfterTheRefreshInterval(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	cfg := iss.Config()
	cfg.RefetchInterval = time.Hour
	cfg.RefreshInterval = 100 * time.Millisecond
	v := newVerifier(t, cfg)
	old := iss.Token(t, userID, sessionID)
	mustVerify(t, v, old, "token of the key about to be removed")
	iss.Rotate(t)
	current := iss.Token(t, userID, sessionID)
	waitFor(t, "the rotated key loaded by a background refresh", func() bool {
		_, err := v.Verify(t.Context(), current)
		return err == nil
	})

	iss.RemoveOldestKey(t)
	waitFor(t, "the removed key refused after a background refresh", func() bool { return refused(t, v, old) })
	mustVerify(t, v, current, "token of the key still published")
	if got := v.KeyCount(); got != 2 {
		t.Errorf("KeyCount() = %d, want 2 (the current ES256 key and the RS256 key)", got)
	}
}

func TestDiscoveryURLs(t *testing.T) {
	t.Parallel()
	const (
		ref       = "https://ref.supabase.co"
		issuer    = ref + "/auth/v1"
		discovery = issuer + "/.well-known/openid-configuration"
		jwks      = issuer + "/.well-known/jwks.json"
	)
	tests := []struct {
		name                      string
		issuer, supabaseURL, jwks string
		want                      []string
	}{
		{"Supabase's defaults", issuer, ref, jwks, []string{discovery}},
		{"issuer with a trailing slash", issuer + "/", ref, jwks, []string{discovery}},
		{"issuer without /auth/v1", ref, ref, jwks, []string{ref + "/.well-known/openid-configuration", discovery}},
		{"issuer that is not a URL", "supabase", ref, jwks, []string{discovery}},
		{"self-hosted JWKS with an apikey", "https://auth.example/auth/v1", ref, "https://gw.example/auth/v1/.well-known/jwks.json?apikey=k",
			[]string{"https://auth.example/auth/v1/.well-known/openid-configuration", discovery, "https://gw.example/auth/v1/.well-known/openid-configuration?apikey=k"}},
		{"JWKS elsewhere than .well-known", issuer, ref, "https://keys.example/keys", []string{discovery}},
		{"no SUPABASE_URL", issuer, "", "", []string{discovery}},
	}
	for _, tt := range tests {
		got := auth.DiscoveryURLs(tt.issuer, tt.supabaseURL, tt.jwks)
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%s: DiscoveryURLs(%q, %q, %q) = %q, want %q", tt.name, tt.issuer, tt.supabaseURL, tt.jwks, got, tt.want)
		}
	}
}

func TestProbeIssuer(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	got, err := auth.ProbeIssuer(t.Context(), iss.URL()+authtest.DiscoveryPath, nil)
	if err != nil || got != iss.IssuerURL() {
		t.Errorf("ProbeIssuer(the issuer's document) = %q, %v, want %q", got, err, iss.IssuerURL())
	}
	iss.SetDiscoveryIssuer("https://other.example/auth/v1")
	if got, err := auth.ProbeIssuer(t.Context(), iss.URL()+authtest.DiscoveryPath, nil); err != nil || got != "https://other.example/auth/v1" {
		t.Errorf("ProbeIssuer(a document naming another issuer) = %q, %v, want it", got, err)
	}
	iss.SetDiscoveryIssuer("")
	if _, err := auth.ProbeIssuer(t.Context(), iss.URL()+authtest.DiscoveryPath, nil); !errors.Is(err, auth.ErrNoDiscovery) || !strings.Contains(err.Error(), "status 404") {
		t.Errorf("ProbeIssuer(no document) = %v, want %v: status 404", err, auth.ErrNoDiscovery)
	}

	bodies := map[string]string{
		"/html":      "<html>sign in</html>",
		"/array":     `["issuer"]`,
		"/no-issuer": `{"jwks_uri":"https://ref.supabase.co/auth/v1/.well-known/jwks.json"}`,
		"/empty":     `{"issuer":""}`,
		"/huge":      `{"issuer":"x","pad":"` + strings.Repeat("a", 70<<10) + `"}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(bodies[r.URL.Path]))
	}))
	t.Cleanup(srv.Close)
	for path, reason := range map[string]string{
		"/html": "not a JSON object", "/array": "not a JSON object", "/no-issuer": "no issuer", "/empty": "no issuer", "/huge": "too large",
	} {
		_, err := auth.ProbeIssuer(t.Context(), srv.URL+path+"?apikey=sb_secret_TOPSECRET", nil)
		if !errors.Is(err, auth.ErrNoDiscovery) || !strings.Contains(err.Error(), reason) {
			t.Errorf("ProbeIssuer(%s) = %v, want %v: %s", path, err, auth.ErrNoDiscovery, reason)
		}
	}

	addr := closedAddr(t)
	_, err = auth.ProbeIssuer(t.Context(), "http://user:pw@"+addr+"/x?apikey=sb_secret_TOPSECRET", nil)
	if err == nil || errors.Is(err, auth.ErrNoDiscovery) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("ProbeIssuer(nothing listening) = %v, want the connection's error", err)
	}
	if err != nil && (strings.Contains(err.Error(), "TOPSECRET") || strings.Contains(err.Error(), "pw")) {
		t.Errorf("ProbeIssuer's error %q shows the URL's secrets", err)
	}
}
