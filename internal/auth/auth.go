// Package auth verifies Supabase access tokens locally and turns them into a
// verified Caller.
//
// Asymmetric tokens (ES256, RS256) are checked against the project's JWKS,
// which is fetched over HTTP, cached and refreshed in the background; legacy
// HS256 tokens are checked against the shared secret when one is configured.
// Every other algorithm is refused.
//
// Errors from Verify wrap ErrInvalidToken (answer 401) or ErrUnavailable
// (answer 503) with a short reason for logs. They never contain the token or
// the secret.
package auth

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

var (
	// ErrInvalidToken means the token is malformed, forged, expired, or not
	// a signed-in user's access token.
	ErrInvalidToken = errors.New("invalid token")
	// ErrUnavailable means the token cannot be checked right now: the key
	// set it needs could not be fetched.
	ErrUnavailable = errors.New("key set unavailable")
)

// Defaults for the zero values in Config.
const (
	DefaultRefetchInterval = 30 * time.Second
	DefaultRefreshInterval = 10 * time.Minute // Supabase serves the JWKS with max-age=600
	// DefaultLeeway is small on purpose: Supabase Auth itself refuses an
	// expired token at once, and every second of leeway is a second a
	// signed-out or stolen token keeps working here after its exp.
	DefaultLeeway = 5 * time.Second
)

// NoLeeway, as Config.Leeway, tolerates no clock skew at all: a token is
// refused from the second its exp names.
const NoLeeway time.Duration = -1

const (
	// fetchTimeout bounds each JWKS request, whatever the HTTP client.
	fetchTimeout = 5 * time.Second
	// maxWait bounds how long a Verify call waits for a key-set fetch, on
	// top of the caller's context.
	maxWait = 8 * time.Second
	// maxTokenSize refuses absurd inputs before any parsing. Real access
	// tokens are around 1 KB, more with large app_metadata.
	maxTokenSize = 32 << 10
	// minSecretSize is Supabase's own minimum for the legacy JWT secret; a
	// shorter HMAC key could be brute-forced from any token it signed.
	minSecretSize = 32
	audience      = "authenticated"
)

// Config configures a Verifier.
type Config struct {
	// Issuer is the exact iss claim required, https://<ref>.supabase.co/auth/v1.
	Issuer string
	// JWKSURL is <SUPABASE_URL>/auth/v1/.well-known/jwks.json. It may be
	// empty only when HS256Secret is set; ES256 and RS256 tokens are then
	// refused.
	JWKSURL string
	// HS256Secret is the project's legacy JWT secret (at least 32 bytes).
	// When zero, HS256 tokens are refused.
	HS256Secret secret.String
	// RefetchInterval is the minimum time between key-set fetches triggered
	// by tokens with an unknown kid. Zero means DefaultRefetchInterval.
	RefetchInterval time.Duration
	// RefreshInterval is the period of the background key-set refresh. Zero
	// means DefaultRefreshInterval. It bounds how long a key the auth
	// server no longer publishes (a rotated-out or leaked one) stays
	// accepted: the key set is only fetched again for an unknown kid.
	RefreshInterval time.Duration
	// HTTPClient fetches the JWKS. Nil means a client with a 5 s timeout;
	// each fetch is bounded to 5 s in any case.
	HTTPClient *http.Client
	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero means
	// DefaultLeeway (5 s); NoLeeway means none.
	Leeway time.Duration
	// Now is the clock that exp, nbf and iat are checked against; nil
	// means time.Now. Tests set it to check the leeway to the second.
	Now func() time.Time
	// Logger receives key-set fetch failures, and at error level the alert
	// that a key set without a usable key, confirmed by the next fetch, has
	// replaced the previous keys. Nil discards them.
	Logger *slog.Logger
	// TokenCacheSize is the number of verified tokens remembered until
	// their exp (see tokenCache), at most MaxTokenCacheSize. Zero means
	// DefaultTokenCacheSize; NoTokenCache means none.
	TokenCacheSize int
	// Metrics counts key-set fetches and token-cache lookups; nil for none.
	Metrics Metrics
}

// Metrics is what the verifier reports about its key set.
type Metrics interface {
	// JWKSFetched reports a fetch of the JWKS: err is its failure, or nil.
	JWKSFetched(err error)
	// TokenCacheLookup reports whether a token was found verified in the
	// token cache.
	TokenCacheLookup(hit bool)
}

// Caller is a verified, signed-in user.
type Caller struct {
	// UserID is the sub claim, a canonical lowercase UUID.
	UserID string
	// SessionID is the session_id claim, a canonical lowercase UUID, or ""
	// when the token has none.
	SessionID string
	// AAL is the aal claim as the token has it ("aal1", or "aal2" once a
	// second factor is verified), "aal1" when the token has none.
	AAL string
}

// Verifier checks access tokens. It is safe for concurrent use.
type Verifier struct {
	secret  secret.String
	parser  *jwt.Parser
	keys    *keySet     // nil without a JWKS URL
	cache   *tokenCache // nil when off
	leeway  time.Duration
	now     func() time.Time
	metrics Metrics // nil for none
	stop    context.CancelFunc
}

// New returns a Verifier. It does not wait for the JWKS: the first fetch
// runs in the background, so New succeeds while the endpoint is down and
// Verify reports ErrUnavailable until a key set arrives. Background
// refreshes run until ctx is done or Close is called.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("auth: issuer is required")
	}
	if cfg.JWKSURL == "" && cfg.HS256Secret.IsZero() {
		return nil, errors.New("auth: a JWKS URL or an HS256 secret is required")
	}
	if !cfg.HS256Secret.IsZero() && len(cfg.HS256Secret.Reveal()) < minSecretSize {
		return nil, fmt.Errorf("auth: HS256 secret is shorter than %d bytes", minSecretSize)
	}
	if cfg.RefetchInterval < 0 || cfg.RefreshInterval < 0 || cfg.Leeway < 0 && cfg.Leeway != NoLeeway {
		return nil, errors.New("auth: intervals and leeway must not be negative")
	}
	if cfg.TokenCacheSize < 0 && cfg.TokenCacheSize != NoTokenCache || cfg.TokenCacheSize > MaxTokenCacheSize {
		return nil, fmt.Errorf("auth: the token cache size must be from 0 to %d, or NoTokenCache", MaxTokenCacheSize)
	}
	if cfg.JWKSURL != "" {
		u, err := url.Parse(cfg.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, errors.New("auth: JWKS URL must be an absolute http(s) URL")
		}
	}
	leeway := cmp.Or(cfg.Leeway, DefaultLeeway)
	if leeway == NoLeeway {
		leeway = 0
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	// The allow-list is the defence against algorithm confusion: HS256 is
	// only on it when a secret is configured, so no public key can ever be
	// used as an HMAC key, and "none", HS384/512 or PS* are never accepted.
	var methods []string
	if cfg.JWKSURL != "" {
		methods = append(methods, jwt.SigningMethodES256.Alg(), jwt.SigningMethodRS256.Alg())
	}
	if !cfg.HS256Secret.IsZero() {
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	v := &Verifier{
		secret:  cfg.HS256Secret,
		leeway:  leeway,
		now:     now,
		metrics: cfg.Metrics,
		parser: jwt.NewParser(
			jwt.WithValidMethods(methods),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(leeway),
			jwt.WithTimeFunc(now),
			jwt.WithStrictDecoding(),
		),
		stop: func() {},
	}
	if size := cmp.Or(cfg.TokenCacheSize, DefaultTokenCacheSize); size > 0 {
		v.cache = newTokenCache(size)
	}
	if cfg.JWKSURL != "" {
		client := cfg.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: fetchTimeout}
		}
		v.keys = newKeySet(cfg.JWKSURL, client, cmp.Or(cfg.RefetchInterval, DefaultRefetchInterval), logger)
		if cfg.Metrics != nil {
			v.keys.observe = cfg.Metrics.JWKSFetched
		}
		bg, cancel := context.WithCancel(ctx)
		v.stop = cancel
		go v.keys.run(bg, cmp.Or(cfg.RefreshInterval, DefaultRefreshInterval))
	}
	return v, nil
}

// Close stops background refreshes and waits for them to end. Verify keeps
// working with the keys already loaded.
func (v *Verifier) Close() {
	v.stop()
	if v.keys != nil {
		<-v.keys.done
	}
}

// Ready reports whether the Verifier can verify anything: nil when a key set
// with at least one key is loaded or the HS256 secret is set. It waits for a
// key-set fetch in progress, such as the first one, within ctx.
func (v *Verifier) Ready(ctx context.Context) error {
	var err error
	if v.keys != nil {
		err = v.keys.ready(ctx)
	}
	if v.KeyCount() > 0 || !v.secret.IsZero() {
		return nil
	}
	return err
}

// KeyCount returns the number of usable JWKS keys loaded.
func (v *Verifier) KeyCount() int {
	if v.keys == nil {
		return 0
	}
	return v.keys.count()
}

// Verify checks token, the bare JWT from "Authorization: Bearer <jwt>", and
// returns its caller. It returns within about 8 s, sooner if ctx ends, even
// when it has to fetch the key set.
//
// A token verified before, under the same key set and not expired since, is
// taken from the token cache without checking its signature again.
func (v *Verifier) Verify(ctx context.Context, token string) (Caller, error) {
	if token == "" {
		return Caller{}, invalid("empty token")
	}
	if len(token) > maxTokenSize {
		return Caller{}, invalid("token too large")
	}
	if v.cache == nil {
		c, _, err := v.verifyFull(ctx, token)
		return c, err
	}
	sum := sha256.Sum256([]byte(token))
	// Read before verifying, so that a key set that changes meanwhile leaves
	// an entry that is never used (TestVerifyForgetsATokenWhenTheKeySetChangesMidCheck).
	gen := v.keyGeneration()
	if c, ok := v.cache.get(sum, v.now(), gen); ok {
		v.cacheLookup(true)
		return c, nil
	}
	v.cacheLookup(false)
	c, valid, err := v.verifyFull(ctx, token)
	if err == nil {
		valid.gen = gen
		v.cache.put(sum, valid, v.now())
	}
	return c, err
}

// keyGeneration is the key set's generation; 0 without a JWKS (the HS256
// secret never changes while the process runs).
func (v *Verifier) keyGeneration() uint64 {
	if v.keys == nil {
		return 0
	}
	return v.keys.generation.Load()
}

func (v *Verifier) cacheLookup(hit bool) {
	if v.metrics != nil {
		v.metrics.TokenCacheLookup(hit)
	}
}

// verifyFull checks token in full. For the cache it also returns when a
// full check accepts the token: from its nbf and iat less the leeway until
// its exp plus the leeway.
func (v *Verifier) verifyFull(ctx context.Context, token string) (Caller, cachedToken, error) {
	var (
		claims        supabaseClaims
		keyErr        error
		keyfuncCalled bool
	)
	_, err := v.parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		keyfuncCalled = true
		key, err := v.key(ctx, t)
		keyErr = err
		return key, err
	})
	if err != nil {
		// The library's messages can quote the token's header (its alg);
		// only our own fixed reasons leave this package.
		if keyErr != nil {
			return Caller{}, cachedToken{}, keyErr
		}
		return Caller{}, cachedToken{}, invalid(reason(err, keyfuncCalled, &claims))
	}
	c := Caller{
		UserID:    strings.ToLower(claims.Subject),
		SessionID: strings.ToLower(claims.SessionID),
		AAL:       claims.aal(),
	}
	// The bounds of golang-jwt's validator: exp is required and the token
	// refused from exp + leeway on; it is refused before nbf - leeway and
	// before iat - leeway (WithIssuedAt).
	valid := cachedToken{caller: c, until: claims.ExpiresAt.Add(v.leeway)}
	for _, d := range []*jwt.NumericDate{claims.NotBefore, claims.IssuedAt} {
		if d != nil && d.Add(-v.leeway).After(valid.from) {
			valid.from = d.Add(-v.leeway)
		}
	}
	return c, valid, nil
}

// key is the jwt.Keyfunc: it picks the one key that may verify t.
func (v *Verifier) key(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	switch alg {
	case jwt.SigningMethodHS256.Alg():
		// Defence in depth: the parser's allow-list already refuses HS256
		// without a secret; an empty HMAC key must never be returned.
		if v.secret.IsZero() {
			return nil, invalid("algorithm not allowed")
		}
		return []byte(v.secret.Reveal()), nil
	case jwt.SigningMethodES256.Alg(), jwt.SigningMethodRS256.Alg():
		if v.keys == nil {
			return nil, invalid("algorithm not allowed")
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, invalid("missing kid")
		}
		k, err := v.keys.lookup(ctx, kid)
		if err != nil {
			return nil, err
		}
		if k.alg != "" && k.alg != alg {
			return nil, invalid("key algorithm mismatch")
		}
		if !k.fits(alg) {
			return nil, invalid("key type mismatch")
		}
		return k.key, nil
	default:
		return nil, invalid("algorithm not allowed")
	}
}

// reason names why the parser refused a token, without quoting it.
func reason(err error, keyfuncCalled bool, c *supabaseClaims) string {
	var ce claimError
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "algorithm not allowed" // alg missing or unknown to the library
	case errors.Is(err, jwt.ErrTokenSignatureInvalid) && !keyfuncCalled:
		return "algorithm not allowed" // refused by WithValidMethods
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "bad signature"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token issued in the future"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		switch {
		case c.ExpiresAt == nil:
			return "missing exp"
		case c.Issuer == "":
			return "missing iss"
		default:
			return "missing aud"
		}
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "issuer mismatch"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "audience mismatch"
	case errors.As(err, &ce):
		return string(ce)
	default:
		return "invalid claims"
	}
}

func invalid(reason string) error { return fmt.Errorf("%w: %s", ErrInvalidToken, reason) }
