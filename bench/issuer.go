package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwksPath is where Supabase Auth publishes its keys, relative to
// SUPABASE_URL.
const jwksPath = "/auth/v1/.well-known/jwks.json"

// issuer signs access tokens as Supabase Auth does, with one ES256 key, and
// serves the key's public half as a JWKS.
type issuer struct {
	baseURL string // SUPABASE_URL
	key     *ecdsa.PrivateKey
	kid     string
	jwks    []byte
}

func newIssuer(baseURL string) (*issuer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ES256 key: %w", err)
	}
	kidBytes := make([]byte, 8)
	if _, err := rand.Read(kidBytes); err != nil {
		return nil, err
	}
	pub, err := key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	kid := hex.EncodeToString(kidBytes)
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, err := json.Marshal(map[string]any{"keys": []map[string]any{{
		"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "key_ops": []string{"verify"}, "ext": true,
		"kid": kid, "x": b64(pub[1:33]), "y": b64(pub[33:]),
	}}})
	if err != nil {
		return nil, err
	}
	return &issuer{baseURL: baseURL, key: key, kid: kid, jwks: jwks}, nil
}

// issuerURL is the iss claim of the tokens.
func (i *issuer) issuerURL() string { return i.baseURL + "/auth/v1" }

// publicKeyPEM is the verification key, for the floor server.
func (i *issuer) publicKeyPEM() (string, error) {
	der, err := x509.MarshalPKIXPublicKey(&i.key.PublicKey)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// ServeHTTP serves the JWKS.
func (i *issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != jwksPath {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=600")
	_, _ = w.Write(i.jwks)
}

// token returns an access token of a signed-in user, with Supabase's claims.
func (i *issuer) token(userID, sessionID string, ttl time.Duration) (string, error) {
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss":           i.issuerURL(),
		"aud":           "authenticated",
		"role":          "authenticated",
		"sub":           userID,
		"session_id":    sessionID,
		"iat":           now.Unix(),
		"exp":           now.Add(ttl).Unix(),
		"is_anonymous":  false,
		"aal":           "aal1",
		"amr":           []map[string]any{{"method": "password", "timestamp": now.Unix()}},
		"email":         "seller@example.com",
		"phone":         "",
		"app_metadata":  map[string]any{"provider": "email", "providers": []string{"email"}},
		"user_metadata": map[string]any{},
	})
	tok.Header["kid"] = i.kid
	s, err := tok.SignedString(i.key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}
