package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"

	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// One request whose audit row PostgreSQL refuses answers 500 with no key;
// the requests whose rows shared its group-commit INSERT get their keys.
// The test holds the commit of the first request's row (a deferred
// trigger waits on an advisory lock it holds), so that the next requests'
// rows queue up and go in one statement, one of them refused by a CHECK
// constraint on its user agent.
func TestRefusedAuditRowFailsOnlyItsRequest(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)
	const n = 6
	tokens, shows := make([]string, n), make([]string, n)
	for i := range n {
		seller := env.Seller(t, "approved")
		tokens[i], shows[i] = env.Token(t, seller), env.Show(t, seller, true).ID
		wantKey(t, "warm-up", svc.get(t, tokens[i], shows[i], nil)) // the key cached: the held requests make no IVS call
	}
	before, err := strconv.Atoi(queryStrings(t, env.DatabaseURL, `SELECT count(*) FROM ivs_ingest.audit_log`)[0])
	if err != nil {
		t.Fatal(err)
	}

	pgtest.Exec(t, env.DatabaseURL, `ALTER TABLE ivs_ingest.audit_log
	ADD CONSTRAINT test_refused_agent CHECK (user_agent IS DISTINCT FROM 'refuse-this-row') NOT VALID;
CREATE FUNCTION public.test_hold_audit_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_xact_lock_shared(4242);
	RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER test_hold_audit_commit AFTER INSERT ON ivs_ingest.audit_log
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.test_hold_audit_commit();`)
	ctx := context.Background()
	lock, err := pgx.Connect(ctx, env.DatabaseURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer lock.Close(ctx)
	if _, err := lock.Exec(ctx, `SELECT pg_advisory_lock(4242)`); err != nil {
		t.Fatalf("take the advisory lock: %v", err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			if _, err := lock.Exec(ctx, `SELECT pg_advisory_unlock(4242)`); err != nil {
				t.Errorf("release the advisory lock: %v", err)
			}
		}
	}
	defer release()

	const refused = 3
	answers := make([]chan response, n)
	for i := range n {
		agent := "test-client"
		if i == refused {
			agent = "refuse-this-row"
		}
		answers[i] = getAsync(t, svc, tokens[i], shows[i], agent)
		if i == 0 {
			waitUntil(t, "the first row's commit to be held", func() bool {
				return queryStrings(t, env.DatabaseURL, `SELECT count(*) FROM pg_stat_activity
					WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`)[0] == "1"
			})
		}
	}
	waitUntil(t, "5 rows queued behind the held commit", func() bool {
		families, _ := scrape(t, svc, "")
		return sample(families, "ivs_ingest_audit_rows_queued", nil) == n-1
	})
	release()

	for i, ch := range answers {
		r := <-ch
		if i == refused {
			wantError(t, "the request whose row is refused", r, 500, "Internal server error")
			if _, ok := r.Body["streamKey"]; ok || strings.Contains(r.Raw, "sk_") {
				t.Error("a key left without its audit row")
			}
			continue
		}
		wantKey(t, "a request whose row shared the refused row's statement", r)
	}
	families, _ := scrape(t, svc, "")
	if got := sample(families, "ivs_ingest_audit_batch_retries_total", nil); got != 1 {
		t.Errorf("audit_batch_retries_total = %v, want 1: the 5 rows went in one statement, retried row by row", got)
	}
	if n := statementsOf(families, 4, 8); n != 1 {
		t.Errorf("audit_batch_rows: %v statements of 5 to 8 rows, want 1 (the 5 queued rows')", n)
	}
	after := queryStrings(t, env.DatabaseURL, `SELECT count(*) FROM ivs_ingest.audit_log`)[0]
	if want := strconv.Itoa(before + n - 1); after != want {
		t.Errorf("audit rows = %s, want %s (every request's but the refused one)", after, want)
	}
	if !strings.Contains(svc.logs.String(), "insert audit row") {
		t.Error("the log does not say the audit row failed")
	}
}

// getAsync sends a get-ivs-ingest request in the background with the user
// agent agent; its answer comes on the channel.
func getAsync(t *testing.T, svc *service, token, showID, agent string) chan response {
	ch := make(chan response, 1)
	go func() {
		var r response
		defer func() { ch <- r }()
		req, err := http.NewRequest(http.MethodPost, svc.URL+path, strings.NewReader(`{"showId":"`+showID+`"}`))
		if err != nil {
			t.Error(err)
			return
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", agent)
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Errorf("POST %s: %v", path, err)
			return
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
			return
		}
		r = response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			if err := json.Unmarshal(raw, &r.Body); err != nil {
				t.Errorf("decode the answer: %v", err)
			}
		}
	}()
	return ch
}

// waitUntil polls cond until it holds, failing the test after 30 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// statementsOf counts the group commit's statements of more than above and
// at most upTo rows, from ivs_ingest_audit_batch_rows' buckets.
func statementsOf(families map[string]*dto.MetricFamily, above, upTo float64) uint64 {
	f := families["ivs_ingest_audit_batch_rows"]
	if f == nil || len(f.GetMetric()) != 1 {
		return 0
	}
	var atAbove, atUpTo uint64
	for _, b := range f.GetMetric()[0].GetHistogram().GetBucket() {
		switch b.GetUpperBound() {
		case above:
			atAbove = b.GetCumulativeCount()
		case upTo:
			atUpTo = b.GetCumulativeCount()
		}
	}
	return atUpTo - atAbove
}
