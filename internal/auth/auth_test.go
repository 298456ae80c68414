package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/ivs-ingest/ivs-ingest/internal/auth"
	"github.com/ivs-ingest/ivs-ingest/internal/auth/authtest"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

const (
	userID    = "3f1c2b9e-8d4a-4c7b-9e2f-1a2b3c4d5e6f"
	sessionID = "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e"
)

func newVerifier(t *testing.T, cfg auth.Config) *auth.Verifier {
	t.Helper()
	v, err := auth.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

// mustVerify fails the test unless token verifies as userID.
func mustVerify(t *testing.T, v *auth.Verifier, token, name string) {
	t.Helper()
	got, err := v.Verify(t.Context(), token)
	if err != nil || got.UserID != userID {
		t.Fatalf("Verify(%s) = %+v, %v, want user %s", name, got, err, userID)
	}
}

func TestVerifyAcceptsValidTokens(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	now := time.Now()
	cfg := iss.Config()
	// The subtests may wait for other tests for seconds: the clock stays
	// at the time the tokens were made, and the leeway rows hold.
	cfg.Now = func() time.Time { return now }
	v := newVerifier(t, cfg)

	tests := []struct {
		name  string
		token string
		want  auth.Caller
	}{
		{"ES256", iss.Token(t, userID, sessionID), auth.Caller{UserID: userID, SessionID: sessionID}},
		{"RS256", iss.Token(t, userID, sessionID, authtest.WithAlg("RS256")), auth.Caller{UserID: userID, SessionID: sessionID}},
		{"HS256 with secret", iss.Token(t, userID, sessionID, authtest.WithAlg("HS256")), auth.Caller{UserID: userID, SessionID: sessionID}},
		{"upper-case ids come back lower-case", iss.Token(t, strings.ToUpper(userID), strings.ToUpper(sessionID)), auth.Caller{UserID: userID, SessionID: sessionID}},
		{"no session_id", iss.Token(t, userID, ""), auth.Caller{UserID: userID}},
		{"aud array containing authenticated", iss.Token(t, userID, sessionID, authtest.WithClaims(map[string]any{"aud": []string{"other", "authenticated"}})), auth.Caller{UserID: userID, SessionID: sessionID}},
		{"expired within leeway", iss.Token(t, userID, sessionID, authtest.WithExpiry(-2*time.Second)), auth.Caller{UserID: userID, SessionID: sessionID}},
		{"iat and nbf ahead within leeway", iss.Token(t, userID, sessionID, authtest.WithClaims(map[string]any{"iat": now.Add(2 * time.Second).Unix(), "nbf": now.Add(2 * time.Second).Unix()})), auth.Caller{UserID: userID, SessionID: sessionID}},
		{"is_anonymous absent", iss.Token(t, userID, sessionID, authtest.WithClaims(map[string]any{"is_anonymous": nil})), auth.Caller{UserID: userID, SessionID: sessionID}},
		// Every kind of token carries its assurance level the same way;
		// one without the claim is aal1.
		{"ES256 aal2", iss.Token(t, userID, sessionID, authtest.WithAAL("aal2")), auth.Caller{UserID: userID, SessionID: sessionID, AAL: "aal2"}},
		{"RS256 aal2", iss.Token(t, userID, sessionID, authtest.WithAlg("RS256"), authtest.WithAAL("aal2")), auth.Caller{UserID: userID, SessionID: sessionID, AAL: "aal2"}},
		{"HS256 aal2", iss.Token(t, userID, sessionID, authtest.WithAlg("HS256"), authtest.WithAAL("aal2")), auth.Caller{UserID: userID, SessionID: sessionID, AAL: "aal2"}},
		{"ES256 without aal", iss.Token(t, userID, sessionID, authtest.WithAAL("")), auth.Caller{UserID: userID, SessionID: sessionID, AAL: "aal1"}},
		{"RS256 without aal", iss.Token(t, userID, sessionID, authtest.WithAlg("RS256"), authtest.WithAAL("")), auth.Caller{UserID: userID, SessionID: sessionID, AAL: "aal1"}},
		{"HS256 without aal", iss.Token(t, userID, sessionID, authtest.WithAlg("HS256"), authtest.WithAAL("")), auth.Caller{UserID: userID, SessionID: sessionID, AAL: "aal1"}},
		// A level Supabase does not issue is passed on as it is: the
		// domain's gate lets only aal2 through.
		{"unknown aal", iss.Token(t, userID, sessionID, authtest.WithAAL("aal9")), auth.Caller{UserID: userID, SessionID: sessionID, AAL: "aal9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := v.Verify(t.Context(), tt.token)
			if err != nil {
				t.Fatalf("Verify(%s) = %v, want nil", tt.name, err)
			}
			want := tt.want
			if want.AAL == "" {
				want.AAL = "aal1" // the issuer's tokens say aal1 unless told otherwise
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Verify(%s) caller mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

// published is one key of an issuer's JWKS.
type published struct {
	kid string
	raw json.RawMessage
	pub any
}

func publishedKeys(t *testing.T, iss *authtest.Issuer) (ec, rsaKey published) {
	t.Helper()
	var set struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(iss.JWKS(t), &set); err != nil {
		t.Fatalf("decode JWKS: %v", err)
	}
	for _, raw := range set.Keys {
		var k struct{ Kty, Kid, X, Y, N, E string }
		if err := json.Unmarshal(raw, &k); err != nil {
			t.Fatalf("decode JWK: %v", err)
		}
		switch k.Kty {
		case "EC":
			pt := append([]byte{4}, append(b64d(t, k.X), b64d(t, k.Y)...)...)
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
			if err != nil {
				t.Fatalf("parse EC JWK: %v", err)
			}
			ec = published{kid: k.Kid, raw: raw, pub: pub}
		case "RSA":
			pub := &rsa.PublicKey{N: new(big.Int).SetBytes(b64d(t, k.N)), E: int(new(big.Int).SetBytes(b64d(t, k.E)).Int64())}
			rsaKey = published{kid: k.Kid, raw: raw, pub: pub}
		}
	}
	if ec.kid == "" || rsaKey.kid == "" {
		t.Fatal("JWKS lacks an EC or an RSA key")
	}
	return ec, rsaKey
}

func b64d(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64: %v", err)
	}
	return b
}

func pemBytes(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatalf("MarshalPKIXPublicKey: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	withSecret := newVerifier(t, iss.Config())
	cfg := iss.Config()
	cfg.HS256Secret = secret.String{}
	withoutSecret := newVerifier(t, cfg)

	ecPub, rsaPub := publishedKeys(t, iss)
	foreignEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	hsSecret := []byte(iss.HS256Secret())
	claims := func(c map[string]any) authtest.Option { return authtest.WithClaims(c) }
	valid := iss.Token(t, userID, sessionID)
	parts := strings.Split(valid, ".")
	otherPayload := strings.Split(iss.Token(t, "00000000-0000-4000-8000-000000000000", sessionID), ".")[1]

	type tc struct {
		name     string
		token    string
		noSecret bool   // verify without the HS256 secret configured
		reason   string // part of the error message
	}
	tests := []tc{
		{name: "HS256 without secret configured", token: iss.Token(t, userID, sessionID, authtest.WithAlg("HS256")), noSecret: true, reason: "algorithm not allowed"},
		{name: "alg none", token: iss.Token(t, userID, sessionID, authtest.WithKey(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType)), reason: "algorithm not allowed"},
		{name: "alg none without secret", token: iss.Token(t, userID, sessionID, authtest.WithKey(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType)), noSecret: true, reason: "algorithm not allowed"},
		{name: "HS384 with the project secret", token: iss.Token(t, userID, sessionID, authtest.WithKey(jwt.SigningMethodHS384, hsSecret)), reason: "algorithm not allowed"},
		{name: "HS512 with the project secret", token: iss.Token(t, userID, sessionID, authtest.WithKey(jwt.SigningMethodHS512, hsSecret)), reason: "algorithm not allowed"},
		{name: "ES384", token: iss.Token(t, userID, sessionID, authtest.WithKey(jwt.SigningMethodES384, p384)), reason: "algorithm not allowed"},
		{name: "alg header missing", token: iss.Token(t, userID, sessionID, authtest.WithHeader(map[string]any{"alg": nil})), reason: "algorithm not allowed"},
		{name: "wrong issuer", token: iss.Token(t, userID, sessionID, claims(map[string]any{"iss": "https://evil.supabase.co/auth/v1"})), reason: "issuer mismatch"},
		{name: "issuer with trailing slash", token: iss.Token(t, userID, sessionID, claims(map[string]any{"iss": iss.IssuerURL() + "/"})), reason: "issuer mismatch"},
		{name: "missing iss", token: iss.Token(t, userID, sessionID, claims(map[string]any{"iss": nil})), reason: "missing iss"},
		{name: "missing exp", token: iss.Token(t, userID, sessionID, claims(map[string]any{"exp": nil})), reason: "missing exp"},
		{name: "expired beyond leeway", token: iss.Token(t, userID, sessionID, authtest.WithExpiry(-2*time.Minute)), reason: "token expired"},
		{name: "nbf in the future", token: iss.Token(t, userID, sessionID, claims(map[string]any{"nbf": now.Add(5 * time.Minute).Unix()})), reason: "token not valid yet"},
		{name: "iat in the future", token: iss.Token(t, userID, sessionID, claims(map[string]any{"iat": now.Add(5 * time.Minute).Unix()})), reason: "token issued in the future"},
		{name: "aud missing", token: iss.Token(t, userID, sessionID, claims(map[string]any{"aud": nil})), reason: "missing aud"},
		{name: "aud wrong", token: iss.Token(t, userID, sessionID, claims(map[string]any{"aud": "anon"})), reason: "audience mismatch"},
		{name: "aud array without authenticated", token: iss.Token(t, userID, sessionID, claims(map[string]any{"aud": []string{"a", "b"}})), reason: "audience mismatch"},
		{name: "role anon", token: iss.Token(t, userID, sessionID, claims(map[string]any{"role": "anon"})), reason: "role is not authenticated"},
		{name: "role service_role", token: iss.Token(t, userID, sessionID, claims(map[string]any{"role": "service_role"})), reason: "role is not authenticated"},
		{name: "role missing", token: iss.Token(t, userID, sessionID, claims(map[string]any{"role": nil})), reason: "role is not authenticated"},
		{name: "role not a string", token: iss.Token(t, userID, sessionID, claims(map[string]any{"role": 1})), reason: "malformed token"},
		{name: "sub missing", token: iss.Token(t, userID, sessionID, claims(map[string]any{"sub": nil})), reason: "missing sub"},
		{name: "sub not a uuid", token: iss.Token(t, "user-1", sessionID), reason: "sub is not a uuid"},
		{name: "sub uuid without hyphens", token: iss.Token(t, strings.ReplaceAll(userID, "-", ""), sessionID), reason: "sub is not a uuid"},
		{name: "sub uuid in braces", token: iss.Token(t, "{"+userID+"}", sessionID), reason: "sub is not a uuid"},
		{name: "sub with a non-hex letter", token: iss.Token(t, "g"+userID[1:], sessionID), reason: "sub is not a uuid"},
		{name: "session_id not a uuid", token: iss.Token(t, userID, "session-1"), reason: "session_id is not a uuid"},
		{name: "is_anonymous true", token: iss.Token(t, userID, sessionID, claims(map[string]any{"is_anonymous": true})), reason: "anonymous user"},
		{name: "aal not a string", token: iss.Token(t, userID, sessionID, claims(map[string]any{"aal": 2})), reason: "malformed token"},
		{name: "legacy anon key", token: iss.LegacyAPIKey(t, "anon")},
		{name: "legacy service_role key", token: iss.LegacyAPIKey(t, "service_role")},
		{name: "legacy service_role key without secret", token: iss.LegacyAPIKey(t, "service_role"), noSecret: true, reason: "algorithm not allowed"},
		{name: "sb_publishable key", token: "sb_publishable_x", reason: "malformed token"},
		{name: "sb_secret key", token: "sb_secret_x", reason: "malformed token"},
		{name: "garbage", token: "not a token at all", reason: "malformed token"},
		{name: "empty", token: "", reason: "empty token"},
		{name: "too large", token: strings.Repeat("a", 64<<10), reason: "token too large"},
		{name: "two segments", token: parts[0] + "." + parts[1], reason: "malformed token"},
		{name: "Bearer prefix left on", token: "Bearer " + valid, reason: "malformed token"},
		{name: "payload swapped", token: parts[0] + "." + otherPayload + "." + parts[2], reason: "bad signature"},
		{name: "signature stripped", token: parts[0] + "." + parts[1] + ".", reason: "bad signature"},
		{name: "unknown key with a known kid", token: iss.Token(t, userID, sessionID, authtest.WithKey(jwt.SigningMethodES256, foreignEC)), reason: "bad signature"},
		{name: "ES256-signed, header says RS256", token: iss.Token(t, userID, sessionID, authtest.WithHeader(map[string]any{"alg": "RS256"})), reason: "key algorithm mismatch"},
		{name: "RS256-signed, header says ES256", token: iss.Token(t, userID, sessionID, authtest.WithAlg("RS256"), authtest.WithHeader(map[string]any{"alg": "ES256"})), reason: "key algorithm mismatch"},
		{name: "ES256 with the RSA key's kid", token: iss.Token(t, userID, sessionID, authtest.WithKID(rsaPub.kid)), reason: "key algorithm mismatch"},
		{name: "ES256 without kid", token: iss.Token(t, userID, sessionID, authtest.WithKID("")), reason: "missing kid"},
		{name: "ES256 with unknown kid", token: iss.Token(t, userID, sessionID, authtest.WithKID("no-such-kid")), reason: "unknown kid"},
	}
	// The classic algorithm-confusion attack: HS256 keyed with the public
	// key in any encoding a verifier might hand to HMAC.
	for _, k := range []struct {
		name string
		key  []byte
	}{
		{"EC PEM", pemBytes(t, ecPub.pub)},
		{"RSA PEM", pemBytes(t, rsaPub.pub)},
		{"EC JWK JSON", ecPub.raw},
		{"RSA JWK JSON", rsaPub.raw},
		{"whole JWKS", iss.JWKS(t)},
	} {
		forged := iss.Token(t, userID, sessionID, authtest.WithKey(jwt.SigningMethodHS256, k.key))
		tests = append(tests,
			tc{name: "HS256 keyed with " + k.name, token: forged, reason: "bad signature"},
			tc{name: "HS256 keyed with " + k.name + " without secret", token: forged, noSecret: true, reason: "algorithm not allowed"},
		)
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := withSecret
			if tt.noSecret {
				v = withoutSecret
			}
			got, err := v.Verify(t.Context(), tt.token)
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("Verify(%s) = %+v, %v, want %v", tt.name, got, err, auth.ErrInvalidToken)
			}
			if got != (auth.Caller{}) {
				t.Errorf("Verify(%s) caller = %+v, want zero", tt.name, got)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.reason) {
				t.Errorf("Verify(%s) = %q, want reason %q", tt.name, msg, tt.reason)
			}
			assertNoLeak(t, msg, tt.token, iss.HS256Secret())
		})
	}
}

// assertNoLeak fails if msg quotes the token, a part of it, or the secret.
func assertNoLeak(t *testing.T, msg, token, secret string) {
	t.Helper()
	if strings.Contains(msg, secret) {
		t.Errorf("error %q contains the HS256 secret", msg)
	}
	for _, part := range append(strings.Split(token, "."), token) {
		if len(part) >= 8 && strings.Contains(msg, part) {
			t.Errorf("error %q contains part of the token", msg)
		}
	}
}

// jwk encodes a public key as a JWK with the given members added.
func jwk(t *testing.T, pub any, members map[string]any) json.RawMessage {
	t.Helper()
	m := map[string]any{}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		b, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		size := (len(b) - 1) / 2
		m["kty"], m["crv"] = "EC", k.Curve.Params().Name
		m["x"] = base64.RawURLEncoding.EncodeToString(b[1 : 1+size])
		m["y"] = base64.RawURLEncoding.EncodeToString(b[1+size:])
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = base64.RawURLEncoding.EncodeToString(k.N.Bytes())
		m["e"] = base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())
	}
	for k, v := range members {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jwks(t *testing.T, keys ...json.RawMessage) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyRefusesUnsuitableJWKSKeys(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	ecPub, rsaPub := publishedKeys(t, iss)

	newEC := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecNoAlg, ecRSAAlg, ecEnc, ecSignOnly := newEC(), newEC(), newEC(), newEC()
	hmacKey := []byte("0123456789abcdef0123456789abcdef")
	iss.SetJWKS(jwks(t,
		ecPub.raw,
		rsaPub.raw,
		jwk(t, &ecNoAlg.PublicKey, map[string]any{"kid": "ec-no-alg"}),
		jwk(t, &ecRSAAlg.PublicKey, map[string]any{"kid": "ec-alg-rs256", "alg": "RS256"}),
		jwk(t, &ecEnc.PublicKey, map[string]any{"kid": "ec-enc", "use": "enc"}),
		jwk(t, &ecSignOnly.PublicKey, map[string]any{"kid": "ec-sign-only", "key_ops": []string{"sign"}}),
		jwk(t, &p384.PublicKey, map[string]any{"kid": "p384", "alg": "ES384"}),
		jwk(t, &rsa1024.PublicKey, map[string]any{"kid": "rsa-1024", "alg": "RS256"}),
		json.RawMessage(`{"kty":"oct","kid":"oct","alg":"HS256","k":"`+base64.RawURLEncoding.EncodeToString(hmacKey)+`"}`),
	))
	v := newVerifier(t, iss.Config())

	// Controls: the usable keys in this set do verify.
	mustVerify(t, v, iss.Token(t, userID, sessionID), "issuer's ES256 key")
	mustVerify(t, v, iss.Token(t, userID, sessionID, authtest.WithKey(jwt.SigningMethodES256, ecNoAlg), authtest.WithKID("ec-no-alg")), "EC key without alg")
	if got, want := v.KeyCount(), 4; got != want {
		t.Errorf("KeyCount() = %d, want %d (issuer's two, ec-no-alg, ec-alg-rs256)", got, want)
	}

	tests := []struct {
		name   string
		token  string
		reason string
	}{
		{"EC key whose alg is RS256", iss.Token(t, userID, sessionID, authtest.WithKey(jwt.SigningMethodES256, ecRSAAlg), authtest.WithKID("ec-alg-rs256")), "key algorithm mismatch"},
		{"EC key without alg used for RS256", iss.Token(t, userID, sessionID, authtest.WithAlg("RS256"), authtest.WithKID("ec-no-alg")), "key type mismatch"},
		{"EC key for encryption", iss.Token(t, userID, sessionID, authtest.WithKey(jwt.SigningMethodES256, ecEnc), authtest.WithKID("ec-enc")), "unknown kid"},
		{"EC key for signing only", iss.Token(t, userID, sessionID, authtest.WithKey(jwt.SigningMethodES256, ecSignOnly), authtest.WithKID("ec-sign-only")), "unknown kid"},
		{"P-384 key", iss.Token(t, userID, sessionID, authtest.WithKey(jwt.SigningMethodES384, p384), authtest.WithKID("p384")), "algorithm not allowed"},
		{"RSA 1024 key", iss.Token(t, userID, sessionID, authtest.WithKey(jwt.SigningMethodRS256, rsa1024), authtest.WithKID("rsa-1024")), "unknown kid"},
		{"oct key in the JWKS", iss.Token(t, userID, sessionID, authtest.WithKey(jwt.SigningMethodHS256, hmacKey), authtest.WithKID("oct")), "bad signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := v.Verify(t.Context(), tt.token)
			if !errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Verify(%s) = %v, want %v: %s", tt.name, err, auth.ErrInvalidToken, tt.reason)
			}
		})
	}
}

func TestVerifyAcceptsRotatedKeyAfterOneRefetch(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	cfg := iss.Config()
	cfg.RefetchInterval = time.Hour // the first unknown kid may refetch; no other may
	v := newVerifier(t, cfg)

	old := iss.Token(t, userID, sessionID)
	mustVerify(t, v, old, "token before rotation")
	before := iss.Fetches()
	iss.Rotate(t)
	mustVerify(t, v, iss.Token(t, userID, sessionID), "token signed with the new key")
	mustVerify(t, v, old, "token signed with the old key")
	if got, want := iss.Fetches(), before+1; got != want {
		t.Errorf("Fetches() = %d, want %d", got, want)
	}
}

func TestVerifyCollapsesConcurrentRefetches(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	cfg := iss.Config()
	cfg.RefetchInterval = time.Hour
	v := newVerifier(t, cfg)
	mustVerify(t, v, iss.Token(t, userID, sessionID), "token before rotation")
	before := iss.Fetches()
	iss.Rotate(t)
	rotated := iss.Token(t, userID, sessionID)

	const n = 50
	errs := make([]error, n)
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = rotated
		if i%2 == 1 {
			tokens[i] = iss.Token(t, userID, sessionID, authtest.WithKID(fmt.Sprintf("forged-%d", i)))
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = v.Verify(t.Context(), tokens[i])
		})
	}
	close(start)
	wg.Wait()

	if got, want := iss.Fetches(), before+1; got != want {
		t.Errorf("Fetches() after %d concurrent unknown kids = %d, want %d", n, got, want)
	}
	for i, err := range errs {
		if i%2 == 0 && err != nil {
			t.Errorf("Verify(rotated key, #%d) = %v, want nil", i, err)
		}
		if i%2 == 1 && !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("Verify(forged kid, #%d) = %v, want %v", i, err, auth.ErrInvalidToken)
		}
	}
}

func TestVerifyRateLimitsUnknownKIDRefetches(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	cfg := iss.Config()
	// Long enough that the checks "within the interval" surely run within
	// it, even under the race detector on a loaded machine.
	cfg.RefetchInterval = 2 * time.Second
	v := newVerifier(t, cfg)
	mustVerify(t, v, iss.Token(t, userID, sessionID), "token before rotation")
	before := iss.Fetches()

	start := time.Now()
	if _, err := v.Verify(t.Context(), iss.Token(t, userID, sessionID, authtest.WithKID("forged"))); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("Verify(forged kid) = %v, want %v", err, auth.ErrInvalidToken)
	}
	if got, want := iss.Fetches(), before+1; got != want {
		t.Fatalf("Fetches() after a forged kid = %d, want %d", got, want)
	}
	iss.Rotate(t)
	rotated := iss.Token(t, userID, sessionID)
	_, err := v.Verify(t.Context(), rotated)
	if elapsed := time.Since(start); elapsed >= cfg.RefetchInterval {
		t.Fatalf("the checks within the interval took %v, longer than the interval %v: nothing was tested", elapsed, cfg.RefetchInterval)
	}
	// Within the interval the rotated key cannot be fetched yet.
	if !errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(err.Error(), "unknown kid") {
		t.Errorf("Verify(rotated key, within interval) = %v, want %v: unknown kid", err, auth.ErrInvalidToken)
	}
	if got, want := iss.Fetches(), before+1; got != want {
		t.Errorf("Fetches() within the interval = %d, want %d", got, want)
	}
	time.Sleep(cfg.RefetchInterval - time.Since(start) + 50*time.Millisecond)
	mustVerify(t, v, rotated, "rotated key after the interval")
	if got, want := iss.Fetches(), before+2; got != want {
		t.Errorf("Fetches() after the interval = %d, want %d", got, want)
	}
}

func TestVerifyWhileJWKSDownAtStart(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	iss.SetDown(true)
	cfg := iss.Config()
	cfg.RefetchInterval = 100 * time.Millisecond

	start := time.Now()
	v := newVerifier(t, cfg)
	if d := time.Since(start); d > time.Second {
		t.Errorf("New took %v with the JWKS down, want it not to wait", d)
	}
	es := iss.Token(t, userID, sessionID)
	if _, err := v.Verify(t.Context(), es); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("Verify(ES256, JWKS down) = %v, want %v", err, auth.ErrUnavailable)
	}
	mustVerify(t, v, iss.Token(t, userID, sessionID, authtest.WithAlg("HS256")), "HS256 with JWKS down")
	if err := v.Ready(t.Context()); err != nil {
		t.Errorf("Ready() with secret, JWKS down = %v, want nil", err)
	}
	if got := v.KeyCount(); got != 0 {
		t.Errorf("KeyCount() with JWKS down = %d, want 0", got)
	}

	iss.SetDown(false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(t.Context(), es)
		if err == nil {
			break
		}
		if !errors.Is(err, auth.ErrUnavailable) {
			t.Fatalf("Verify(ES256, JWKS recovering) = %v, want nil or %v", err, auth.ErrUnavailable)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Verify(ES256) = %v 5s after the JWKS came back, want nil", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := v.KeyCount(); got != 2 {
		t.Errorf("KeyCount() after recovery = %d, want 2", got)
	}
}

func TestVerifyReturnsWithinBoundWhenJWKSHangs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		client  *http.Client
		timeout time.Duration // of the Verify context; 0 = none
	}{
		{"short HTTP client timeout", &http.Client{Timeout: 300 * time.Millisecond}, 0},
		{"short request context", nil, 300 * time.Millisecond},
		{"default client, no deadline", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			iss := authtest.NewIssuer(t)
			iss.SetSlow(true)
			cfg := iss.Config()
			cfg.HTTPClient = tt.client
			v := newVerifier(t, cfg)

			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			start := time.Now()
			_, err := v.Verify(ctx, iss.Token(t, userID, sessionID))
			elapsed := time.Since(start)
			if !errors.Is(err, auth.ErrUnavailable) {
				t.Errorf("Verify(ES256, JWKS hangs) = %v, want %v", err, auth.ErrUnavailable)
			}
			if bound := 10 * time.Second; elapsed > bound || (tt.timeout > 0 || tt.client != nil) && elapsed > 2*time.Second {
				t.Errorf("Verify(ES256, JWKS hangs) took %v", elapsed)
			}
			mustVerify(t, v, iss.Token(t, userID, sessionID, authtest.WithAlg("HS256")), "HS256 while JWKS hangs")
		})
	}
}

func TestVerifyKeepsKeysAfterBadJWKS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body []byte // nil: the endpoint answers 503
	}{
		{"not JSON", []byte("<html>oops</html>")},
		{"truncated JSON", []byte(`{"keys":[{"kty":"EC"`)},
		{"empty key set", []byte(`{"keys":[]}`)},
		{"no keys member", []byte(`{}`)},
		{"only unusable keys", []byte(`{"keys":[{"kty":"oct","kid":"x","k":"AAAA"},{"kty":"EC","kid":"y","crv":"P-256","x":"AA","y":"AA"}]}`)},
		{"503", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			iss := authtest.NewIssuer(t)
			cfg := iss.Config()
			cfg.RefetchInterval = time.Hour
			v := newVerifier(t, cfg)
			good := iss.Token(t, userID, sessionID)
			mustVerify(t, v, good, "before the bad JWKS")
			settle(t, v) // the next unknown kid must fetch, not wait for the first fetch's end
			before := iss.Fetches()

			if tt.body == nil {
				iss.SetDown(true)
			} else {
				iss.SetJWKS(tt.body)
			}
			// An unknown kid makes the verifier fetch the bad response.
			if _, err := v.Verify(t.Context(), iss.Token(t, userID, sessionID, authtest.WithKID("forged"))); err == nil {
				t.Fatal("Verify(forged kid) = nil, want an error")
			}
			if got, want := iss.Fetches(), before+1; got != want {
				t.Fatalf("Fetches() = %d, want %d", got, want)
			}
			mustVerify(t, v, good, "after the bad JWKS")
			mustVerify(t, v, iss.Token(t, userID, sessionID, authtest.WithAlg("RS256")), "RS256 after the bad JWKS")
			if got := v.KeyCount(); got != 2 {
				t.Errorf("KeyCount() = %d, want 2", got)
			}
		})
	}
}

func TestVerifyRefreshesInTheBackground(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	cfg := iss.Config()
	cfg.RefetchInterval = time.Hour
	cfg.RefreshInterval = 100 * time.Millisecond
	v := newVerifier(t, cfg)
	mustVerify(t, v, iss.Token(t, userID, sessionID), "token before rotation")
	// Spend the one unknown-kid refetch the interval allows.
	if _, err := v.Verify(t.Context(), iss.Token(t, userID, sessionID, authtest.WithKID("forged"))); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("Verify(forged kid) = %v, want %v", err, auth.ErrInvalidToken)
	}

	iss.Rotate(t)
	after := iss.Fetches()
	deadline := time.Now().Add(5 * time.Second)
	for iss.Fetches() <= after {
		if time.Now().After(deadline) {
			t.Fatal("no background fetch within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	mustVerify(t, v, iss.Token(t, userID, sessionID), "token signed with the new key")
}

func TestCloseStopsBackgroundRefreshes(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	cfg := iss.Config()
	cfg.RefreshInterval = 10 * time.Millisecond
	v, err := auth.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	mustVerify(t, v, iss.Token(t, userID, sessionID), "before Close")
	v.Close()
	v.Close() // idempotent
	after := iss.Fetches()
	time.Sleep(100 * time.Millisecond)
	if got := iss.Fetches(); got != after {
		t.Errorf("Fetches() = %d 100ms after Close, want %d", got, after)
	}
	mustVerify(t, v, iss.Token(t, userID, sessionID), "known key after Close")
}

func TestReady(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	tests := []struct {
		name      string
		jwksURL   bool
		secret    bool
		down      bool
		body      []byte
		wantErr   error
		wantCount int
	}{
		{name: "JWKS loaded", jwksURL: true, wantCount: 2},
		{name: "secret only", secret: true},
		{name: "JWKS down, secret set", jwksURL: true, secret: true, down: true},
		{name: "JWKS down, no secret", jwksURL: true, down: true, wantErr: auth.ErrUnavailable},
		{name: "JWKS empty, no secret", jwksURL: true, body: []byte(`{"keys":[]}`), wantErr: auth.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			iss := iss
			if tt.down || tt.body != nil {
				iss = authtest.NewIssuer(t)
				iss.SetDown(tt.down)
				iss.SetJWKS(tt.body)
			}
			cfg := iss.Config()
			if !tt.jwksURL {
				cfg.JWKSURL = ""
			}
			if !tt.secret {
				cfg.HS256Secret = secret.String{}
			}
			v := newVerifier(t, cfg)
			err := v.Ready(t.Context())
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Ready() = %v, want %v", err, tt.wantErr)
			}
			if got := v.KeyCount(); got != tt.wantCount {
				t.Errorf("KeyCount() = %d, want %d", got, tt.wantCount)
			}
		})
	}
}

func TestVerifyWithoutJWKSRefusesAsymmetricTokens(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	cfg := iss.Config()
	cfg.JWKSURL = ""
	v := newVerifier(t, cfg)
	mustVerify(t, v, iss.Token(t, userID, sessionID, authtest.WithAlg("HS256")), "HS256")
	for _, alg := range []string{"ES256", "RS256"} {
		if _, err := v.Verify(t.Context(), iss.Token(t, userID, sessionID, authtest.WithAlg(alg))); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("Verify(%s, no JWKS URL) = %v, want %v", alg, err, auth.ErrInvalidToken)
		}
	}
	if got := iss.Fetches(); got != 0 {
		t.Errorf("Fetches() = %d, want 0", got)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	const jwksURL = "https://ref.supabase.co/auth/v1/.well-known/jwks.json"
	longSecret := secret.New(strings.Repeat("s", 32))
	tests := []struct {
		name string
		cfg  auth.Config
	}{
		{"no issuer", auth.Config{JWKSURL: jwksURL}},
		{"neither JWKS nor secret", auth.Config{Issuer: "https://ref.supabase.co/auth/v1"}},
		{"relative JWKS URL", auth.Config{Issuer: "x", JWKSURL: "/auth/v1/.well-known/jwks.json"}},
		{"non-http JWKS URL", auth.Config{Issuer: "x", JWKSURL: "file:///etc/jwks.json"}},
		{"short secret", auth.Config{Issuer: "x", HS256Secret: secret.New("short")}},
		{"negative leeway", auth.Config{Issuer: "x", HS256Secret: longSecret, Leeway: -time.Second}},
		{"negative refetch interval", auth.Config{Issuer: "x", JWKSURL: jwksURL, RefetchInterval: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := auth.New(t.Context(), tt.cfg)
			if err == nil {
				v.Close()
				t.Fatalf("New(%s) = nil error, want an error", tt.name)
			}
			if strings.Contains(err.Error(), strings.Repeat("s", 32)) {
				t.Errorf("New(%s) = %q, leaks the secret", tt.name, err)
			}
		})
	}
	v, err := auth.New(t.Context(), auth.Config{Issuer: "x", HS256Secret: longSecret})
	if err != nil {
		t.Fatalf("New(secret only) = %v, want nil", err)
	}
	v.Close()
}
