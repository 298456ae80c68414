package httpapi_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/auth/authtest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// The MFA gate (REQUIRE_MFA=true) over HTTP with real tokens of every
// kind: get, rotate and revoke need aal2, admins' requests too; the audit
// read stays open.

const mfaRequired = "Multi-factor authentication required"

// auditRowOf returns the audit rows of r's request: their count and, for
// each, "action outcome status actor show".
func auditRowOf(t *testing.T, env *testenv.Env, r response) []string {
	t.Helper()
	return queryStrings(t, env.DatabaseURL, `SELECT count(*), coalesce(string_agg(action || ' ' || outcome || ' ' || http_status || ' ' ||
		actor_user_id || ' ' || coalesce(show_id::text, '-'), ','), '') FROM ivs_ingest.audit_log
		WHERE request_id = '`+r.Header.Get("X-Request-Id")+`'`)
}

func TestMFAGate(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, map[string]string{"REQUIRE_MFA": "true"})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	admin := env.Admin(t)
	body := `{"showId":"` + show.ID + `"}`
	asOwner := map[string]string{"X-Impersonate-Seller-Id": owner.SellerID}

	endpoints := []struct {
		name, path, action string
	}{
		{"get", path, "get"},
		{"rotate", rotatePath, "rotate"},
		{"revoke", revokePath, "revoke"},
	}
	callers := []struct {
		name   string
		user   testenv.User
		header func(endpoint string) map[string]string
	}{
		{"the owner", owner, func(string) map[string]string { return nil }},
		// An admin gets and rotates as the seller, and revokes any show's
		// key as themselves: all gated on the admin's own sign-in.
		{"an admin", admin, func(endpoint string) map[string]string {
			if endpoint == "revoke" {
				return nil
			}
			return asOwner
		}},
	}
	refused := []struct {
		name string
		opts []authtest.Option
	}{
		{"ES256 aal1", []authtest.Option{authtest.WithAAL("aal1")}},
		{"RS256 aal1", []authtest.Option{authtest.WithAlg("RS256"), authtest.WithAAL("aal1")}},
		{"HS256 aal1", []authtest.Option{authtest.WithAlg("HS256"), authtest.WithAAL("aal1")}},
		{"ES256 without aal", []authtest.Option{authtest.WithAAL("")}},
		{"RS256 without aal", []authtest.Option{authtest.WithAlg("RS256"), authtest.WithAAL("")}},
		{"HS256 without aal", []authtest.Option{authtest.WithAlg("HS256"), authtest.WithAAL("")}},
	}

	env.Emulator.ResetCounts()
	for _, ep := range endpoints {
		for _, c := range callers {
			for _, tok := range refused {
				what := ep.name + " by " + c.name + " with " + tok.name
				r := call(t, http.MethodPost, svc.URL+ep.path, env.Token(t, c.user, tok.opts...), body, c.header(ep.name))
				wantError(t, what, r, 403, mfaRequired)
				if h := r.Header.Get("WWW-Authenticate"); h != "" {
					t.Errorf("%s: WWW-Authenticate = %q, want none (the token is valid; a 403 is no challenge)", what, h)
				}
				// One row, a denial, decided before the body is read: it
				// names the caller and what they asked for, not the show.
				want := ep.action + " denied 403 " + c.user.ID + " -"
				if got := auditRowOf(t, env, r); got[0] != "1" || got[1] != want {
					t.Errorf("%s: audit rows %v, want one: %q", what, got, want)
				}
			}
		}
	}
	if n := env.Emulator.TotalCalls(); n != 0 {
		t.Errorf("refused requests made %d IVS calls, want 0", n)
	}
	if arn := queryStrings(t, env.DatabaseURL, `SELECT coalesce(ivs_stream_key_arn, '') FROM public.shows WHERE id = '`+show.ID+`'`)[0]; arn != "" {
		t.Errorf("the show has a key after refused requests only")
	}

	// Decided before the body is read: a bad body still gets the 403.
	wantError(t, "get with aal1 and no showId", call(t, http.MethodPost, svc.URL+path, env.Token(t, owner), `{}`, nil), 403, mfaRequired)

	// aal2, of every kind of token, passes.
	wantKey(t, "get by the owner with ES256 aal2", svc.get(t, env.Token(t, owner, authtest.WithAAL("aal2")), show.ID, nil))
	wantKey(t, "rotate by the owner with RS256 aal2",
		call(t, http.MethodPost, svc.URL+rotatePath, env.Token(t, owner, authtest.WithAlg("RS256"), authtest.WithAAL("aal2")), body, nil))
	if r := call(t, http.MethodPost, svc.URL+revokePath, env.Token(t, owner, authtest.WithAlg("HS256"), authtest.WithAAL("aal2")), body, nil); r.Status != 200 {
		t.Errorf("revoke by the owner with HS256 aal2 = %s, want 200", r)
	}
	aal2Admin := env.Token(t, admin, authtest.WithAAL("aal2"))
	wantKey(t, "get by an admin as the owner with aal2", svc.get(t, aal2Admin, show.ID, asOwner))
	wantKey(t, "rotate by an admin as the owner with aal2", call(t, http.MethodPost, svc.URL+rotatePath, aal2Admin, body, asOwner))
	if r := call(t, http.MethodPost, svc.URL+revokePath, aal2Admin, body, nil); r.Status != 200 {
		t.Errorf("revoke by an admin with aal2 = %s, want 200", r)
	}

	// The audit read is open to aal1: it shows no key, and it is where
	// the owner sees what was done on their show.
	r := call(t, http.MethodGet, svc.URL+auditPath+"?showId="+show.ID, env.Token(t, owner), "", nil)
	if entries := auditEntries(t, "audit read by the owner with aal1", r); len(entries) == 0 {
		t.Errorf("audit read by the owner with aal1 = %s, want the show's entries", r)
	}
}

// Off (the default), tokens with aal1 or without aal get, rotate and revoke.
func TestMFAGateOff(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	body := `{"showId":"` + show.ID + `"}`
	for _, aal := range []string{"aal1", ""} {
		token := env.Token(t, owner, authtest.WithAAL(aal))
		wantKey(t, "get with aal "+strconv.Quote(aal), svc.get(t, token, show.ID, nil))
		wantKey(t, "rotate with aal "+strconv.Quote(aal), call(t, http.MethodPost, svc.URL+rotatePath, token, body, nil))
	}
	if r := call(t, http.MethodPost, svc.URL+revokePath, env.Token(t, owner, authtest.WithAAL("")), body, nil); r.Status != 200 {
		t.Errorf("revoke without aal = %s, want 200", r)
	}
}

// The gate answers before the per-user limit, so a caller without the
// second factor is told so, not to slow down; but the refusals count
// against the limit, and over it only the first a minute writes its row,
// as the limit's own refusals do.
func TestMFAGateComesBeforeTheUserLimit(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, map[string]string{"REQUIRE_MFA": "true", "RATE_LIMIT_REQUESTS_PER_MINUTE": "10"})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)
	for i := range 15 {
		r := svc.get(t, token, show.ID, nil)
		wantError(t, "aal1 request "+strconv.Itoa(i+1), r, 403, mfaRequired)
		if r.Header.Get("Retry-After") != "" {
			t.Errorf("aal1 request %d: Retry-After %q on a 403", i+1, r.Header.Get("Retry-After"))
		}
	}
	rows := queryStrings(t, env.DatabaseURL, `SELECT count(*) FILTER (WHERE http_status = 403), count(*) FROM ivs_ingest.audit_log
		WHERE actor_user_id = '`+owner.ID+`'`)
	if rows[0] != "11" || rows[1] != "11" {
		t.Errorf("audit rows: %s refusals of %s in all, want 11 of 11 (10 within the limit and the first over it)", rows[0], rows[1])
	}
	families, _ := scrape(t, svc, "")
	if got := sample(families, "ivs_ingest_unaudited_refusals_total", nil); got != 4 {
		t.Errorf("ivs_ingest_unaudited_refusals_total = %v, want 4", got)
	}
	// The refusals spent the user's burst: their aal2 request now meets
	// the limit.
	wantError(t, "aal2 request after 15 refusals", svc.get(t, env.Token(t, owner, authtest.WithAAL("aal2")), show.ID, nil), 429, "Too many requests")
}
