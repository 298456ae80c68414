package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/golang-jwt/jwt/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/auth/authtest"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// TestErrorTable walks every row of the API's error table (docs/api.md, "Errors")
// against the real service.
func TestErrorTable(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)

	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	bare := env.Show(t, owner, false)
	other := env.Seller(t, "approved")
	othersShow := env.Show(t, other, true)
	pending := env.Seller(t, "pending")
	pendingShow := env.Show(t, pending, true)
	admin := env.Admin(t)
	user := env.User(t)
	goneShow := env.Show(t, owner, true)
	if _, err := env.IVS.DeleteChannel(context.Background(), &ivs.DeleteChannelInput{Arn: aws.String(goneShow.ChannelARN)}); err != nil {
		t.Fatalf("DeleteChannel: %v", err)
	}
	ownerToken := env.Token(t, owner)
	missing := testenv.NewID(t)

	tests := []struct {
		name    string
		auth    *string // nil: a Bearer token of ownerToken
		token   string  // overrides ownerToken when set
		body    string  // "" means {"showId": show.ID}
		header  map[string]string
		status  int
		message string // "" for success
	}{
		{name: "no authorization header", auth: ptr(""), status: 401, message: "Missing authorization header"},
		{name: "blank authorization header", auth: ptr("   "), status: 401, message: "Missing authorization header"},
		{name: "basic scheme", auth: ptr("Basic dXNlcjpwYXNz"), status: 401, message: "Invalid or expired token"},
		{name: "bearer without token", auth: ptr("Bearer"), status: 401, message: "Invalid or expired token"},
		{name: "bare token without scheme", auth: ptr(ownerToken), status: 401, message: "Invalid or expired token"},
		{name: "garbage token", token: "not.a.jwt", status: 401, message: "Invalid or expired token"},
		{name: "expired token", token: env.Token(t, owner, authtest.WithExpiry(-time.Hour)), status: 401, message: "Invalid or expired token"},
		{name: "anonymous user", token: env.Token(t, owner, authtest.WithClaims(map[string]any{"is_anonymous": true})), status: 401, message: "Invalid or expired token"},
		{name: "anon api key", token: env.Issuer.LegacyAPIKey(t, "anon"), status: 401, message: "Invalid or expired token"},
		{name: "service_role api key", token: env.Issuer.LegacyAPIKey(t, "service_role"), status: 401, message: "Invalid or expired token"},
		{name: "publishable key", token: "sb_publishable_abcdefghijklmnop", status: 401, message: "Invalid or expired token"},
		{name: "alg none", token: env.Token(t, owner, authtest.WithKey(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType)), status: 401, message: "Invalid or expired token"},
		{name: "lowercase bearer scheme", auth: ptr("bearer " + ownerToken), status: 200},
		{name: "legacy HS256 token", token: env.Token(t, owner, authtest.WithAlg("HS256")), status: 200},
		{name: "RS256 token", token: env.Token(t, owner, authtest.WithAlg("RS256")), status: 200},
		{name: "body not json", body: `{"showId":`, status: 400, message: "Invalid JSON body"},
		{name: "body is an array", body: `["` + show.ID + `"]`, status: 400, message: "Invalid JSON body"},
		{name: "body is null", body: `null`, status: 400, message: "Invalid JSON body"},
		{name: "body is a string", body: `"` + show.ID + `"`, status: 400, message: "Invalid JSON body"},
		{name: "empty body", body: ` `, status: 400, message: "Invalid JSON body"},
		{name: "showId missing", body: `{}`, status: 400, message: "showId is required"},
		{name: "showId null", body: `{"showId":null}`, status: 400, message: "showId is required"},
		{name: "showId empty", body: `{"showId":""}`, status: 400, message: "showId is required"},
		{name: "showId a number", body: `{"showId":42}`, status: 400, message: "showId must be a UUID"},
		{name: "showId an object", body: `{"showId":{"id":"` + show.ID + `"}}`, status: 400, message: "showId must be a UUID"},
		{name: "showId malformed", body: `{"showId":"` + show.ID[:35] + `"}`, status: 400, message: "showId must be a UUID"},
		{name: "showId with braces", body: `{"showId":"{` + show.ID + `}"}`, status: 400, message: "showId must be a UUID"},
		{name: "showId in capitals", body: `{"showId":"` + strings.ToUpper(show.ID) + `"}`, status: 200},
		{name: "impersonation header not a uuid", header: map[string]string{"X-Impersonate-Seller-Id": "seller-1"}, status: 400, message: "X-Impersonate-Seller-Id must be a UUID"},
		{name: "empty impersonation header is absent", header: map[string]string{"X-Impersonate-Seller-Id": ""}, status: 200},
		{name: "impersonation by a non-admin", header: map[string]string{"X-Impersonate-Seller-Id": other.SellerID}, status: 403, message: "Only admins can impersonate sellers"},
		{name: "user who is not a seller", token: env.Token(t, user), status: 403, message: "Seller profile not found"},
		{name: "admin without impersonation", token: env.Token(t, admin), status: 403, message: "Seller profile not found"},
		{name: "admin impersonating a missing seller", token: env.Token(t, admin), header: map[string]string{"X-Impersonate-Seller-Id": missing}, status: 403, message: "Seller profile not found"},
		{name: "pending seller", token: env.Token(t, pending), body: `{"showId":"` + pendingShow.ID + `"}`, status: 403, message: "Seller not approved"},
		{name: "admin impersonating a pending seller", token: env.Token(t, admin), body: `{"showId":"` + pendingShow.ID + `"}`, header: map[string]string{"X-Impersonate-Seller-Id": pending.SellerID}, status: 200},
		{name: "admin impersonating the owner", token: env.Token(t, admin), header: map[string]string{"X-Impersonate-Seller-Id": owner.SellerID}, status: 200},
		{name: "no such show", body: `{"showId":"` + missing + `"}`, status: 404, message: "Show not found"},
		{name: "another seller's show", body: `{"showId":"` + othersShow.ID + `"}`, status: 403, message: "You do not own this show"},
		{name: "admin impersonating the wrong seller", token: env.Token(t, admin), body: `{"showId":"` + othersShow.ID + `"}`, header: map[string]string{"X-Impersonate-Seller-Id": owner.SellerID}, status: 403, message: "You do not own this show"},
		{name: "show without a channel", body: `{"showId":"` + bare.ID + `"}`, status: 400, message: "Show does not have IVS channel configured"},
		{name: "channel deleted in IVS", body: `{"showId":"` + goneShow.ID + `"}`, status: 500, message: "Failed to retrieve channel details"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := tt.body
			if body == "" {
				body = `{"showId":"` + show.ID + `"}`
			}
			header := map[string]string{}
			for k, v := range tt.header {
				header[k] = v
			}
			token := ownerToken
			if tt.token != "" {
				token = tt.token
			}
			if tt.auth != nil {
				header["Authorization"] = *tt.auth
				token = ""
			}
			r := call(t, http.MethodPost, svc.URL+path, token, body, header)
			if tt.message == "" {
				wantKey(t, tt.name, r)
				return
			}
			wantError(t, tt.name, r, tt.status, tt.message)
			if tt.status == 401 {
				want := `Bearer error="invalid_token"`
				if tt.message == "Missing authorization header" {
					want = "Bearer"
				}
				if got := r.Header.Get("WWW-Authenticate"); got != want {
					t.Errorf("%s: WWW-Authenticate = %q, want %q", tt.name, got, want)
				}
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestStreamKeyCreationFailure(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	env.Emulator.Fail("CreateStreamKey", "InternalServerException")

	wantError(t, "first request while CreateStreamKey fails", svc.get(t, env.Token(t, owner), show.ID, nil),
		500, "Failed to create stream key")
	if n := env.Emulator.Succeeded("CreateStreamKey"); n != 0 {
		t.Errorf("CreateStreamKey succeeded %d times, want 0", n)
	}

	// Nothing is left half-done: once IVS recovers, the next request
	// creates the key.
	env.Emulator.ClearFailures()
	wantKey(t, "after IVS recovers", svc.get(t, env.Token(t, owner), show.ID, nil))
}

func TestAWSNotConfigured(t *testing.T) {
	// Not parallel: the SDK's default chain reads the process environment,
	// which must hold no credentials here.
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	wantError(t, "request without AWS credentials", svc.get(t, env.Token(t, owner), show.ID, nil), 500, "Internal server error")
	if !strings.Contains(svc.logs.String(), "aws credentials unavailable") {
		t.Errorf("the log does not say why: %s", svc.logs.String())
	}
	// Requests that need no AWS call still work.
	wantError(t, "show without a channel", svc.get(t, env.Token(t, owner), env.Show(t, owner, false).ID, nil),
		400, "Show does not have IVS channel configured")
}

func TestDatabaseDown(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	if r := call(t, http.MethodGet, svc.URL+"/readyz", "", "", nil); r.Status != 200 {
		t.Fatalf("GET /readyz with the database up = %s, want 200", r)
	}

	// Take the database away under the running service.
	u, err := url.Parse(env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	pgtest.Exec(t, pgtest.AdminURL(t), "DROP DATABASE "+name+" WITH (FORCE)")

	r := svc.get(t, env.Token(t, owner), show.ID, nil)
	wantError(t, "request with the database down", r, 500, "Internal server error")
	if id := r.Header.Get("X-Request-Id"); !strings.Contains(svc.logs.String(), id) {
		t.Errorf("the log has no line for request %s", id)
	}
	// /readyz reuses its answer for a second: ask until the cached "up" is gone.
	ready := call(t, http.MethodGet, svc.URL+"/readyz", "", "", nil)
	for deadline := time.Now().Add(10 * time.Second); ready.Status == 200 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		ready = call(t, http.MethodGet, svc.URL+"/readyz", "", "", nil)
	}
	wantError(t, "GET /readyz with the database down", ready, 503, "Service unavailable")
	if got := ready.Header.Get("Retry-After"); got != "5" {
		t.Errorf("GET /readyz with the database down: Retry-After = %q, want 5", got)
	}
	if r := call(t, http.MethodGet, svc.URL+"/healthz", "", "", nil); r.Status != 200 {
		t.Errorf("GET /healthz with the database down = %s, want 200 (the process is alive)", r)
	}
}

func TestJWKSDownAnswers503(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	env.Issuer.SetDown(true)
	svc := start(t, env, nil)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)

	begin := time.Now()
	r := svc.get(t, env.Token(t, owner), show.ID, nil)
	wantError(t, "ES256 token while the JWKS is down", r, 503, "Service unavailable")
	// The key set is fetched again JWKS_MIN_REFETCH_INTERVAL (testenv's
	// 100ms) after a failure: a second, rounded up.
	if got := r.Header.Get("Retry-After"); got != "1" {
		t.Errorf("ES256 token while the JWKS is down: Retry-After = %q, want 1", got)
	}
	if d := time.Since(begin); d > 10*time.Second {
		t.Errorf("the answer took %v, want it within 10s", d)
	}
	// The legacy secret does not depend on the JWKS.
	wantKey(t, "HS256 token while the JWKS is down", svc.get(t, env.Token(t, owner, authtest.WithAlg("HS256")), show.ID, nil))

	env.Issuer.SetDown(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := svc.get(t, env.Token(t, owner), show.ID, nil)
		if r.Status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the JWKS came back: %s, want 200", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
