// Package authtest provides a real Supabase-style token issuer for tests: it
// signs access tokens with its own keys and serves their public halves as a
// JWKS over httptest, so code under test runs the production verifier
// against a real HTTP endpoint.
package authtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/auth"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// JWKSPath is where the issuer serves its key set, as Supabase Auth does.
const JWKSPath = "/auth/v1/.well-known/jwks.json"

// DiscoveryPath is where the issuer serves its OpenID discovery document,
// as Supabase Auth does.
const DiscoveryPath = "/auth/v1/.well-known/openid-configuration"

// Issuer signs tokens the way Supabase Auth does and publishes its public
// keys. It is safe for concurrent use.
type Issuer struct {
	srv     *httptest.Server
	secret  string
	rsa     signingKey
	closing chan struct{}

	mu       sync.Mutex
	ec       []signingKey // every published ES256 key; the last one signs
	down     bool
	slow     bool
	override []byte
	fetches  int
	// published is the issuer the discovery document names; "" for no
	// document.
	published string
}

type signingKey struct {
	kid  string
	priv crypto.Signer
}

// NewIssuer starts an issuer with one ES256 key, one RS256 key (both
// published) and a random HS256 secret. Its server is closed when the test
// ends.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate ES256 key: %v", err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("generate RS256 key: %v", err)
	}
	i := &Issuer{
		secret:  randomHex(t, 32),
		ec:      []signingKey{{kid: randomHex(t, 8), priv: ecKey}},
		rsa:     signingKey{kid: randomHex(t, 8), priv: rsaKey},
		closing: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+JWKSPath, i.serveJWKS)
	mux.HandleFunc("GET "+DiscoveryPath, i.serveDiscovery)
	i.srv = httptest.NewServer(mux)
	i.published = i.IssuerURL()
	t.Cleanup(func() {
		close(i.closing) // releases handlers hung by SetSlow
		i.srv.Close()
	})
	return i
}

// URL is the base URL of the issuer's server, the equivalent of SUPABASE_URL.
func (i *Issuer) URL() string { return i.srv.URL }

// IssuerURL is the value of the iss claim in the issuer's tokens.
func (i *Issuer) IssuerURL() string { return i.srv.URL + "/auth/v1" }

// JWKSURL is where the issuer publishes its public keys.
func (i *Issuer) JWKSURL() string { return i.srv.URL + JWKSPath }

// HS256Secret is the legacy shared secret the issuer signs HS256 tokens with.
func (i *Issuer) HS256Secret() string { return i.secret }

// Config is an auth.Config that trusts this issuer: its JWKS and its HS256
// secret.
func (i *Issuer) Config() auth.Config {
	return auth.Config{
		Issuer:      i.IssuerURL(),
		JWKSURL:     i.JWKSURL(),
		HS256Secret: secret.New(i.secret),
	}
}

// Option changes a token made by Token.
type Option func(*tokenOptions)

type tokenOptions struct {
	alg      string
	kid      *string
	expiry   time.Duration
	claims   map[string]any
	header   map[string]any
	method   jwt.SigningMethod
	key      any
	explicit bool
}

// WithAlg signs with the issuer's key for alg: "ES256" (the default),
// "RS256" or "HS256" (the legacy secret, no kid).
func WithAlg(alg string) Option { return func(o *tokenOptions) { o.alg = alg } }

// WithKID sets the kid header; "" removes it.
func WithKID(kid string) Option { return func(o *tokenOptions) { o.kid = &kid } }

// WithExpiry sets exp to now+d; a negative d makes an expired token.
func WithExpiry(d time.Duration) Option { return func(o *tokenOptions) { o.expiry = d } }

// WithClaims overrides claims; a nil value deletes the claim.
func WithClaims(claims map[string]any) Option {
	return func(o *tokenOptions) {
		for k, v := range claims {
			o.claims[k] = v
		}
	}
}

// WithAAL sets the aal claim (Supabase's "aal1" or "aal2"); "" removes it.
// Tokens say "aal1" unless told otherwise, as after a password sign-in.
func WithAAL(aal string) Option {
	return func(o *tokenOptions) {
		if aal == "" {
			delete(o.claims, "aal")
			return
		}
		o.claims["aal"] = aal
	}
}

// WithHeader overrides header fields after signing-method defaults are set,
// e.g. an "alg" that lies about the signature; a nil value deletes the field.
func WithHeader(header map[string]any) Option {
	return func(o *tokenOptions) {
		for k, v := range header {
			o.header[k] = v
		}
	}
}

// WithKey signs with method and key instead of the issuer's keys, for
// forged tokens: jwt.SigningMethodNone with jwt.UnsafeAllowNoneSignatureType,
// HS256 keyed with a public key, a foreign ES256 key. The kid header stays
// the issuer's current ES256 kid unless WithKID is given.
func WithKey(method jwt.SigningMethod, key any) Option {
	return func(o *tokenOptions) { o.method, o.key, o.explicit = method, key, true }
}

// Token returns an access token for userID with Supabase's claims, signed
// with the issuer's current ES256 key and valid for an hour. An empty
// sessionID leaves out the session_id claim.
func (i *Issuer) Token(t testing.TB, userID, sessionID string, opts ...Option) string {
	t.Helper()
	now := time.Now()
	o := tokenOptions{
		alg:    "ES256",
		expiry: time.Hour,
		header: map[string]any{},
		claims: map[string]any{
			"iss":  i.IssuerURL(),
			"aud":  "authenticated",
			"sub":  userID,
			"role": "authenticated",
			"iat":  now.Unix(),
			"aal":  "aal1",
			"amr": []map[string]any{
				{"method": "password", "timestamp": now.Unix()},
			},
			"email":         "user@example.com",
			"phone":         "",
			"is_anonymous":  false,
			"app_metadata":  map[string]any{"provider": "email", "providers": []string{"email"}},
			"user_metadata": map[string]any{},
		},
	}
	if sessionID != "" {
		o.claims["session_id"] = sessionID
	}
	for _, opt := range opts {
		opt(&o)
	}
	if _, ok := o.claims["exp"]; !ok {
		o.claims["exp"] = now.Add(o.expiry).Unix()
	}

	i.mu.Lock()
	current := i.ec[len(i.ec)-1]
	i.mu.Unlock()
	method, key, kid := o.method, o.key, current.kid
	if !o.explicit {
		switch o.alg {
		case "ES256":
			method, key = jwt.SigningMethodES256, current.priv
		case "RS256":
			method, key, kid = jwt.SigningMethodRS256, i.rsa.priv, i.rsa.kid
		case "HS256":
			method, key, kid = jwt.SigningMethodHS256, []byte(i.secret), ""
		default:
			t.Fatalf("authtest: WithAlg(%q): want ES256, RS256 or HS256 (use WithKey for others)", o.alg)
		}
	}
	if o.kid != nil {
		kid = *o.kid
	}
	return sign(t, method, key, kid, o.header, o.claims)
}

// LegacyAPIKey returns the project's legacy anon or service_role key for
// role: an HS256 JWT signed with the issuer's secret that carries
// iss "supabase" and no sub or aud. It is not a user credential.
func (i *Issuer) LegacyAPIKey(t testing.TB, role string) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{
		"iss":  "supabase",
		"ref":  "abcdefghijklmnopqrst",
		"role": role,
		"iat":  now.Unix(),
		"exp":  now.AddDate(10, 0, 0).Unix(),
	}
	return sign(t, jwt.SigningMethodHS256, []byte(i.secret), "", nil, claims)
}

func sign(t testing.TB, method jwt.SigningMethod, key any, kid string, header, claims map[string]any) string {
	t.Helper()
	mc := jwt.MapClaims{}
	for k, v := range claims {
		if v != nil {
			mc[k] = v
		}
	}
	tok := jwt.NewWithClaims(method, mc)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("authtest: sign %s token: %v", method.Alg(), err)
	}
	return s
}

// Rotate publishes a new ES256 key and signs later ES256 tokens with it; the
// previous keys stay published, as during a Supabase key rotation.
func (i *Issuer) Rotate(t testing.TB) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate ES256 key: %v", err)
	}
	kid := randomHex(t, 8)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.ec = append(i.ec, signingKey{kid: kid, priv: k})
}

// RemoveOldestKey stops publishing the oldest ES256 key, as the end of a
// Supabase key rotation (or the revocation of a leaked key) does; tokens it
// signed stay as they are. At least one ES256 key stays published.
func (i *Issuer) RemoveOldestKey(t testing.TB) {
	t.Helper()
	i.mu.Lock()
	defer i.mu.Unlock()
	if len(i.ec) < 2 {
		t.Fatal("authtest: RemoveOldestKey needs a Rotate first: the signing key stays published")
	}
	i.ec = i.ec[1:]
}

// SetDiscoveryIssuer makes the discovery document publish iss as the
// issuer (IssuerURL by default); "" makes its endpoint answer 404, as
// Supabase Auth did before it served one.
func (i *Issuer) SetDiscoveryIssuer(iss string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.published = iss
}

// SetDown makes the JWKS endpoint answer 503 while down is true.
func (i *Issuer) SetDown(down bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.down = down
}

// SetSlow makes the JWKS endpoint hang, until the client gives up, while slow
// is true.
func (i *Issuer) SetSlow(slow bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.slow = slow
}

// SetJWKS makes the JWKS endpoint answer 200 with body verbatim instead of
// the published key set; nil restores the key set.
func (i *Issuer) SetJWKS(body []byte) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.override = body
}

// Fetches reports how many requests the JWKS endpoint has received,
// including failed ones.
func (i *Issuer) Fetches() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.fetches
}

// JWKS returns the key set document the issuer publishes.
func (i *Issuer) JWKS(t testing.TB) []byte {
	t.Helper()
	i.mu.Lock()
	defer i.mu.Unlock()
	b, err := i.jwksLocked()
	if err != nil {
		t.Fatalf("authtest: encode JWKS: %v", err)
	}
	return b
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	i.fetches++
	down, slow, override := i.down, i.slow, i.override
	body, err := i.jwksLocked()
	i.mu.Unlock()

	switch {
	case slow:
		select {
		case <-r.Context().Done():
		case <-i.closing:
		}
		return
	case down:
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	case override != nil:
		body = override
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=600")
	_, _ = w.Write(body)
}

// serveDiscovery serves the part of Supabase Auth's OpenID discovery
// document that names the issuer and its keys.
func (i *Issuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	published := i.published
	i.mu.Unlock()
	if published == "" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=600")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                published,
		"jwks_uri":                              published + "/.well-known/jwks.json",
		"authorization_endpoint":                published + "/oauth/authorize",
		"token_endpoint":                        published + "/oauth/token",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256", "HS256", "ES256"},
	})
}

// jwksLocked encodes the published keys the way Supabase Auth does.
func (i *Issuer) jwksLocked() ([]byte, error) {
	var keys []map[string]any
	for _, k := range i.ec {
		pub, err := k.priv.Public().(*ecdsa.PublicKey).Bytes()
		if err != nil {
			return nil, err
		}
		keys = append(keys, map[string]any{
			"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "key_ops": []string{"verify"}, "ext": true,
			"kid": k.kid,
			"x":   b64(pub[1:33]),
			"y":   b64(pub[33:]),
		})
	}
	pub := i.rsa.priv.Public().(*rsa.PublicKey)
	keys = append(keys, map[string]any{
		"kty": "RSA", "alg": "RS256", "use": "sig", "key_ops": []string{"verify"}, "ext": true,
		"kid": i.rsa.kid,
		"n":   b64(pub.N.Bytes()),
		"e":   b64(big.NewInt(int64(pub.E)).Bytes()),
	})
	return json.Marshal(map[string]any{"keys": keys})
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("authtest: random: %v", err)
	}
	return hex.EncodeToString(b)
}
