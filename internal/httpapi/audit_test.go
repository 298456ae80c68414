package httpapi_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// auditEntries returns the entries of an ivs-audit answer.
func auditEntries(t *testing.T, what string, r response) []map[string]any {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s = %s, want 200", what, r)
	}
	raw, ok := r.Body["entries"].([]any)
	if !ok {
		t.Fatalf("%s: no entries array: %s", what, r)
	}
	out := make([]map[string]any, len(raw))
	for i, e := range raw {
		out[i] = e.(map[string]any)
	}
	return out
}

// The owner's view: their own rows, admins' rows without who or from
// where, and other users' rows only as a count.
func TestAuditOwnerView(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	admin := env.Admin(t)
	otherSeller := env.Seller(t, "approved")
	stranger := env.User(t)
	token := env.Token(t, owner)

	wantKey(t, "the owner's get", svc.get(t, token, show.ID, map[string]string{"User-Agent": "obs-helper/1.0"}))
	wantKey(t, "the admin's impersonated get", svc.get(t, env.Token(t, admin), show.ID,
		map[string]string{"X-Impersonate-Seller-Id": owner.SellerID, "User-Agent": "admin-console/2.0"}))
	wantError(t, "another seller's get", svc.get(t, env.Token(t, otherSeller), show.ID, map[string]string{"User-Agent": "probe/1"}),
		403, "You do not own this show")
	wantError(t, "a stranger's get", svc.get(t, env.Token(t, stranger), show.ID, nil), 403, "Seller profile not found")

	r := call(t, http.MethodGet, svc.URL+auditPath+"?showId="+show.ID, token, "", nil)
	entries := auditEntries(t, "the owner's read", r)
	if len(entries) != 2 {
		t.Fatalf("the owner's read = %s, want 2 entries (the admin's and their own)", r)
	}
	adm, own := entries[0], entries[1]
	for _, field := range []string{"actorUserId", "clientIp", "userAgent"} {
		if v, ok := adm[field]; ok {
			t.Errorf("the admin's entry in the owner's view has %s %v, want none", field, v)
		}
	}
	if adm["impersonatedSellerId"] != owner.SellerID || adm["action"] != "get" {
		t.Errorf("the admin's entry = %v, want the get impersonating the owner", adm)
	}
	if own["actorUserId"] != owner.ID || own["clientIp"] != "127.0.0.1" || own["userAgent"] != "obs-helper/1.0" || own["action"] != "create" {
		t.Errorf("the owner's own entry = %v, want it whole", own)
	}
	if r.Body["otherEntries"] != float64(2) {
		t.Errorf("otherEntries = %v, want 2 (the other seller's and the stranger's denials)", r.Body["otherEntries"])
	}
	for _, leak := range []string{admin.ID, otherSeller.ID, stranger.ID, "admin-console", "probe/1"} {
		if strings.Contains(r.Raw, leak) {
			t.Errorf("the owner's read shows %q, which is not theirs to see", leak)
		}
	}
	if _, ok := r.Body["nextCursor"]; ok {
		t.Errorf("the owner's read has a nextCursor with every entry on the page: %s", r)
	}

	// Filters apply to the count too.
	r = call(t, http.MethodGet, svc.URL+auditPath+"?showId="+show.ID+"&outcome=denied", token, "", nil)
	if e := auditEntries(t, "the owner's denials", r); len(e) != 0 || r.Body["otherEntries"] != float64(2) {
		t.Errorf("the owner's read of denials = %s, want no entries and otherEntries 2", r)
	}
	future := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	r = call(t, http.MethodGet, svc.URL+auditPath+"?showId="+show.ID+"&since="+future, token, "", nil)
	if e := auditEntries(t, "the owner's read since an hour ahead", r); len(e) != 0 || r.Body["otherEntries"] != float64(0) {
		t.Errorf("the owner's read since an hour ahead = %s, want nothing and otherEntries 0", r)
	}

	// Admins see everything, as it is, with no count.
	r = call(t, http.MethodGet, svc.URL+auditPath+"?showId="+show.ID+"&outcome=denied", env.Token(t, admin), "", nil)
	entries = auditEntries(t, "the admin's read of denials", r)
	var actors []string
	for _, e := range entries {
		actors = append(actors, e["actorUserId"].(string))
	}
	if !slices.Equal(actors, []string{stranger.ID, otherSeller.ID}) || entries[1]["userAgent"] != "probe/1" {
		t.Errorf("the admin's read of denials = %s, want the stranger's and the other seller's, whole", r)
	}
	if _, ok := r.Body["otherEntries"]; ok {
		t.Errorf("the admin's read has otherEntries: %s", r)
	}
}

// Paging with nextCursor loses and repeats nothing while rows are added
// (each page's own read adds one), and the query parameters are checked.
func TestAuditPagingAndParameters(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, false)
	token := env.Token(t, owner)
	for range 5 {
		wantError(t, "a get of a show without a channel", svc.get(t, token, show.ID, nil), 400, "Show does not have IVS channel configured")
	}
	base := svc.URL + auditPath + "?showId=" + show.ID
	ids := func(entries []map[string]any) []float64 {
		var out []float64
		for _, e := range entries {
			out = append(out, e["id"].(float64))
		}
		return out
	}
	before := ids(auditEntries(t, "the whole trail", call(t, http.MethodGet, base+"&limit=500", token, "", nil)))
	if len(before) != 5 {
		t.Fatalf("the trail has %d entries, want the 5 gets", len(before))
	}

	var paged []float64
	next := base + "&limit=2"
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("the pages do not end")
		}
		r := call(t, http.MethodGet, next, token, "", nil)
		paged = append(paged, ids(auditEntries(t, "a page", r))...)
		c, ok := r.Body["nextCursor"].(string)
		if !ok {
			break
		}
		next = base + "&limit=2&cursor=" + url.QueryEscape(c)
	}
	// The first page also holds the read of the whole trail, written
	// before it; the rows of the page reads themselves are newer than
	// every page and on none.
	if len(paged) != len(before)+1 || !slices.Equal(paged[1:], before) {
		t.Errorf("paged ids = %v, want the whole trail's read, then %v", paged, before)
	}

	notACursor := base64.RawURLEncoding.EncodeToString([]byte("after:12"))
	for _, tt := range []struct{ query, message string }{
		{"&cursor=garbage!", "cursor must be the nextCursor of an earlier answer, unchanged"},
		{"&cursor=" + notACursor, "cursor must be the nextCursor of an earlier answer, unchanged"},
		{"&cursor=" + base64.RawURLEncoding.EncodeToString([]byte("before:-3")), "cursor must be the nextCursor of an earlier answer, unchanged"},
		{"&since=yesterday", "since must be an RFC 3339 timestamp such as 2026-12-01T00:00:00Z"},
		{"&since=2026-12-01", "since must be an RFC 3339 timestamp such as 2026-12-01T00:00:00Z"},
		{"&outcome=ok", "outcome must be allowed, denied or error"},
		{"&limit=501", "limit must be a whole number from 1 to 500"},
	} {
		wantError(t, "ivs-audit with "+tt.query, call(t, http.MethodGet, base+tt.query, token, "", nil), 400, tt.message)
	}
	past := url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339Nano))
	r := call(t, http.MethodGet, base+"&outcome=denied&since="+past, token, "", nil)
	denied := auditEntries(t, "denials since an hour ago", r)
	for _, e := range denied {
		if e["outcome"] != "denied" {
			t.Errorf("denials since an hour ago hold %v", e)
		}
	}
	if len(denied) != 12 {
		t.Errorf("denials since an hour ago = %d entries, want 12 (the 5 gets, the 7 refused reads)", len(denied))
	}
}

// A seller reading their show's trail after an admin revoked its key sees
// the revocation (what, when, why) but not the admin's id, address or user
// agent; the admin reading the same trail sees them.
func TestAuditOwnerViewOfAnAdminsRevocation(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	admin := env.Admin(t)
	wantKey(t, "the owner's get", svc.get(t, env.Token(t, owner), show.ID, nil))
	r := call(t, http.MethodPost, svc.URL+revokePath, env.Token(t, admin), `{"showId":"`+show.ID+`","reason":"key pasted in a public chat"}`,
		map[string]string{"User-Agent": "admin-console/2.0"})
	if r.Status != http.StatusOK {
		t.Fatalf("the admin's revocation = %s, want 200", r)
	}

	// revocation finds the revoke entry of a read's answer.
	revocation := func(what string, r response) map[string]any {
		t.Helper()
		for _, e := range auditEntries(t, what, r) {
			if e["action"] == "revoke" {
				return e
			}
		}
		t.Fatalf("%s = %s, want the revocation's entry", what, r)
		return nil
	}
	r = call(t, http.MethodGet, svc.URL+auditPath+"?showId="+show.ID, env.Token(t, owner), "", nil)
	seen := revocation("the owner's read", r)
	for _, field := range []string{"actorUserId", "clientIp", "userAgent"} {
		if v, ok := seen[field]; ok {
			t.Errorf("the admin's revocation in the owner's view has %s %v, want none", field, v)
		}
	}
	if seen["reason"] != "key pasted in a public chat" || seen["outcome"] != "allowed" || seen["sellerId"] != owner.SellerID {
		t.Errorf("the admin's revocation in the owner's view = %v, want its reason, outcome and seller", seen)
	}
	for _, leak := range []string{admin.ID, "admin-console"} {
		if strings.Contains(r.Raw, leak) {
			t.Errorf("the owner's read shows %q", leak)
		}
	}

	r = call(t, http.MethodGet, svc.URL+auditPath+"?showId="+show.ID, env.Token(t, admin), "", nil)
	whole := revocation("the admin's read", r)
	if whole["actorUserId"] != admin.ID || whole["clientIp"] != "127.0.0.1" || whole["userAgent"] != "admin-console/2.0" {
		t.Errorf("the revocation in the admin's view = %v, want the admin's id, address and user agent", whole)
	}
}

// The row of a request refused because the show is someone else's names the
// show's seller, whichever endpoint was asked; the answer does not.
func TestDenialNamesTheShowsSeller(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	other := env.Seller(t, "approved")
	admin := env.Admin(t)
	token := env.Token(t, other)
	body := `{"showId":"` + show.ID + `"}`

	for _, tt := range []struct {
		what string
		r    response
	}{
		{"get", svc.get(t, token, show.ID, nil)},
		{"rotate", call(t, http.MethodPost, svc.URL+rotatePath, token, body, nil)},
		{"revoke", call(t, http.MethodPost, svc.URL+revokePath, token, body, nil)},
		{"audit_read", call(t, http.MethodGet, svc.URL+auditPath+"?showId="+show.ID, token, "", nil)},
		{"get", svc.get(t, env.Token(t, admin), show.ID, map[string]string{"X-Impersonate-Seller-Id": other.SellerID})},
	} {
		wantError(t, "another seller's "+tt.what, tt.r, 403, "You do not own this show")
		if strings.Contains(tt.r.Raw, owner.SellerID) {
			t.Errorf("the refusal of another seller's %s names the show's seller: %s", tt.what, tt.r)
		}
	}

	r := call(t, http.MethodGet, svc.URL+auditPath+"?showId="+show.ID+"&outcome=denied", env.Token(t, admin), "", nil)
	entries := auditEntries(t, "the admin's read of denials", r)
	if len(entries) != 5 {
		t.Fatalf("the admin's read of denials = %s, want the 5 refusals", r)
	}
	for _, e := range entries {
		if e["sellerId"] != owner.SellerID || e["httpStatus"] != float64(403) {
			t.Errorf("the refusal's row %v has sellerId %v, want the show's seller %s", e, e["sellerId"], owner.SellerID)
		}
	}
	rows := queryStrings(t, env.DatabaseURL, `SELECT count(*) FROM ivs_ingest.audit_log
		WHERE outcome = 'denied' AND seller_id = '`+owner.SellerID+`' AND show_id = '`+show.ID+`'`)
	if rows[0] != "5" {
		t.Errorf("denied rows naming the show's seller in seller_id = %s, want 5", rows[0])
	}
}
