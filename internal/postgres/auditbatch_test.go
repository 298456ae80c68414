package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
)

// The advisory locks a held commit waits on: rows whose request id starts
// with "second-" wait on lockSecond, the others on lockFirst.
const (
	lockFirst  = 4242
	lockSecond = 4243
)

// commitHolder holds the commits of audit rows: a deferred constraint
// trigger makes each commit that holds a row take a shared advisory lock
// that the holder's connection holds exclusively, until release.
type commitHolder struct {
	t    *testing.T
	url  string
	conn *pgx.Conn
	mu   sync.Mutex
	held map[int]bool
}

func holdAuditCommits(t *testing.T, url string) *commitHolder {
	t.Helper()
	pgtest.Exec(t, url, fmt.Sprintf(`CREATE FUNCTION public.test_hold_audit_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_xact_lock_shared(CASE WHEN NEW.request_id LIKE 'second-%%' THEN %d ELSE %d END);
	RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER test_hold_audit_commit AFTER INSERT ON ivs_ingest.audit_log
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.test_hold_audit_commit();`, lockSecond, lockFirst))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(`SELECT pg_advisory_lock(%d), pg_advisory_lock(%d)`, lockFirst, lockSecond)); err != nil {
		t.Fatalf("take the advisory locks: %v", err)
	}
	h := &commitHolder{t: t, url: url, conn: conn, held: map[int]bool{lockFirst: true, lockSecond: true}}
	t.Cleanup(func() {
		h.release(lockFirst)
		h.release(lockSecond)
		conn.Close(ctx)
	})
	return h
}

// release lets the commits waiting on lock go through.
func (h *commitHolder) release(lock int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.held[lock] {
		return
	}
	h.held[lock] = false
	if _, err := h.conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, lock); err != nil {
		h.t.Errorf("release advisory lock %d: %v", lock, err)
	}
}

// waiting is how many audit statements wait, in their commit, for one of
// the holder's locks.
func (h *commitHolder) waiting() int {
	return countOf(h.t, h.url, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'
		AND query LIKE 'INSERT INTO ivs_ingest.audit_log%'`)
}

// countOf runs sql, which selects one count, on a connection of its own.
func countOf(t *testing.T, url, sql string, args ...any) int {
	t.Helper()
	n, err := count(url, sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func count(url, sql string, args ...any) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("query %q: %w", sql, err)
	}
	return n, nil
}

// rowsOf counts the audit rows whose request id is one of ids.
func rowsOf(t *testing.T, url string, ids ...string) int {
	t.Helper()
	return countOf(t, url, `SELECT count(*) FROM ivs_ingest.audit_log WHERE request_id = ANY($1)`, ids)
}

// waitFor polls cond until it holds, failing the test after 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func auditEntry(requestID string) ingest.AuditEntry {
	return ingest.AuditEntry{RequestID: requestID, Action: ingest.ActionGet, Outcome: ingest.OutcomeAllowed, HTTPStatus: 200}
}

// writes runs WriteAudit in the background.
type writes struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs map[string]error
}

func (w *writes) start(ctx context.Context, db *postgres.DB, e ingest.AuditEntry) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		err := db.WriteAudit(ctx, e)
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.errs == nil {
			w.errs = map[string]error{}
		}
		w.errs[e.RequestID] = err
	}()
}

func (w *writes) wait() map[string]error {
	w.wg.Wait()
	return w.errs
}

// A statement that PostgreSQL refuses is retried row by row: only the
// writer whose own row fails gets an error, the others' rows are written.
func TestAuditGroupCommitRetriesRowByRow(t *testing.T) {
	t.Parallel()
	url, db := migrated(t)
	hold := holdAuditCommits(t, url)
	ctx := context.Background()
	var w writes
	w.start(ctx, db, auditEntry("leader"))
	waitFor(t, "the leader's commit to be held", func() bool { return hold.waiting() == 1 })
	var ids []string
	for i := range 10 {
		e := auditEntry(fmt.Sprintf("follower-%d", i))
		if i == 4 {
			e.RequestID = "out-of-range"
			e.HTTPStatus = 1 << 40 // out of the integer column's range: PostgreSQL refuses the row
		} else {
			ids = append(ids, e.RequestID)
		}
		w.start(ctx, db, e)
	}
	waitFor(t, "10 rows queued behind the held commit", func() bool { return db.AuditRowsQueued() == 10 })
	hold.release(lockFirst)
	errs := w.wait()

	for id, err := range errs {
		if id == "out-of-range" {
			if err == nil || !strings.Contains(err.Error(), "insert audit row") {
				t.Errorf("WriteAudit(out of range) = %v, want the row's insert error", err)
			}
		} else if err != nil {
			t.Errorf("WriteAudit(%s) = %v, want nil: only the refused row fails", id, err)
		}
	}
	if n := rowsOf(t, url, append(ids, "leader")...); n != 10 {
		t.Errorf("rows written = %d, want 10 (the leader's and 9 followers')", n)
	}
	if n := rowsOf(t, url, "out-of-range"); n != 0 {
		t.Errorf("refused row written %d times", n)
	}
	statements, rows, retried := db.AuditBatchStats()
	if statements != 2 || rows != 11 || retried != 1 {
		t.Errorf("AuditBatchStats() = %d statements, %d rows, %d retried; want 2, 11, 1 (the leader alone, then the 10 in one statement, retried)",
			statements, rows, retried)
	}
}

// A writer returns only once its row is committed: while a statement's
// commit is held, none of its rows is visible and none of its writers has
// returned; each writer's row is visible from another connection as soon
// as it returns. Both the leader's lone statement and the statement of the
// rows queued behind it are held in turn.
func TestAuditRowIsCommittedBeforeWriteReturns(t *testing.T) {
	t.Parallel()
	url, db := migrated(t)
	hold := holdAuditCommits(t, url)
	const n = 6
	returned := make(chan int, n)
	results := make([]string, n)
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("second-%d", i) // held on lockSecond
		if i == 0 {
			ids[i] = "first-leader" // held on lockFirst
		}
		go func() {
			err := db.WriteAudit(context.Background(), auditEntry(ids[i]))
			visible, cerr := count(url, `SELECT count(*) FROM ivs_ingest.audit_log WHERE request_id = $1`, ids[i])
			results[i] = fmt.Sprintf("WriteAudit = %v; then %d rows visible (%v)", err, visible, cerr)
			if err == nil && visible == 1 && cerr == nil {
				results[i] = ""
			}
			returned <- i
		}()
		if i == 0 {
			waitFor(t, "the first statement's commit to be held", func() bool { return hold.waiting() == 1 })
		}
	}
	waitFor(t, "5 rows queued behind the held commit", func() bool { return db.AuditRowsQueued() == n-1 })
	if got := countOf(t, url, `SELECT count(*) FROM ivs_ingest.audit_log`); got != 0 {
		t.Errorf("%d rows visible while their commit is held, want 0", got)
	}
	select {
	case i := <-returned:
		t.Fatalf("writer %d returned while its row's commit was held (%s)", i, results[i])
	default:
	}

	hold.release(lockFirst)
	if i := <-returned; i != 0 {
		t.Fatalf("writer %d returned while its row's commit was held (%s)", i, results[i])
	}
	waitFor(t, "the 5 rows' statement to be held", func() bool { return db.AuditRowsQueued() == 0 && hold.waiting() == 1 })
	if got := rowsOf(t, url, ids[1:]...); got != 0 {
		t.Errorf("%d of the 5 rows visible while their commit is held, want 0", got)
	}
	select {
	case i := <-returned:
		t.Fatalf("writer %d returned while its row's commit was held (%s)", i, results[i])
	default:
	}
	hold.release(lockSecond)
	for range n - 1 {
		<-returned
	}
	for i, r := range results {
		if r != "" {
			t.Errorf("writer %d: %s, want nil and its row visible", i, r)
		}
	}
	if statements, rows, _ := db.AuditBatchStats(); statements != 2 || rows != n {
		t.Errorf("AuditBatchStats() = %d statements, %d rows; want 2 and %d (the leader's, then the 5 queued in one)", statements, rows, n)
	}
}

// A writer whose ctx ends while its row is queued gets ctx's error, and the
// row is never written; one whose row is already in a statement in flight
// gets the statement's outcome.
func TestAuditWriteHonoursItsContext(t *testing.T) {
	t.Parallel()
	url, db := migrated(t)
	hold := holdAuditCommits(t, url)
	var first, second writes
	first.start(context.Background(), db, auditEntry("first-leader"))
	waitFor(t, "the first statement's commit to be held", func() bool { return hold.waiting() == 1 })

	// Queued, then given up: out of the queue at once, never written.
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- db.WriteAudit(ctx, auditEntry("second-given-up")) }()
	waitFor(t, "the row to be queued", func() bool { return db.AuditRowsQueued() == 1 })
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Errorf("WriteAudit(ctx canceled while queued) = %v, want context.Canceled", err)
	}
	if q := db.AuditRowsQueued(); q != 0 {
		t.Errorf("AuditRowsQueued() = %d after the writer gave up, want 0", q)
	}

	// Two queued rows; the second's writer gives up once both are in the
	// next statement, which is held in turn: it is told the truth, written.
	inFlight, cancelInFlight := context.WithCancel(context.Background())
	defer cancelInFlight()
	second.start(context.Background(), db, auditEntry("second-leader"))
	second.start(inFlight, db, auditEntry("second-in-flight"))
	waitFor(t, "2 rows queued", func() bool { return db.AuditRowsQueued() == 2 })
	hold.release(lockFirst)
	if err := first.wait()["first-leader"]; err != nil {
		t.Fatalf("WriteAudit(first-leader) = %v", err)
	}
	waitFor(t, "the second statement's commit to be held", func() bool { return db.AuditRowsQueued() == 0 && hold.waiting() == 1 })
	cancelInFlight()
	hold.release(lockSecond)
	for id, err := range second.wait() {
		if err != nil {
			t.Errorf("WriteAudit(%s) = %v, want nil: its row was in the statement that committed", id, err)
		}
	}
	if n := rowsOf(t, url, "first-leader", "second-leader", "second-in-flight"); n != 3 {
		t.Errorf("rows written = %d, want 3", n)
	}
	if n := rowsOf(t, url, "second-given-up"); n != 0 {
		t.Errorf("the given-up row was written %d times, want never", n)
	}
}

// The queue is bounded: a writer that finds it full waits for room (or for
// its ctx), and each statement holds at most 256 rows.
func TestAuditQueueIsBounded(t *testing.T) {
	t.Parallel()
	url, db := migrated(t)
	hold := holdAuditCommits(t, url)
	var w writes
	ctx := context.Background()
	w.start(ctx, db, auditEntry("leader"))
	waitFor(t, "the leader's commit to be held", func() bool { return hold.waiting() == 1 })
	for i := range postgres.AuditQueueRows {
		w.start(ctx, db, auditEntry(fmt.Sprintf("queued-%d", i)))
	}
	waitFor(t, "a full queue", func() bool { return db.AuditRowsQueued() == postgres.AuditQueueRows })
	w.start(ctx, db, auditEntry("over-the-bound"))
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.WriteAudit(canceled, auditEntry("canceled-at-full")); !errors.Is(err, context.Canceled) {
		t.Errorf("WriteAudit(canceled ctx, full queue) = %v, want context.Canceled", err)
	}
	if q := db.AuditRowsQueued(); q != postgres.AuditQueueRows {
		t.Errorf("AuditRowsQueued() = %d, want the bound %d", q, postgres.AuditQueueRows)
	}
	hold.release(lockFirst)
	for id, err := range w.wait() {
		if err != nil {
			t.Errorf("WriteAudit(%s) = %v", id, err)
		}
	}
	want := postgres.AuditQueueRows + 2
	if n := countOf(t, url, `SELECT count(*) FROM ivs_ingest.audit_log`); n != want {
		t.Errorf("rows written = %d, want %d (every writer's but the canceled one)", n, want)
	}
	statements, rows, _ := db.AuditBatchStats()
	// The leader alone, then 1,025 rows in statements of at most 256.
	if rows != int64(want) || statements < 1+5 {
		t.Errorf("AuditBatchStats() = %d statements, %d rows; want %d rows in at least 6 statements", statements, rows, want)
	}
}

// Close writes every queued row before it closes the pool, and a write
// after Close fails rather than vanish.
func TestAuditCloseWritesQueuedRows(t *testing.T) {
	t.Parallel()
	url, _ := migrated(t)
	db, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 8})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(db.Close)
	hold := holdAuditCommits(t, url)
	var w writes
	ctx := context.Background()
	w.start(ctx, db, auditEntry("leader"))
	waitFor(t, "the leader's commit to be held", func() bool { return hold.waiting() == 1 })
	const n = 300
	for i := range n - 1 {
		w.start(ctx, db, auditEntry(fmt.Sprintf("queued-%d", i)))
	}
	waitFor(t, "299 rows queued", func() bool { return db.AuditRowsQueued() == n-1 })

	closed := make(chan struct{})
	go func() {
		db.Close()
		close(closed)
	}()
	waitFor(t, "Close to start draining", db.AuditClosing)
	select {
	case <-closed:
		t.Fatal("Close returned while rows were queued")
	default:
	}
	hold.release(lockFirst)
	<-closed
	for id, err := range w.wait() {
		if err != nil {
			t.Errorf("WriteAudit(%s) = %v, want nil: queued before Close", id, err)
		}
	}
	if got := countOf(t, url, `SELECT count(*) FROM ivs_ingest.audit_log`); got != n {
		t.Errorf("rows after Close = %d, want %d", got, n)
	}
	if err := db.WriteAudit(ctx, auditEntry("after-close")); err == nil {
		t.Error("WriteAudit after Close = nil, want an error")
	}
}

// Under concurrency, rows share statements; every row is written once.
func TestAuditBatchesFormUnderConcurrency(t *testing.T) {
	t.Parallel()
	url, db := migrated(t)
	const writers, each = 200, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	start := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for j := range each {
				e := auditEntry(fmt.Sprintf("w%d-%d", i, j))
				e.UserAgent = "agent\x00\xff" // cleaned, so it fails no statement
				if err := db.WriteAudit(context.Background(), e); err != nil {
					errs <- err
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("WriteAudit = %v", err)
	}
	if n := countOf(t, url, `SELECT count(DISTINCT request_id) FROM ivs_ingest.audit_log`); n != writers*each {
		t.Errorf("distinct rows = %d, want %d", n, writers*each)
	}
	statements, rows, retried := db.AuditBatchStats()
	t.Logf("%d rows in %d statements", rows, statements)
	if retried != 0 {
		t.Errorf("%d statements retried row by row, want 0", retried)
	}
	if rows != writers*each || statements >= rows {
		t.Errorf("AuditBatchStats() = %d statements, %d rows; want %d rows in fewer statements", statements, rows, writers*each)
	}
}

// A lone write is sent at once, in a statement of its own: in a synctest
// bubble, whose clock moves only when every goroutine in it waits on a
// timer or a channel, it takes no time at all, so it waited on no timer.
func TestLoneAuditWriteWaitsForNoTimer(t *testing.T) {
	t.Parallel()
	url, db := migrated(t)
	// A connection ready in the pool: dialling would wait on the bubble's clock.
	if err := db.WriteAudit(context.Background(), auditEntry("warm-up")); err != nil {
		t.Fatalf("WriteAudit(warm-up) = %v", err)
	}
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := db.WriteAudit(context.Background(), auditEntry("lone")); err != nil {
			t.Fatalf("WriteAudit(lone) = %v", err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("a lone write took %v on the bubble's clock, want 0: it waited on a timer", d)
		}
	})
	if n := rowsOf(t, url, "lone"); n != 1 {
		t.Errorf("lone rows = %d, want 1", n)
	}
	if statements, rows, _ := db.AuditBatchStats(); statements != 2 || rows != 2 {
		t.Errorf("AuditBatchStats() = %d statements, %d rows; want 2, 2 (each write alone)", statements, rows)
	}
}

// Text fields are cleaned: invalid UTF-8 and NUL bytes, which PostgreSQL's
// text refuses, cannot fail a row.
func TestAuditCleansTextFields(t *testing.T) {
	t.Parallel()
	url, db := migrated(t)
	e := auditEntry("dirty")
	e.UserAgent = "agent\x00with\xffbytes"
	e.Reason = "reason\x00"
	if err := db.WriteAudit(context.Background(), e); err != nil {
		t.Fatalf("WriteAudit(NUL and invalid UTF-8) = %v, want nil", err)
	}
	rows := queryRows(t, url, `SELECT user_agent, reason FROM ivs_ingest.audit_log WHERE request_id = 'dirty'`)
	if len(rows) != 1 || rows[0][0] != "agentwith\uFFFDbytes" || rows[0][1] != "reason" {
		t.Errorf("cleaned row = %v, want [agentwith\uFFFDbytes reason]", rows)
	}
}
