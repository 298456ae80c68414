package httpapi_test

import (
	"maps"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/auth/authtest"
	"github.com/ivs-ingest/ivs-ingest/internal/httpapi"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
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

// Access-Control-Allow-Methods names the route's own methods on each of its
// answers (preflight, success, errors, 405), as api/openapi.yaml lists them:
// a GET endpoint does not claim POST. A path no route serves names none.
func TestCORSMethodsPerRoute(t *testing.T) {
	t.Parallel()
	spec := newContract(t)
	env := testenv.New(t, testenv.Options{})
	// A transport serving every route, the stream status ones included.
	streams := startStreams(t, env, nil, httpapi.Config{EventsToken: secret.New(eventsToken)})
	svc := streams.base
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)
	origin := map[string]string{"Origin": "https://shop.example"}

	want := map[string]string{
		path:            "POST, OPTIONS",
		rotatePath:      "POST, OPTIONS",
		revokePath:      "POST, OPTIONS",
		auditPath:       "GET, OPTIONS",
		statusPath:      "GET, OPTIONS",
		eventsPath:      "POST",
		"/healthz":      "GET, HEAD",
		"/readyz":       "GET, HEAD",
		"/metrics":      "GET, HEAD",
		"/openapi.yaml": "GET, HEAD",
	}
	paths := 0
	for p, item := range spec.model.Paths.PathItems.FromOldest() {
		paths++
		methods, ok := want[p]
		if !ok {
			t.Errorf("api/openapi.yaml lists %s, which this test has no methods for", p)
			continue
		}
		var listed []string
		for m := range item.GetOperations().KeysFromOldest() {
			listed = append(listed, strings.ToUpper(m))
		}
		if got := strings.Join(listed, ", "); got != methods {
			t.Errorf("api/openapi.yaml lists %s for %s, want %s", got, p, methods)
		}
		// Each listed method without a token (a preflight, a 401, a probe),
		// and one the path does not serve.
		for _, m := range append(listed, http.MethodDelete) {
			header := maps.Clone(origin)
			if m == http.MethodOptions {
				header["Access-Control-Request-Method"] = strings.Split(methods, ", ")[0]
			}
			r := call(t, m, streams.URL+p, "", "", header)
			if got := r.Header.Get("Access-Control-Allow-Methods"); got != methods {
				t.Errorf("%s %s = %d with Access-Control-Allow-Methods %q, want %q", m, p, r.Status, got, methods)
			}
		}
	}
	if paths != len(want) {
		t.Errorf("api/openapi.yaml lists %d paths, want the %d above", paths, len(want))
	}
	// Successes and errors past the token.
	for _, c := range []struct {
		name    string
		r       response
		status  int
		methods string
	}{
		{"get", svc.get(t, token, show.ID, origin), 200, "POST, OPTIONS"},
		{"get: no such show", svc.get(t, token, testenv.NewID(t), origin), 404, "POST, OPTIONS"},
		{"audit", call(t, http.MethodGet, svc.URL+auditPath+"?showId="+show.ID, token, "", origin), 200, "GET, OPTIONS"},
		{"audit: bad limit", call(t, http.MethodGet, svc.URL+auditPath+"?showId="+show.ID+"&limit=0", token, "", origin), 400, "GET, OPTIONS"},
		{"audit: HEAD", call(t, http.MethodHead, svc.URL+auditPath, token, "", origin), 405, "GET, OPTIONS"},
		{"stream status", call(t, http.MethodGet, streams.URL+statusPath+"?showId="+show.ID, token, "", origin), 200, "GET, OPTIONS"},
		{"stream status: no such show", call(t, http.MethodGet, streams.URL+statusPath+"?showId="+testenv.NewID(t), token, "", origin), 404, "GET, OPTIONS"},
		{"events", call(t, http.MethodPost, streams.URL+eventsPath, eventsToken, streamStartEvent("e1", show.ChannelARN), origin), 200, "POST"},
		{"events: bad token", call(t, http.MethodPost, streams.URL+eventsPath, token, "{}", origin), 401, "POST"},
	} {
		if got := c.r.Header.Get("Access-Control-Allow-Methods"); c.r.Status != c.status || got != c.methods {
			t.Errorf("%s = %d with Access-Control-Allow-Methods %q, want %d with %q", c.name, c.r.Status, got, c.status, c.methods)
		}
	}
	for _, p := range []string{"/nope", "/functions/v1/./get-ivs-ingest"} {
		r := call(t, http.MethodOptions, svc.URL+p, "", "", origin)
		if got, ok := r.Header["Access-Control-Allow-Methods"]; r.Status != 404 || ok {
			t.Errorf("OPTIONS %s = %d with Access-Control-Allow-Methods %q, want 404 without", p, r.Status, got)
		}
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
