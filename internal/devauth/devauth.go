// Package devauth is the token issuer of `ivs-ingest dev`: it stands in for a
// Supabase project's auth server on a laptop, signing access tokens with an
// ES256 key kept in the dev data directory and publishing that key as a JWKS.
// The service verifies these tokens exactly as it verifies Supabase's.
package devauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// KeyFile is the signing key's file name in the data directory.
const KeyFile = "dev-signing-key.pem"

// JWKSPath is where Supabase publishes a project's keys; the dev server
// serves this issuer's there, so it is its own SUPABASE_URL.
const JWKSPath = "/auth/v1/.well-known/jwks.json"

// ErrNoKey means the data directory holds no signing key: `dev` has not
// run there yet.
var ErrNoKey = errors.New("no dev signing key")

// Issuer signs access tokens.
type Issuer struct {
	key    *ecdsa.PrivateKey
	kid    string
	issuer string
}

// Load reads the signing key from dir. Tokens name baseURL + "/auth/v1" as
// their issuer, as Supabase's do.
func Load(dir, baseURL string) (*Issuer, error) {
	b, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s", ErrNoKey, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("read dev signing key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "EC PRIVATE KEY" {
		return nil, fmt.Errorf("dev signing key %s is not a PEM EC private key", filepath.Join(dir, KeyFile))
	}
	key, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("dev signing key %s is not a P-256 key", filepath.Join(dir, KeyFile))
	}
	return newIssuer(key, baseURL)
}

// LoadOrCreate reads the signing key from dir, generating and saving one
// (mode 0600) on first use.
func LoadOrCreate(dir, baseURL string) (*Issuer, error) {
	i, err := Load(dir, baseURL)
	if !errors.Is(err, ErrNoKey) {
		return i, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate dev signing key: %w", err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode dev signing key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	// O_EXCL: two processes starting at once must not each write a key.
	f, err := os.OpenFile(filepath.Join(dir, KeyFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return Load(dir, baseURL)
	}
	if err != nil {
		return nil, fmt.Errorf("save dev signing key: %w", err)
	}
	if _, err := f.Write(pemBytes); err != nil {
		f.Close()
		return nil, fmt.Errorf("save dev signing key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("save dev signing key: %w", err)
	}
	return newIssuer(key, baseURL)
}

func newIssuer(key *ecdsa.PrivateKey, baseURL string) (*Issuer, error) {
	pub, err := key.PublicKey.Bytes()
	if err != nil {
		return nil, fmt.Errorf("dev signing key: %w", err)
	}
	sum := sha256.Sum256(pub)
	return &Issuer{key: key, kid: "dev-" + hex.EncodeToString(sum[:8]), issuer: baseURL + "/auth/v1"}, nil
}

// IssuerURL is the iss claim of the tokens.
func (i *Issuer) IssuerURL() string { return i.issuer }

// TokenOptions shape a token.
type TokenOptions struct {
	TTL       time.Duration // 0 means one hour
	Anonymous bool          // an anonymous sign-in, which the service refuses
	Email     string
}

// Token returns an access token for userID naming sessionID ("" for none),
// with the claims Supabase Auth puts in its tokens.
func (i *Issuer) Token(userID, sessionID string, opts TokenOptions) (string, error) {
	if opts.TTL <= 0 {
		opts.TTL = time.Hour
	}
	now := time.Now()
	claims := jwt.MapClaims{
		"iss":           i.issuer,
		"aud":           "authenticated",
		"sub":           userID,
		"role":          "authenticated",
		"iat":           now.Unix(),
		"exp":           now.Add(opts.TTL).Unix(),
		"aal":           "aal1",
		"amr":           []map[string]any{{"method": "password", "timestamp": now.Unix()}},
		"email":         opts.Email,
		"phone":         "",
		"is_anonymous":  opts.Anonymous,
		"app_metadata":  map[string]any{"provider": "email", "providers": []string{"email"}},
		"user_metadata": map[string]any{},
	}
	if sessionID != "" {
		claims["session_id"] = sessionID
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["kid"] = i.kid
	s, err := t.SignedString(i.key)
	if err != nil {
		return "", fmt.Errorf("sign dev token: %w", err)
	}
	return s, nil
}

// JWKS returns the key set document, in Supabase's format.
func (i *Issuer) JWKS() []byte {
	pub, _ := i.key.PublicKey.Bytes() // checked in newIssuer
	b, _ := json.Marshal(map[string]any{"keys": []map[string]any{{
		"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "key_ops": []string{"verify"}, "ext": true,
		"kid": i.kid,
		"x":   base64.RawURLEncoding.EncodeToString(pub[1:33]),
		"y":   base64.RawURLEncoding.EncodeToString(pub[33:]),
	}}})
	return b
}

// JWKSHandler serves JWKS.
func (i *Issuer) JWKSHandler() http.Handler {
	body := i.JWKS()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=600")
		_, _ = w.Write(body)
	})
}
