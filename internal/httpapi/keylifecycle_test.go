package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"

	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

const (
	rotatePath = "/functions/v1/rotate-ivs-stream-key"
	revokePath = "/functions/v1/revoke-ivs-stream-key"
	auditPath  = "/functions/v1/ivs-audit"
)

// keyExists reports whether IVS still has the key.
func keyExists(t *testing.T, env *testenv.Env, arn string) bool {
	t.Helper()
	_, err := env.IVS.GetStreamKey(context.Background(), &ivs.GetStreamKeyInput{Arn: aws.String(arn)})
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return false
	}
	if err != nil {
		t.Fatalf("GetStreamKey: %v", err)
	}
	return true
}

// The rotate endpoint's answers. What a rotation does (the old key deleted
// before a live stream is stopped, the new key recorded and served, a
// failed rotation repaired by the next get) is internal/ingest's
// TestRotation and TestFailedRotationIsRepairedByTheNextGet.
func TestRotation(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)
	body := `{"showId":"` + show.ID + `"}`

	old := wantKey(t, "first get", svc.get(t, token, show.ID, nil))
	if rotated := wantKey(t, "rotate", call(t, http.MethodPost, svc.URL+rotatePath, token, body, nil)); rotated == old {
		t.Fatal("rotation returned the old key")
	}

	// Who may rotate is who may get.
	pending := env.Seller(t, "pending")
	wantError(t, "rotate by a pending seller", call(t, http.MethodPost, svc.URL+rotatePath, env.Token(t, pending), `{"showId":"`+env.Show(t, pending, true).ID+`"}`, nil),
		403, "Seller not approved")
	other := env.Seller(t, "approved")
	wantError(t, "rotate another seller's show", call(t, http.MethodPost, svc.URL+rotatePath, env.Token(t, other), body, nil),
		403, "You do not own this show")
	admin := env.Admin(t)
	wantKey(t, "rotate by an admin impersonating the owner", call(t, http.MethodPost, svc.URL+rotatePath, env.Token(t, admin), body,
		map[string]string{"X-Impersonate-Seller-Id": owner.SellerID}))
}

// The revoke endpoint's answers and its reason's checks. What a revocation
// does, and who may, is internal/ingest's TestRevocation.
func TestRevocation(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, map[string]string{"STREAM_KEY_CACHE_TTL": "0"})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)
	revoke := func(tok, showID, extra string) response {
		return call(t, http.MethodPost, svc.URL+revokePath, tok, `{"showId":"`+showID+`"`+extra+`}`, nil)
	}

	wantKey(t, "first get", svc.get(t, token, show.ID, nil))
	r := revoke(token, show.ID, `,"reason":"key pasted in a public chat"`)
	if r.Status != 200 || r.Body["revoked"] != true || len(r.Body) != 1 {
		t.Fatalf("revoke by the owner = %s, want 200 {\"revoked\": true}", r)
	}
	// Refusals answer as the error table says.
	pending := env.Seller(t, "pending")
	wantError(t, "revoke by another seller", revoke(env.Token(t, pending), show.ID, ""), 403, "You do not own this show")
	wantError(t, "revoke by a user who is not a seller", revoke(env.Token(t, env.User(t)), show.ID, ""), 403, "Seller profile not found")
	wantError(t, "revoke with a non-string reason", revoke(token, show.ID, `,"reason":42`), 400, "reason must be a string of at most 500 characters, without control or format characters")
	wantError(t, "revoke with a reason that carries a newline", revoke(token, show.ID, `,"reason":"a\nforged row"`), 400,
		"reason must be a string of at most 500 characters, without control or format characters")
	// Format characters make a reason display as other text than was
	// written: bidi overrides and isolates reorder it, zero-width ones hide.
	for _, c := range []struct{ what, escaped string }{
		{"a right-to-left override (U+202E)", `\u202e`},
		{"a left-to-right embedding (U+202A)", `\u202a`},
		{"a first-strong isolate (U+2068)", `\u2068`},
		{"a pop directional isolate (U+2069)", `\u2069`},
		{"a zero-width space (U+200B)", `\u200b`},
		{"a zero-width joiner (U+200D)", `\u200d`},
		{"a byte order mark (U+FEFF)", `\ufeff`},
		{"a soft hyphen (U+00AD)", `\u00ad`},
		{"a line separator (U+2028)", `\u2028`},
		{"a C1 control (U+0085)", `\u0085`},
	} {
		wantError(t, "revoke with a reason that carries "+c.what, revoke(token, show.ID, `,"reason":"key leaked `+c.escaped+`in chat"`), 400,
			"reason must be a string of at most 500 characters, without control or format characters")
	}
	wantError(t, "revoke a show without a channel", revoke(token, env.Show(t, owner, false).ID, ""), 400, "Show does not have IVS channel configured")
}

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	pending := env.Seller(t, "pending")
	pendingShow := env.Show(t, pending, true)
	admin := env.Admin(t)
	token := env.Token(t, owner)
	body := `{"showId":"` + show.ID + `"}`

	var keys []string
	keep := func(r response) {
		if k, ok := r.Body["streamKey"].(string); ok {
			keys = append(keys, k)
		}
	}
	keep(svc.get(t, token, show.ID, map[string]string{"User-Agent": "obs-helper/1.0"})) // create
	keep(svc.get(t, token, show.ID, nil))                                               // get
	keep(call(t, http.MethodPost, svc.URL+rotatePath, token, body, nil))                // rotate
	call(t, http.MethodPost, svc.URL+revokePath, env.Token(t, admin), `{"showId":"`+show.ID+`","reason":"leaked"}`, nil)
	svc.get(t, env.Token(t, pending), pendingShow.ID, nil) // denied
	keep(svc.get(t, env.Token(t, admin), pendingShow.ID, map[string]string{"X-Impersonate-Seller-Id": pending.SellerID}))
	svc.get(t, "", show.ID, nil) // no token: no row

	r := call(t, http.MethodGet, svc.URL+auditPath+"?showId="+show.ID+"&limit=10", token, "", nil)
	if r.Status != 200 {
		t.Fatalf("GET ivs-audit by the owner = %s, want 200", r)
	}
	entries, _ := r.Body["entries"].([]any)
	type row struct{ action, outcome, status, actor, seller, keyARN, ua, reason string }
	var got []row
	for _, e := range entries {
		m := e.(map[string]any)
		str := func(k string) string { v, _ := m[k].(string); return v }
		got = append(got, row{str("action"), str("outcome"), strconv.Itoa(int(m["httpStatus"].(float64))), str("actorUserId"),
			str("sellerId"), str("streamKeyArn"), str("userAgent"), str("reason")})
		ip := "127.0.0.1"
		if str("actorUserId") == "" {
			ip = "" // the admin's revocation, in the owner's view
		}
		if str("requestId") == "" || str("occurredAt") == "" || str("showId") != show.ID || str("clientIp") != ip {
			t.Errorf("audit entry %v lacks its request id, time or show, or has client ip %q, want %q", m, str("clientIp"), ip)
		}
	}
	if r.Body["otherEntries"] != float64(0) {
		t.Errorf("otherEntries = %v, want 0: nobody else named the show", r.Body["otherEntries"])
	}
	// Newest first: revoke, rotate, get, create. (The owner's audit read is
	// audited after it is answered, so it is not in its own answer.) The
	// admin's revocation comes without who did it or from where.
	want := []row{
		{"revoke", "allowed", "200", "", owner.SellerID, "", "", "leaked"},
		{"rotate", "allowed", "200", owner.ID, owner.SellerID, "arn", "Go-http-client/1.1", ""},
		{"get", "allowed", "200", owner.ID, owner.SellerID, "arn", "Go-http-client/1.1", ""},
		{"create", "allowed", "200", owner.ID, owner.SellerID, "arn", "obs-helper/1.0", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("audit entries for the show = %d (%v), want %d", len(got), got, len(want))
	}
	for i := range want {
		g := got[i]
		if want[i].keyARN == "arn" {
			if !strings.HasPrefix(g.keyARN, "arn:aws:ivs:us-east-1:") {
				t.Errorf("entry %d: stream key ARN %q, want the key's ARN", i, g.keyARN)
			}
			g.keyARN = "arn"
		} else if want[i].action == "revoke" && !strings.HasPrefix(g.keyARN, "arn:aws:ivs:") {
			t.Errorf("revoke entry: stream key ARN %q, want the revoked key's", g.keyARN)
		}
		if want[i].action == "revoke" {
			g.keyARN = ""
		}
		if g != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, g, want[i])
		}
	}

	// The denied request and the admin's impersonated get are on the other
	// show; only admins read every show's trail.
	r = call(t, http.MethodGet, svc.URL+auditPath+"?showId="+pendingShow.ID, env.Token(t, admin), "", nil)
	entries, _ = r.Body["entries"].([]any)
	if r.Status != 200 || len(entries) != 2 {
		t.Fatalf("admin's audit read of the pending show = %s, want 2 entries", r)
	}
	first := entries[1].(map[string]any) // oldest: the pending seller's denied get
	if first["outcome"] != "denied" || first["httpStatus"] != float64(403) || first["action"] != "get" {
		t.Errorf("denied request's entry = %v, want get/denied/403", first)
	}
	imp := entries[0].(map[string]any)
	if imp["impersonatedSellerId"] != pending.SellerID || imp["actorUserId"] != admin.ID {
		t.Errorf("impersonated get's entry = %v, want the admin as actor and the pending seller impersonated", imp)
	}
	wantError(t, "a seller reading another seller's show", call(t, http.MethodGet, svc.URL+auditPath+"?showId="+show.ID, env.Token(t, pending), "", nil),
		403, "You do not own this show")
	wantError(t, "a seller reading every show", call(t, http.MethodGet, svc.URL+auditPath, token, "", nil),
		403, "Only admins can read the audit log of every show")
	wantError(t, "a bad limit", call(t, http.MethodGet, svc.URL+auditPath+"?showId="+show.ID+"&limit=0", token, "", nil),
		400, "limit must be a whole number from 1 to 500")
	if r := call(t, http.MethodGet, svc.URL+auditPath, env.Token(t, admin), "", nil); r.Status != 200 {
		t.Errorf("an admin reading every show = %s, want 200", r)
	}

	// Exactly one row per authenticated request: 6 requests above, then
	// 6 audit reads (the request without a token wrote none).
	n := queryStrings(t, env.DatabaseURL, `SELECT count(*) FROM ivs_ingest.audit_log`)[0]
	if n != "12" {
		t.Errorf("audit rows = %s, want 12 (one per request with a valid token)", n)
	}
	dump := strings.Join(queryStrings(t, env.DatabaseURL, `SELECT string_agg(to_jsonb(a)::text, ' ') FROM ivs_ingest.audit_log a`), "")
	if len(keys) < 3 {
		t.Fatalf("only %d keys handed out: the check below would be empty", len(keys))
	}
	for i, k := range keys {
		if strings.Contains(dump, k) {
			t.Errorf("the audit log holds key #%d", i)
		}
	}
	if strings.Contains(dump, token) || strings.Contains(dump, strings.Split(token, ".")[2]) {
		t.Error("the audit log holds a token")
	}
}

// No key leaves without its audit row.
func TestNoKeyWithoutAuditRow(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	pgtest.Exec(t, env.DatabaseURL, `ALTER TABLE ivs_ingest.audit_log RENAME TO audit_log_unwritable`)

	for _, r := range []response{
		svc.get(t, env.Token(t, owner), show.ID, nil),
		call(t, http.MethodPost, svc.URL+rotatePath, env.Token(t, owner), `{"showId":"`+show.ID+`"}`, nil),
	} {
		wantError(t, "get or rotate while the audit log is unwritable", r, 500, "Internal server error")
		if _, ok := r.Body["streamKey"]; ok || strings.Contains(r.Raw, "sk_") {
			t.Error("a key left without its audit row")
		}
	}
	if !strings.Contains(svc.logs.String(), "insert audit row") {
		t.Error("the log does not say the audit row failed")
	}
}

func TestRequestRateLimit(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, map[string]string{"RATE_LIMIT_REQUESTS_PER_MINUTE": "3"})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)
	for i := range 3 {
		wantKey(t, "request "+strconv.Itoa(i+1), svc.get(t, token, show.ID, nil))
	}
	r := svc.get(t, token, show.ID, nil)
	wantError(t, "4th request in a minute", r, 429, "Too many requests")
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After = %q, want whole seconds from 1 to 60", r.Header.Get("Retry-After"))
	}
	if r.Body["retryAfter"] != float64(ra) {
		t.Errorf("body retryAfter = %v, want %d like the header", r.Body["retryAfter"], ra)
	}
	// Another user is not affected.
	other := env.Seller(t, "approved")
	wantKey(t, "another user's request", svc.get(t, env.Token(t, other), env.Show(t, other, true).ID, nil))
}

// A refused creation answers 429 with a Retry-After of about an hour, the
// same in the header and the body. That the limit holds across replicas is
// internal/ingest's TestKeyCreationLimitAcrossReplicas; keys past their
// maximum age are its TestExpiredKeysAreRotatedWhenOffline.
func TestKeyCreationLimitAnswersRetryAfter(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, map[string]string{"RATE_LIMIT_KEY_CREATES_PER_HOUR": "1"})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)

	wantKey(t, "the hour's one creation", svc.get(t, token, show.ID, nil))
	r := call(t, http.MethodPost, svc.URL+rotatePath, token, `{"showId":"`+show.ID+`"}`, nil)
	wantError(t, "the 2nd creation in an hour", r, 429, "Too many requests")
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra < 3000 || ra > 3600 || r.Body["retryAfter"] != float64(ra) {
		t.Errorf("Retry-After = %q, body %v; want about an hour, the same in both", r.Header.Get("Retry-After"), r.Body["retryAfter"])
	}
	// Reading the existing key is not a creation.
	wantKey(t, "get after the limit", svc.get(t, token, show.ID, nil))
}
