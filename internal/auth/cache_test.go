package auth_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/auth"
	"github.com/ivs-ingest/ivs-ingest/internal/auth/authtest"
)

// lookups counts what the verifier reports to its Metrics.
type lookups struct {
	mu               sync.Mutex
	hits, misses     int
	fetches, failing int
}

func (l *lookups) TokenCacheLookup(hit bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if hit {
		l.hits++
	} else {
		l.misses++
	}
}

func (l *lookups) JWKSFetched(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fetches++
	if err != nil {
		l.failing++
	}
}

func (l *lookups) counts() (hits, misses int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hits, l.misses
}

// steppedVerifier is a verifier whose clock stands at start, a whole second,
// until set moves it to start + d, with its key set loaded and its lookups
// counted.
func steppedVerifier(t *testing.T, iss *authtest.Issuer) (v *auth.Verifier, m *lookups, start time.Time, set func(d time.Duration)) {
	t.Helper()
	start = time.Unix(time.Now().Unix(), 0)
	var mu sync.Mutex
	now := start
	cfg := iss.Config()
	cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m = &lookups{}
	cfg.Metrics = m
	v = newVerifier(t, cfg)
	settle(t, v)
	return v, m, start, func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = start.Add(d) }
}

// A token verified once is taken from the cache the next time, with the same
// caller; the same claims under another signature are not.
func TestVerifyRemembersAVerifiedToken(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	for _, alg := range []string{"ES256", "RS256", "HS256"} {
		t.Run(alg, func(t *testing.T) {
			cfg := iss.Config()
			m := &lookups{}
			cfg.Metrics = m
			v := newVerifier(t, cfg)
			settle(t, v) // a token verified while the first key set loads is remembered under no key set
			token := iss.Token(t, userID, sessionID, authtest.WithAlg(alg),
				authtest.WithClaims(map[string]any{"aal": "aal2"}))
			first, err := v.Verify(t.Context(), token)
			if err != nil {
				t.Fatalf("first Verify: %v", err)
			}
			second, err := v.Verify(t.Context(), token)
			if err != nil {
				t.Fatalf("second Verify: %v", err)
			}
			if first != second || second.UserID != userID || second.SessionID != sessionID || second.AAL != "aal2" {
				t.Errorf("callers %+v then %+v, want user %s, session %s, aal2 both times", first, second, userID, sessionID)
			}
			if hits, misses := m.counts(); hits != 1 || misses != 1 {
				t.Errorf("cache hits %d, misses %d; want 1 and 1", hits, misses)
			}

			// The signature's middle character changed: the header and the
			// claims are those of the remembered token.
			head, sig, _ := strings.Cut(token[strings.IndexByte(token, '.')+1:], ".")
			mid := len(sig) / 2
			swapped := byte('A')
			if sig[mid] == 'A' {
				swapped = 'B'
			}
			forged := token[:strings.IndexByte(token, '.')+1] + head + "." + sig[:mid] + string(swapped) + sig[mid+1:]
			if _, err := v.Verify(t.Context(), forged); err == nil {
				t.Fatal("Verify(a remembered token with another signature) = nil, want an error")
			}
			mustVerify(t, v, token, "the remembered token, after the forgery")
		})
	}
}

// A remembered token is refused from the instant the verifier would refuse
// it uncached: its exp plus the leeway.
func TestVerifyForgetsAnExpiredToken(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	v, m, start, set := steppedVerifier(t, iss)

	token := iss.Token(t, userID, sessionID, authtest.WithClaims(map[string]any{
		"exp": start.Add(10 * time.Second).Unix(), "iat": start.Add(-time.Minute).Unix(),
	}))
	mustVerify(t, v, token, "a token 10 s before its exp")
	set(10*time.Second + auth.DefaultLeeway - time.Nanosecond)
	mustVerify(t, v, token, "the token within the leeway after its exp")
	if hits, _ := m.counts(); hits != 1 {
		t.Fatalf("cache hits %d, want 1: the second Verify should have been served from the cache", hits)
	}
	set(10*time.Second + auth.DefaultLeeway)
	_, err := v.Verify(t.Context(), token)
	if err == nil || !strings.Contains(err.Error(), "token expired") {
		t.Errorf("Verify(the token at exp + leeway) = %v, want token expired", err)
	}
}

// A clock stepped back before a remembered token's iat (less the leeway)
// refuses it, as a full check would; back within the leeway it is served
// from the cache again.
func TestVerifyRefusesARememberedTokenWhenTheClockStepsBack(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	v, m, start, set := steppedVerifier(t, iss)

	token := iss.Token(t, userID, sessionID, authtest.WithClaims(map[string]any{
		"iat": start.Unix(), "nbf": start.Add(-time.Minute).Unix(), "exp": start.Add(time.Hour).Unix(),
	}))
	mustVerify(t, v, token, "a token issued now")
	set(-auth.DefaultLeeway - time.Second)
	_, err := v.Verify(t.Context(), token)
	if err == nil || !strings.Contains(err.Error(), "token issued in the future") {
		t.Errorf("Verify(the remembered token, the clock back before iat - leeway) = %v, want token issued in the future", err)
	}
	set(-auth.DefaultLeeway)
	mustVerify(t, v, token, "the token, the clock back to iat - leeway")
	if hits, misses := m.counts(); hits != 1 || misses != 2 {
		t.Errorf("cache hits %d, misses %d; want 1 (the last Verify) and 2", hits, misses)
	}
}

// Any change of the key set empties the cache: a token of a key that is no
// longer published is refused at once, however recently it was verified.
func TestVerifyForgetsTokensWhenTheKeySetChanges(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	cfg := iss.Config()
	cfg.RefetchInterval = time.Hour
	cfg.RefreshInterval = 50 * time.Millisecond
	m := &lookups{}
	cfg.Metrics = m
	v := newVerifier(t, cfg)
	settle(t, v)
	old := iss.Token(t, userID, sessionID)
	mustVerify(t, v, old, "token of the key about to be removed")
	mustVerify(t, v, old, "the same token, remembered")
	if hits, _ := m.counts(); hits == 0 {
		t.Fatal("no cache hit: the test would prove nothing")
	}

	iss.Rotate(t)
	iss.RemoveOldestKey(t)
	// Unchanged answers of the refresh keep the entries: only a change
	// empties the cache.
	waitFor(t, "the removed key's token refused", func() bool { return refused(t, v, old) })
	current := iss.Token(t, userID, sessionID)
	mustVerify(t, v, current, "token of the new key")
	hits, _ := m.counts()
	time.Sleep(200 * time.Millisecond) // a few refreshes that change nothing
	mustVerify(t, v, current, "token of the new key, again")
	if got, _ := m.counts(); got != hits+1 {
		t.Errorf("cache hits %d after refreshes of an unchanged key set, want %d", got, hits+1)
	}
}

// With the cache off, every Verify checks the token in full and nothing is
// looked up.
func TestVerifyWithoutTokenCache(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	cfg := iss.Config()
	cfg.TokenCacheSize = auth.NoTokenCache
	m := &lookups{}
	cfg.Metrics = m
	v := newVerifier(t, cfg)
	token := iss.Token(t, userID, sessionID)
	mustVerify(t, v, token, "a token")
	mustVerify(t, v, token, "the same token")
	if hits, misses := m.counts(); hits != 0 || misses != 0 {
		t.Errorf("cache hits %d, misses %d with the cache off; want none", hits, misses)
	}
	cfg.TokenCacheSize = -2
	if _, err := auth.New(t.Context(), cfg); err == nil {
		t.Error("New(TokenCacheSize -2) = nil error, want one")
	}
}

// A key removed while a token signed with it is being checked (after its
// key was looked up, before the check ends) must not leave the token
// remembered as valid: the entry carries the key set's generation read
// before the check, so the next Verify checks the token in full and refuses
// it. The removal runs inside the verifier's clock, on the parser's call,
// which golang-jwt makes after the signature check.
func TestVerifyForgetsATokenWhenTheKeySetChangesMidCheck(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	cfg := iss.Config()
	cfg.RefreshInterval = 20 * time.Millisecond
	cfg.RefetchInterval = time.Hour
	m := &lookups{}
	cfg.Metrics = m
	var (
		mu    sync.Mutex
		calls int
		armed bool
	)
	fetches := func() int { m.mu.Lock(); defer m.mu.Unlock(); return m.fetches }
	cfg.Now = func() time.Time {
		mu.Lock()
		calls++
		fire := armed && calls == 2 // Verify's own call, then the parser's
		mu.Unlock()
		if fire {
			iss.Rotate(t)
			iss.RemoveOldestKey(t)
			// Two refreshes after the removal: the first may have been
			// under way before it.
			for n := fetches() + 2; fetches() < n; {
				time.Sleep(5 * time.Millisecond)
			}
		}
		return time.Now()
	}
	v := newVerifier(t, cfg)
	settle(t, v)
	old := iss.Token(t, userID, sessionID)

	mu.Lock()
	calls, armed = 0, true
	mu.Unlock()
	mustVerify(t, v, old, "the token whose key is removed during its check")
	mu.Lock()
	armed = false
	if calls != 3 {
		t.Fatalf("the verifier asked its clock %d times during Verify, want 3 (the cache, the parser, the cache): "+
			"the removal did not run where this test means it to", calls)
	}
	mu.Unlock()
	if !refused(t, v, old) {
		t.Error("Verify(a token of the removed key) after the removal = accepted, want unknown kid: it was remembered under the new key set")
	}
}
