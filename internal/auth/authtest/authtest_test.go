package authtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/ivs-ingest/ivs-ingest/internal/auth/authtest"
)

const userID = "3f1c2b9e-8d4a-4c7b-9e2f-1a2b3c4d5e6f"

func unverified(t *testing.T, token string) (header, claims map[string]any) {
	t.Helper()
	mc := jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(token, mc)
	if err != nil {
		t.Fatalf("ParseUnverified: %v", err)
	}
	return tok.Header, mc
}

func TestTokenCarriesSupabaseClaims(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	header, claims := unverified(t, iss.Token(t, userID, "s-1", authtest.WithClaims(map[string]any{"email": nil, "aal": "aal2"})))

	if header["alg"] != "ES256" || header["typ"] != "JWT" || header["kid"] == nil {
		t.Errorf("Token() header = %v, want alg ES256, typ JWT and a kid", header)
	}
	want := map[string]any{
		"iss": iss.IssuerURL(), "aud": "authenticated", "sub": userID, "role": "authenticated",
		"session_id": "s-1", "is_anonymous": false, "aal": "aal2",
	}
	for k, v := range want {
		if !cmp.Equal(claims[k], v) {
			t.Errorf("Token() claim %s = %v, want %v", k, claims[k], v)
		}
	}
	for _, k := range []string{"exp", "iat", "amr", "app_metadata", "user_metadata"} {
		if _, ok := claims[k]; !ok {
			t.Errorf("Token() lacks claim %s", k)
		}
	}
	if _, ok := claims["email"]; ok {
		t.Error("Token(WithClaims(email: nil)) still has email")
	}

	hs, _ := unverified(t, iss.Token(t, userID, "", authtest.WithAlg("HS256")))
	if hs["alg"] != "HS256" || hs["kid"] != nil {
		t.Errorf("Token(WithAlg(HS256)) header = %v, want alg HS256 and no kid", hs)
	}
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, body
}

func kids(t *testing.T, body []byte) []string {
	t.Helper()
	var set struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("decode JWKS: %v", err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out
}

func TestJWKSEndpoint(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	if got, want := iss.JWKSURL(), iss.URL()+"/auth/v1/.well-known/jwks.json"; got != want {
		t.Errorf("JWKSURL() = %q, want %q", got, want)
	}

	status, body := get(t, iss.JWKSURL())
	first := kids(t, body)
	if status != http.StatusOK || len(first) != 2 {
		t.Fatalf("GET JWKS = %d with kids %v, want 200 with an ES256 and an RS256 key", status, first)
	}
	iss.Rotate(t)
	_, body = get(t, iss.JWKSURL())
	if got := kids(t, body); len(got) != 3 || got[0] != first[0] {
		t.Errorf("kids after Rotate = %v, want the old ES256 kid %s still published plus a new one", got, first[0])
	}
	header, _ := unverified(t, iss.Token(t, userID, ""))
	if got := kids(t, body)[1]; header["kid"] != got {
		t.Errorf("kid after Rotate = %v, want the new key %s", header["kid"], got)
	}

	iss.SetDown(true)
	if status, _ := get(t, iss.JWKSURL()); status != http.StatusServiceUnavailable {
		t.Errorf("GET JWKS while down = %d, want 503", status)
	}
	iss.SetDown(false)
	iss.SetJWKS([]byte("garbage"))
	if _, body := get(t, iss.JWKSURL()); string(body) != "garbage" {
		t.Errorf("GET JWKS after SetJWKS = %q, want garbage", body)
	}
	if got, want := iss.Fetches(), 4; got != want {
		t.Errorf("Fetches() = %d, want %d", got, want)
	}
}
