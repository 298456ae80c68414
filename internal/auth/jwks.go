package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

const (
	// maxJWKSSize bounds the response body; real key sets are a few KB.
	maxJWKSSize = 1 << 20
	// minRSABits refuses RSA keys too short to trust.
	minRSABits = 2048
)

// publicKey is one usable JWKS key.
type publicKey struct {
	alg string // the JWK's own alg, "" when it has none
	key any    // *ecdsa.PublicKey on P-256, or *rsa.PublicKey of at least 2048 bits
}

// fits reports whether the key's type is the one alg needs.
func (k publicKey) fits(alg string) bool {
	switch key := k.key.(type) {
	case *ecdsa.PublicKey:
		return alg == "ES256" && key.Curve == elliptic.P256()
	case *rsa.PublicKey:
		return alg == "RS256" && key.N.BitLen() >= minRSABits
	}
	return false
}

// keySet is the cached JWKS. One goroutine (run) does every fetch, so fetches
// never overlap; requests that meet an unknown kid ask it for a fetch at most
// once per refetch interval and otherwise wait for the fetch in progress.
//
// A key set without a usable key replaces the cached keys only when the next
// successful fetch confirms it (see fetch), whichever path asked for either
// fetch: the background refresh or an unknown kid.
type keySet struct {
	url     string
	client  *http.Client
	refetch time.Duration
	log     *slog.Logger
	observe func(err error) // reports each fetch's outcome; may be nil
	kick    chan struct{}   // asks run for a fetch now
	done    chan struct{}   // closed when run returns
	// generation counts the changes of keys (a key added, replaced or
	// removed, every key dropped); a verified token remembered under an
	// older generation is verified again. It changes under mu, in the
	// same section as keys: a lookup that follows a read of the new
	// generation waits for mu, so it can only find a key of the new set.
	generation atomic.Uint64

	mu            sync.Mutex
	keys          map[string]publicKey
	fetched       bool          // some fetch has succeeded
	lastErr       error         // the outcome of the latest fetch; nil when it succeeded
	lastTriggered time.Time     // when an unknown kid last caused a fetch
	emptyAnswers  int           // successful fetches in a row without a usable key
	wait          chan struct{} // closed when the fetch in progress or asked for ends; nil when none is
	closed        bool
}

func newKeySet(url string, client *http.Client, refetch time.Duration, log *slog.Logger) *keySet {
	return &keySet{
		url:     url,
		client:  client,
		refetch: refetch,
		log:     log,
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		// The first fetch is already asked for, so early requests wait for
		// it instead of spending the unknown-kid allowance.
		wait: make(chan struct{}),
	}
}

// run fetches the key set at once, then every refresh interval, retrying
// failures sooner with backoff, and whenever a request asks, until ctx ends.
func (s *keySet) run(ctx context.Context, refresh time.Duration) {
	defer close(s.done)
	timer := time.NewTimer(0)
	defer timer.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.closed = true
			if s.wait != nil {
				close(s.wait)
				s.wait = nil
			}
			s.mu.Unlock()
			return
		case <-timer.C:
		case <-s.kick:
		}

		s.mu.Lock()
		if s.wait == nil {
			s.wait = make(chan struct{})
		}
		w := s.wait
		select { // this fetch answers any pending request
		case <-s.kick:
		default:
		}
		s.mu.Unlock()

		unconfirmed, err := s.fetch(ctx)
		if s.observe != nil && ctx.Err() == nil {
			s.observe(err)
		}

		s.mu.Lock()
		s.wait = nil
		s.mu.Unlock()
		close(w)

		next := refresh
		switch {
		case err != nil:
			failures++
			next = min(s.refetch<<min(failures-1, 16), refresh)
		case unconfirmed:
			// An emergency revocation should not wait a whole refresh
			// interval for its confirmation.
			failures = 0
			next = min(s.refetch, refresh)
		default:
			failures = 0
		}
		timer.Reset(next)
	}
}

// lookup returns the key for kid, fetching the key set when kid is unknown
// and the refetch allowance permits.
func (s *keySet) lookup(ctx context.Context, kid string) (publicKey, error) {
	s.mu.Lock()
	if k, ok := s.keys[kid]; ok {
		s.mu.Unlock()
		return k, nil
	}
	w := s.wait
	if w == nil {
		// An unknown kid is either a key added since the last fetch or a
		// forgery; fetching for every one would let anyone hammer the JWKS
		// endpoint, so at most one fetch per interval, shared by all.
		if s.closed || !s.lastTriggered.IsZero() && time.Since(s.lastTriggered) < s.refetch {
			err := s.missLocked()
			s.mu.Unlock()
			return publicKey{}, err
		}
		s.lastTriggered = time.Now()
		s.wait = make(chan struct{})
		w = s.wait
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	s.mu.Unlock()

	if err := await(ctx, w); err != nil {
		return publicKey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	return publicKey{}, s.missLocked()
}

// missLocked is the error for a kid that is not in the key set: the set
// cannot be had when the latest fetch failed, or none has succeeded yet;
// otherwise the kid is simply unknown.
func (s *keySet) missLocked() error {
	switch {
	case s.lastErr != nil:
		return fmt.Errorf("%w: %w", ErrUnavailable, s.lastErr)
	case !s.fetched:
		return fmt.Errorf("%w: key set not loaded", ErrUnavailable)
	default:
		return invalid("unknown kid")
	}
}

// ready waits for a fetch in progress and returns the latest fetch error.
func (s *keySet) ready(ctx context.Context) error {
	s.mu.Lock()
	w := s.wait
	s.mu.Unlock()
	if w != nil {
		if err := await(ctx, w); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(s.keys) > 0:
		return nil
	case s.lastErr != nil || !s.fetched:
		return s.missLocked()
	default:
		return fmt.Errorf("%w: jwks has no usable keys", ErrUnavailable)
	}
}

func (s *keySet) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}

// await waits for w to close, within ctx and maxWait.
func await(ctx context.Context, w <-chan struct{}) error {
	timer := time.NewTimer(maxWait)
	defer timer.Stop()
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for jwks fetch: %w", ErrUnavailable, ctx.Err())
	case <-timer.C:
		return fmt.Errorf("%w: waiting for jwks fetch: timed out", ErrUnavailable)
	}
}

// fetch downloads the key set and installs it. It reports whether the cached
// keys are kept although the answer had no usable key, awaiting a
// confirmation.
//
// A failed fetch (network, status, not a key set) keeps the cached keys: it
// says nothing about which keys are valid. A successful answer without a
// usable key is more likely a broken deployment than a revocation, so the
// first one keeps the cached keys; but when the next successful answer says
// the same, it is a revocation of every asymmetric key (a compromised key
// dropped, a move back to the legacy secret) and the cached keys go, so that
// tokens they signed are refused from then on. A usable answer in between
// starts the count again.
func (s *keySet) fetch(ctx context.Context) (unconfirmed bool, err error) {
	fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	keys, skipped, err := s.download(fctx)

	s.mu.Lock()
	defer s.mu.Unlock()
	where := secret.RedactURL(s.url)
	if err != nil {
		s.lastErr = fmt.Errorf("jwks fetch failed: %w", err)
		if ctx.Err() == nil { // not merely stopped by Close
			s.log.WarnContext(ctx, "auth: jwks fetch failed", "url", where, "error", err, "keys_kept", len(s.keys))
		}
		return false, err
	}
	s.lastErr = nil
	s.fetched = true
	if skipped > 0 {
		s.log.WarnContext(ctx, "auth: jwks keys skipped", "url", where, "skipped", skipped, "usable", len(keys))
	}
	if len(keys) > 0 {
		s.emptyAnswers = 0
		if !sameKeys(s.keys, keys) {
			s.generation.Add(1)
		}
		s.keys = keys
		s.log.DebugContext(ctx, "auth: jwks loaded", "url", where, "keys", len(keys))
		return false, nil
	}
	s.emptyAnswers++
	switch {
	case len(s.keys) == 0:
		return false, nil
	case s.emptyAnswers == 1:
		s.log.WarnContext(ctx, "auth: jwks has no usable key; keeping the previous keys until the next fetch confirms it",
			"url", where, "keys_kept", len(s.keys))
		return true, nil
	default:
		s.log.ErrorContext(ctx, "auth: jwks has no usable key, confirmed twice; the previous keys are dropped and asymmetric tokens are now refused",
			"url", where, "keys_dropped", len(s.keys))
		s.keys = nil
		s.generation.Add(1)
		return false, nil
	}
}

// sameKeys reports whether a and b hold the same keys under the same kids,
// each with the same alg.
func sameKeys(a, b map[string]publicKey) bool {
	if len(a) != len(b) {
		return false
	}
	for kid, ka := range a {
		kb, ok := b[kid]
		if !ok || ka.alg != kb.alg {
			return false
		}
		eq, ok := ka.key.(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !eq.Equal(kb.key) {
			return false
		}
	}
	return true
}

func (s *keySet) download(ctx context.Context) (keys map[string]publicKey, skipped int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, 0, withoutURL(err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, 0, withoutURL(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxJWKSSize {
		return nil, 0, errors.New("response too large")
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, 0, fmt.Errorf("decode: %w", err)
	}
	if set.Keys == nil {
		return nil, 0, errors.New(`decode: no "keys" array`)
	}
	keys = make(map[string]publicKey, len(set.Keys))
	for _, raw := range set.Keys {
		kid, k, err := parseJWK(raw)
		if err != nil {
			skipped++
			s.log.DebugContext(ctx, "auth: jwks key skipped", "kid", kid, "error", err)
			continue
		}
		if _, dup := keys[kid]; dup {
			skipped++
			continue
		}
		keys[kid] = k
	}
	return keys, skipped, nil
}

// withoutURL strips the *url.Error that net/http wraps around a request's
// failure. It quotes the URL, query and user name included (net/http masks
// only the password), and download's errors reach logs, Verify's error and
// so the 503's request log line, and doctor's output: only the cause stays
// (connection refused, a timeout), which names no more than host and port.
func withoutURL(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// jwk holds the members of a JSON Web Key (RFC 7517, 7518) that matter here.
type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Alg    string   `json:"alg"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	N      string   `json:"n"`
	E      string   `json:"e"`
}

// parseJWK accepts only public signature-verification keys of the two
// supported kinds: EC P-256 and RSA of at least 2048 bits. Symmetric ("oct")
// keys are refused outright, whatever a token's header asks for.
func parseJWK(raw json.RawMessage) (string, publicKey, error) {
	var j jwk
	if err := json.Unmarshal(raw, &j); err != nil {
		return "", publicKey{}, err
	}
	switch {
	case j.Kid == "":
		return "", publicKey{}, errors.New("no kid")
	case j.Use != "" && j.Use != "sig":
		return j.Kid, publicKey{}, errors.New("not a signature key")
	case len(j.KeyOps) > 0 && !slices.Contains(j.KeyOps, "verify"):
		return j.Kid, publicKey{}, errors.New("not a verification key")
	}
	switch j.Kty {
	case "EC":
		if j.Crv != "P-256" {
			return j.Kid, publicKey{}, errors.New("unsupported curve")
		}
		x, errX := base64.RawURLEncoding.DecodeString(j.X)
		y, errY := base64.RawURLEncoding.DecodeString(j.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return j.Kid, publicKey{}, errors.New("bad EC coordinates")
		}
		// ParseUncompressedPublicKey refuses points off the curve.
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return j.Kid, publicKey{}, err
		}
		return j.Kid, publicKey{alg: j.Alg, key: k}, nil
	case "RSA":
		n, errN := base64.RawURLEncoding.DecodeString(j.N)
		e, errE := base64.RawURLEncoding.DecodeString(j.E)
		if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 {
			return j.Kid, publicKey{}, errors.New("bad RSA parameters")
		}
		k := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if k.N.BitLen() < minRSABits {
			return j.Kid, publicKey{}, errors.New("RSA key too short")
		}
		if k.E < 3 || k.E%2 == 0 {
			return j.Kid, publicKey{}, errors.New("bad RSA exponent")
		}
		return j.Kid, publicKey{alg: j.Alg, key: k}, nil
	default:
		return j.Kid, publicKey{}, errors.New("unsupported key type")
	}
}
