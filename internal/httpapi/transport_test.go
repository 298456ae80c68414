package httpapi_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/auth/authtest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestEveryAnswerCarriesTheStandardHeaders(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	spoofed := map[string]string{"X-Request-Id": "spoofed-by-client", "Origin": "https://shop.example"}

	answers := map[string]response{
		"200":            svc.get(t, env.Token(t, owner), show.ID, spoofed),
		"401":            svc.get(t, "", show.ID, spoofed),
		"400":            call(t, http.MethodPost, svc.URL+path, env.Token(t, owner), `[]`, spoofed),
		"404 path":       call(t, http.MethodGet, svc.URL+"/nope", "", "", spoofed),
		"405":            call(t, http.MethodGet, svc.URL+path, "", "", spoofed),
		"413":            call(t, http.MethodPost, svc.URL+path, env.Token(t, owner), `{"showId":"`+strings.Repeat("a", 70<<10)+`"}`, spoofed),
		"healthz":        call(t, http.MethodGet, svc.URL+"/healthz", "", "", spoofed),
		"405 healthz":    call(t, http.MethodPost, svc.URL+"/healthz", "", "", spoofed),
		"404 unclean":    call(t, http.MethodPost, svc.URL+"/functions/v1/./get-ivs-ingest", env.Token(t, owner), `{}`, spoofed),
		"404 slashes":    call(t, http.MethodPost, svc.URL+"//functions/v1/get-ivs-ingest", env.Token(t, owner), `{}`, spoofed),
		"405 HEAD audit": call(t, http.MethodHead, svc.URL+"/functions/v1/ivs-audit", env.Token(t, owner), "", spoofed),
	}
	wantStatus := map[string]int{"200": 200, "401": 401, "400": 400, "404 path": 404, "405": 405, "413": 413, "healthz": 200, "405 healthz": 405, "404 unclean": 404, "404 slashes": 404, "405 HEAD audit": 405}
	wantMessage := map[string]string{"404 path": "Not found", "405": "Method not allowed", "413": "Request body too large", "405 healthz": "Method not allowed", "404 unclean": "Not found", "404 slashes": "Not found"}
	seen := map[string]bool{}
	for name, r := range answers {
		if r.Status != wantStatus[name] {
			t.Errorf("%s: status %d, want %d (%s)", name, r.Status, wantStatus[name], r)
		}
		if m, ok := wantMessage[name]; ok && r.Body["error"] != m {
			t.Errorf("%s: error = %v, want %q", name, r.Body["error"], m)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type = %q, want application/json", name, ct)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control = %q, want no-store", name, cc)
		}
		id := r.Header.Get("X-Request-Id")
		if !uuidPattern.MatchString(id) {
			t.Errorf("%s: X-Request-Id = %q, want a generated UUID (the client's is ignored)", name, id)
		}
		if seen[id] {
			t.Errorf("%s: X-Request-Id %s repeats", name, id)
		}
		seen[id] = true
		if !strings.Contains(svc.logs.String(), `"request_id":"`+id+`"`) {
			t.Errorf("%s: no log line carries request_id %s", name, id)
		}
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("%s: Access-Control-Allow-Origin = %q, want *", name, got)
		}
		if r.Header.Get("X-Relay-Error") != "" {
			t.Errorf("%s: x-relay-error is set; supabase-js would report a relay failure", name)
		}
	}
	if strings.Contains(svc.logs.String(), "spoofed-by-client") {
		t.Error("the client's X-Request-Id reached the log")
	}
	if got := answers["405"].Header.Get("Allow"); got != "POST, OPTIONS" {
		t.Errorf("405: Allow = %q, want POST, OPTIONS", got)
	}
	// A GET route answers HEAD too, unless told otherwise: HEAD must not read
	// (and audit) the log for an answer without a body.
	if got := answers["405 HEAD audit"].Header.Get("Allow"); got != "GET, OPTIONS" {
		t.Errorf("HEAD ivs-audit: Allow = %q, want GET, OPTIONS", got)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	open := start(t, env, nil)
	listed := start(t, env, map[string]string{"CORS_ALLOWED_ORIGINS": "https://shop.example, https://admin.shop.example"})

	preflight := func(svc *service, origin string) response {
		return call(t, http.MethodOptions, svc.URL+path, "", "", map[string]string{
			"Origin":                         origin,
			"Access-Control-Request-Method":  "POST",
			"Access-Control-Request-Headers": "authorization, x-client-info, apikey, content-type, x-impersonate-seller-id",
		})
	}
	r := preflight(open, "https://anywhere.example")
	if r.Status != http.StatusNoContent {
		t.Errorf("preflight = %s, want 204", r)
	}
	if got := r.Header.Get("Access-Control-Allow-Methods"); got != "POST, OPTIONS" {
		t.Errorf("preflight Allow-Methods = %q, want POST, OPTIONS", got)
	}
	allowHeaders := r.Header.Get("Access-Control-Allow-Headers")
	for _, h := range []string{"authorization", "x-client-info", "apikey", "content-type", "x-impersonate-seller-id", "x-region", "x-retry-count", "traceparent", "tracestate", "baggage"} {
		if !strings.Contains(allowHeaders, h) {
			t.Errorf("preflight Allow-Headers = %q, missing %s", allowHeaders, h)
		}
	}
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("preflight Allow-Origin = %q, want *", got)
	}

	r = preflight(listed, "https://shop.example")
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != "https://shop.example" {
		t.Errorf("listed origin: Allow-Origin = %q, want https://shop.example", got)
	}
	if got := r.Header.Get("Vary"); !strings.Contains(got, "Origin") {
		t.Errorf("listed origins: Vary = %q, want Origin", got)
	}
	r = preflight(listed, "https://evil.example")
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("unlisted origin: Allow-Origin = %q, want none", got)
	}
	// Errors carry CORS headers too, or the browser hides their message.
	r = call(t, http.MethodPost, listed.URL+path, "", `{}`, map[string]string{"Origin": "https://admin.shop.example"})
	if r.Status != 401 || r.Header.Get("Access-Control-Allow-Origin") != "https://admin.shop.example" {
		t.Errorf("error answer to a listed origin = %s with Allow-Origin %q, want 401 with the origin", r, r.Header.Get("Access-Control-Allow-Origin"))
	}
}

func TestSignedOutSessionIsRefused(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Supabase: true})
	svc := start(t, env, nil)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)

	wantKey(t, "live session", svc.get(t, env.Token(t, owner), show.ID, nil))
	noSession := env.Issuer.Token(t, owner.ID, "")
	wantError(t, "token without session_id", svc.get(t, noSession, show.ID, nil), 401, "Invalid or expired token")
	otherUsers := env.User(t)
	stolen := env.Issuer.Token(t, owner.ID, otherUsers.SessionID)
	wantError(t, "token naming another user's session", svc.get(t, stolen, show.ID, nil), 401, "Invalid or expired token")

	token := env.Token(t, owner)
	env.SignOut(t, owner)
	r := svc.get(t, token, show.ID, nil)
	wantError(t, "token of a signed-out session", r, 401, "Invalid or expired token")
	if got := r.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
		t.Errorf("signed out: WWW-Authenticate = %q", got)
	}
}

func TestUnknownKidAfterKeyRotation(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, map[string]string{"JWKS_MIN_REFETCH_INTERVAL": "10ms"})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	wantKey(t, "before rotation", svc.get(t, env.Token(t, owner), show.ID, nil))
	old := env.Token(t, owner)

	env.Issuer.Rotate(t)
	wantKey(t, "token signed with the new key", svc.get(t, env.Token(t, owner), show.ID, nil))
	wantKey(t, "token signed with the previous key", svc.get(t, old, show.ID, nil))
	forged := env.Token(t, owner, authtest.WithKID("no-such-kid"))
	wantError(t, "token with a kid nobody published", svc.get(t, forged, show.ID, nil), 401, "Invalid or expired token")
}
