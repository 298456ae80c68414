package httpapi_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// The review's H1 on a Supabase project whose app lets sellers edit their
// own shows through the Data API. The attacker's write of another seller's
// channel into their show is refused by the database. Without any write, a
// channel reused across sellers (a pool, a show moved to another seller)
// would give each seller the other's key: the service refuses get, rotate
// and revoke on a channel that shows of two sellers name, to both of them;
// an admin may still revoke its key.
func TestSharedChannelIsRefused(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Supabase: true, App: true})
	svc := start(t, env, nil)
	victim := env.Seller(t, "approved")
	victimShow := env.Show(t, victim, true)
	victimToken := env.Token(t, victim)
	key := wantKey(t, "the victim's first key", svc.get(t, victimToken, victimShow.ID, nil))

	attacker := env.Seller(t, "approved")
	attackerShow := env.Show(t, attacker, false)
	attackerToken := env.Token(t, attacker)
	// The attack through the Data API, as the review reproduced it.
	if err := pgtest.ExecAsAPI(t, env.DatabaseURL, "authenticated", attacker.ID, `UPDATE public.shows SET title = 'mine'
		WHERE id = $1`, attackerShow.ID); err != nil {
		t.Fatalf("the app's own edit of the attacker's show = %v, want allowed", err)
	}
	err := pgtest.ExecAsAPI(t, env.DatabaseURL, "authenticated", attacker.ID,
		`UPDATE public.shows SET ivs_channel_arn = $1, ivs_stream_key_arn = NULL WHERE id = $2`, victimShow.ChannelARN, attackerShow.ID)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" || !strings.Contains(pgErr.Message, "ivs_channel_arn") {
		t.Fatalf("the attacker's write of the victim's channel = %v, want 42501 naming ivs_channel_arn", err)
	}
	wantError(t, "the attacker's get after the refused write", svc.get(t, attackerToken, attackerShow.ID, nil), 400,
		"Show does not have IVS channel configured")
	// The same binding without the attacker's write: the channel reused.
	pgtest.Exec(t, env.DatabaseURL, `UPDATE public.shows SET ivs_channel_arn = $1 WHERE id = $2`, victimShow.ChannelARN, attackerShow.ID)

	const shared = "Channel is shared with another seller's show"
	body := `{"showId":"` + attackerShow.ID + `"}`
	for _, c := range []struct{ what, path string }{
		{"get", path}, {"rotate", rotatePath}, {"revoke", revokePath},
	} {
		r := call(t, http.MethodPost, svc.URL+c.path, attackerToken, body, nil)
		wantError(t, c.what+" by the seller whose show names another seller's channel", r, 403, shared)
		if strings.Contains(r.Raw, key) {
			t.Errorf("%s answer carries the victim's key", c.what)
		}
	}
	wantError(t, "the victim's own get while the channel is shared", svc.get(t, victimToken, victimShow.ID, nil), 403, shared)
	admin := env.Admin(t)
	wantError(t, "an admin's get as the victim while the channel is shared",
		svc.get(t, env.Token(t, admin), victimShow.ID, map[string]string{"X-Impersonate-Seller-Id": victim.SellerID}), 403, shared)
	if got, _ := storedShow(t, env, victimShow.ID); got == "" {
		t.Error("the refused requests cleared the victim's key")
	}
	// An admin may kill the key of a shared channel without impersonating.
	if r := call(t, http.MethodPost, svc.URL+revokePath, env.Token(t, admin), `{"showId":"`+victimShow.ID+`"}`, nil); r.Status != 200 {
		t.Errorf("an admin's revocation on a shared channel = %s, want 200", r)
	}
	// Once the channel is the victim's alone again, the victim gets a key.
	pgtest.Exec(t, env.DatabaseURL, `UPDATE public.shows SET ivs_channel_arn = NULL WHERE id = $1`, attackerShow.ID)
	wantKey(t, "the victim's get after the channel is theirs alone", svc.get(t, victimToken, victimShow.ID, nil))
	// Every refusal is on record, naming the show asked for.
	if n := queryStrings(t, env.DatabaseURL, `SELECT count(*) FROM ivs_ingest.audit_log
		WHERE http_status = 403 AND show_id = '`+attackerShow.ID+`'`)[0]; n != "3" {
		t.Errorf("audit rows of the refused requests on the attacker's show = %s, want 3", n)
	}
	if strings.Contains(strings.Join(queryStrings(t, env.DatabaseURL, `SELECT string_agg(coalesce(reason, '') || coalesce(user_agent, ''), '')
		FROM ivs_ingest.audit_log`), ""), key) {
		t.Error("the audit log holds a key")
	}
}

// The per-user limit refuses before any database work, and writes the audit
// row of a user's first refusal in a rolling minute only: the rest are
// counted. (At 10 a minute, the burst of 10 does not refill within the
// test's few seconds.)
func TestRequestLimitAuditsTheFirstRefusalOnly(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, map[string]string{"RATE_LIMIT_REQUESTS_PER_MINUTE": "10"})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)
	for i := range 10 {
		wantKey(t, "request "+strconv.Itoa(i+1)+" of the burst", svc.get(t, token, show.ID, nil))
	}
	for i := range 5 {
		r := svc.get(t, token, show.ID, nil)
		wantError(t, "request "+strconv.Itoa(11+i)+", past the burst of 10", r, 429, "Too many requests")
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 6 {
			t.Errorf("Retry-After = %q, want whole seconds from 1 to 6 (one request's share of the minute)", r.Header.Get("Retry-After"))
		}
	}
	rows := queryStrings(t, env.DatabaseURL, `SELECT count(*) FILTER (WHERE http_status = 429), count(*) FROM ivs_ingest.audit_log
		WHERE actor_user_id = '`+owner.ID+`'`)
	if rows[0] != "1" || rows[1] != "11" {
		t.Errorf("audit rows: %s refusals of %s in all, want 1 of 11 (10 answers and the first refusal)", rows[0], rows[1])
	}
	families, _ := scrape(t, svc, "")
	if got := sample(families, "ivs_ingest_unaudited_refusals_total", nil); got != 4 {
		t.Errorf("ivs_ingest_unaudited_refusals_total = %v, want 4", got)
	}
	if got := sample(families, "ivs_ingest_rate_limit_rejections_total", map[string]string{"limit": "user_requests"}); got != 5 {
		t.Errorf("user_requests rejections = %v, want 5", got)
	}
}

// RATE_LIMIT_REQUESTS_PER_MINUTE_PER_IP limits a client address before its
// token is even read; the probes and the metrics are never limited.
func TestRequestLimitPerIP(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, map[string]string{"RATE_LIMIT_REQUESTS_PER_MINUTE_PER_IP": "2"})
	for i := range 2 {
		wantError(t, "tokenless request "+strconv.Itoa(i+1), call(t, http.MethodPost, svc.URL+path, "", `{}`, nil), 401, "Missing authorization header")
	}
	owner := env.Seller(t, "approved")
	wantError(t, "third request from the address, with a token", svc.get(t, env.Token(t, owner), env.Show(t, owner, true).ID, nil),
		429, "Too many requests")
	for range 5 {
		for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
			if r := call(t, http.MethodGet, svc.URL+p, "", "", nil); r.Status != 200 {
				t.Errorf("GET %s after the address's limit = %d, want 200", p, r.Status)
			}
		}
	}
}

// RATE_LIMIT_STORE=database (the default in AWS Lambda, where each
// concurrent request may get an environment of its own) keeps the per-user
// limit in the database: two instances share it.
func TestRequestLimitInTheDatabaseHoldsAcrossInstances(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	overrides := map[string]string{"RATE_LIMIT_STORE": "database", "RATE_LIMIT_REQUESTS_PER_MINUTE": "3"}
	a, b := start(t, env, overrides), start(t, env, overrides)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)
	wantKey(t, "1st request, on A", a.get(t, token, show.ID, nil))
	wantKey(t, "2nd request, on B", b.get(t, token, show.ID, nil))
	wantKey(t, "3rd request, on A", a.get(t, token, show.ID, nil))
	wantError(t, "4th request, on B", b.get(t, token, show.ID, nil), 429, "Too many requests")
	wantError(t, "5th request, on A", a.get(t, token, show.ID, nil), 429, "Too many requests")
	other := env.Seller(t, "approved")
	wantKey(t, "another user's request", b.get(t, env.Token(t, other), env.Show(t, other, true).ID, nil))
}

// An owner may revoke a show's key once every 10 s (admins are exempt),
// even with the hourly creation limit spent: killing a leaked key must
// always be possible.
func TestRevocationLimits(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, map[string]string{"RATE_LIMIT_KEY_CREATES_PER_HOUR": "1"})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)
	wantKey(t, "first get: the hour's one creation", svc.get(t, token, show.ID, nil))
	wantError(t, "rotation past the creation limit", call(t, http.MethodPost, svc.URL+rotatePath, token, `{"showId":"`+show.ID+`"}`, nil),
		429, "Too many requests")
	revoke := func(tok string) response {
		return call(t, http.MethodPost, svc.URL+revokePath, tok, `{"showId":"`+show.ID+`"}`, nil)
	}
	if r := revoke(token); r.Status != 200 {
		t.Fatalf("revocation with the creation limit spent = %s, want 200", r)
	}
	r := revoke(token)
	wantError(t, "second revocation of the show within 10 s", r, 429, "Too many requests")
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 10 {
		t.Errorf("Retry-After = %q, want whole seconds from 1 to 10", r.Header.Get("Retry-After"))
	}
	if r := revoke(env.Token(t, env.Admin(t))); r.Status != 200 {
		t.Errorf("an admin's revocation right after = %s, want 200", r)
	}
}

// A rotation writes its audit row in the transaction of its change: one
// row, whose request id the answer carries; a rotation that fails after its
// delete commits the clearing with one row saying it failed.
func TestRotationAuditRowCommitsWithTheChange(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)
	wantKey(t, "first get", svc.get(t, token, show.ID, nil))
	rotate := func() response {
		return call(t, http.MethodPost, svc.URL+rotatePath, token, `{"showId":"`+show.ID+`"}`, nil)
	}
	rowsOf := func(r response) []string {
		return queryStrings(t, env.DatabaseURL, `SELECT count(*), string_agg(action || ' ' || outcome || ' ' || http_status || ' ' ||
			(stream_key_arn IS NOT NULL), ',') FROM ivs_ingest.audit_log WHERE request_id = '`+r.Header.Get("X-Request-Id")+`'`)
	}
	ok := rotate()
	wantKey(t, "rotation", ok)
	if got := rowsOf(ok); got[0] != "1" || got[1] != "rotate allowed 200 true" {
		t.Errorf("audit rows of a rotation = %v, want one: rotate allowed 200 with its key", got)
	}
	env.Emulator.Fail("CreateStreamKey", "InternalServerException")
	failed := rotate()
	env.Emulator.ClearFailures()
	wantError(t, "rotation whose creation fails", failed, 500, "Failed to create stream key")
	if got := rowsOf(failed); got[0] != "1" || got[1] != "rotate error 500 false" {
		t.Errorf("audit rows of a rotation failed after its delete = %v, want one: rotate error 500 without a key", got)
	}
}

// A seller's share of the IVS call budget refuses their IVS-bound requests
// with 429 once spent, before any call slot; other sellers go on.
func TestSellerShareOfTheIVSBudget(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	// Five calls ahead, refilled at one call every 1000 s: a first key (3
	// calls) leaves too few for a second.
	svc := start(t, env, map[string]string{"IVS_MAX_CALLS_PER_SECOND_PER_SELLER": "0.001", "IVS_MAX_QUEUED_CALLS_PER_SELLER": "5"})
	seller := env.Seller(t, "approved")
	token := env.Token(t, seller)
	wantKey(t, "the seller's first new show", svc.get(t, token, env.Show(t, seller, true).ID, nil))
	second := env.Show(t, seller, true)
	calls := env.Emulator.TotalCalls()
	r := svc.get(t, token, second.ID, nil)
	wantError(t, "the seller's second new show at once", r, 429, "Too many requests")
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 900 {
		t.Errorf("Retry-After = %q, want the share's refill (about 1000 s)", r.Header.Get("Retry-After"))
	}
	if n := env.Emulator.TotalCalls() - calls; n != 0 {
		t.Errorf("the refused request made %d IVS calls, want 0", n)
	}
	other := env.Seller(t, "approved")
	wantKey(t, "another seller's new show", svc.get(t, env.Token(t, other), env.Show(t, other, true).ID, nil))
	families, _ := scrape(t, svc, "")
	if got := sample(families, "ivs_ingest_rate_limit_rejections_total", map[string]string{"limit": "ivs_seller_share"}); got != 1 {
		t.Errorf("ivs_seller_share rejections = %v, want 1", got)
	}
}

// A revocation that deleted the key and then failed (StopStream refused)
// commits what it did: the show's key cleared, one audit row saying it
// failed, and the owner may try again at once.
func TestRevocationFailingAfterTheDeleteCommitsTheClearing(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)
	wantKey(t, "first get", svc.get(t, token, show.ID, nil))
	arn, _ := storedShow(t, env, show.ID)
	if err := env.Emulator.SetLive(show.ChannelARN, true); err != nil {
		t.Fatal(err)
	}
	env.Emulator.Fail("StopStream", "InternalServerException")
	r := call(t, http.MethodPost, svc.URL+revokePath, token, `{"showId":"`+show.ID+`"}`, nil)
	env.Emulator.ClearFailures()
	wantError(t, "revocation whose StopStream fails", r, 500, "Failed to create stream key")
	if keyExists(t, env, arn) {
		t.Error("the key still exists in IVS")
	}
	if got, _ := storedShow(t, env, show.ID); got != "" {
		t.Errorf("the show still records the deleted key %q", got)
	}
	rows := queryStrings(t, env.DatabaseURL, `SELECT count(*), string_agg(action || ' ' || outcome || ' ' || http_status || ' ' ||
		(stream_key_arn = '`+arn+`'), ',') FROM ivs_ingest.audit_log WHERE request_id = '`+r.Header.Get("X-Request-Id")+`'`)
	if rows[0] != "1" || rows[1] != "revoke error 500 true" {
		t.Errorf("audit rows of the failed revocation = %v, want one: revoke error 500 naming the key", rows)
	}
	if r := call(t, http.MethodPost, svc.URL+revokePath, token, `{"showId":"`+show.ID+`"}`, nil); r.Status != 200 {
		t.Errorf("the owner's retry right after = %s, want 200 (the failed attempt does not count)", r)
	}
}
