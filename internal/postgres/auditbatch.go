package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// The group commit's bounds.
const (
	// auditBatchRows caps the rows of one statement: it bounds the
	// statement's size and how long its slowest row waits for it.
	auditBatchRows = 256
	// auditQueueRows caps the rows waiting for a statement; a writer that
	// finds the queue full waits for room (or its ctx).
	auditQueueRows = 4 * auditBatchRows
	// auditStatementTimeout bounds each statement of the group commit, which
	// carries other requests' rows and so runs on no caller's ctx.
	auditStatementTimeout = 5 * time.Second
)

// AuditBatchObserver is told of each statement the audit rows' group
// commit sends: how many rows it held, and whether it failed and its rows
// were retried one by one. internal/metrics' *AuditBatches is one.
type AuditBatchObserver interface {
	AuditBatch(rows int, retried bool)
}

// rowState is where a queued audit row is. The batcher's mutex guards it.
type rowState uint8

const (
	rowQueued   rowState = iota // in the queue, its writer waiting
	rowLeading                  // in the queue, its writer told to send the next statement
	rowInFlight                 // in a statement being sent
	rowDone                     // written or not: err says
)

// auditWaiter is one writer's row and what came of it.
type auditWaiter struct {
	entry ingest.AuditEntry
	state rowState
	err   error
	// wake is signalled (without blocking: state is the truth) when state
	// changes to rowLeading or rowDone.
	wake chan struct{}
}

func (w *auditWaiter) notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// auditBatcher writes the get and denial rows of requests answered at about
// the same time in one multi-row INSERT, autocommitted: group commit by
// leader and followers, with no timer. The first writer to find no
// statement in flight sends one at once with its row (and any that arrived
// meanwhile): an idle server's lone request waits for nothing but its own
// statement, as before. Rows that arrive while that statement is in flight
// queue up; when it commits, its leader wakes the oldest queued writer,
// which sends the next statement with every queued row (up to
// auditBatchRows), and so on. So one statement is in flight at a time, and
// the busier the server, the more rows each statement carries.
//
// Each writer returns only once the statement holding its row has
// committed (or failed): no key leaves without its durable row. A writer
// whose ctx ends while its row is still queued takes the row out and gets
// ctx's error: the row is never written later. Once its row is in a
// statement of several rows in flight, the writer waits for the
// statement's outcome (at most auditStatementTimeout) and returns it,
// whatever its ctx says, since the row may already be committed. A
// statement of one row, its writer's own, runs on the writer's ctx, as
// every row did before the group commit (and saves a timer on the idle
// path): ctx ending then fails the statement, and the writer gets the
// error, as before.
//
// A statement that PostgreSQL refuses (a row that breaks a constraint) is
// retried row by row, so only the writer whose own row fails gets an error.
// Text fields are cleaned first (cleanAuditText), so a client's header
// cannot fail a row.
type auditBatcher struct {
	pool *pgxpool.Pool

	mu sync.Mutex
	// queue holds the rows waiting for a statement, oldest first. Whenever
	// it is not empty, exactly one writer leads: its row is queue[0] or in
	// the statement in flight (leading is true).
	queue   []*auditWaiter
	leading bool
	// space is closed when rows leave a full queue, for the writers waiting
	// for room (spaceWanted).
	space       chan struct{}
	spaceWanted bool
	// closed makes writers insert their row on their own; drained is closed
	// once the last queued row is written.
	closed   bool
	drained  chan struct{}
	observer AuditBatchObserver
	// The statements sent and the rows they held, retried statements
	// counted once; for tests and the observer.
	statements, rows, retried int64
}

func newAuditBatcher(pool *pgxpool.Pool) *auditBatcher {
	return &auditBatcher{pool: pool, space: make(chan struct{})}
}

// write writes e and returns once the statement holding it has committed
// or failed (see auditBatcher).
func (b *auditBatcher) write(ctx context.Context, e ingest.AuditEntry) error {
	w := &auditWaiter{entry: e, wake: make(chan struct{}, 1)}
	b.mu.Lock()
	for len(b.queue) >= auditQueueRows && !b.closed {
		b.spaceWanted = true
		space := b.space
		b.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return fmt.Errorf("insert audit row: %w", ctx.Err())
		}
		b.mu.Lock()
	}
	if b.closed {
		b.mu.Unlock()
		// Shutting down: the queue drains, and the pool (open until it
		// has) takes this row on its own, or says it is closed.
		return insertAudit(ctx, b.pool, e)
	}
	b.queue = append(b.queue, w)
	if !b.leading {
		b.leading = true
		w.state = rowLeading
	}
	b.mu.Unlock()

	done := ctx.Done()
	for {
		b.mu.Lock()
		state := w.state
		if state == rowLeading && done != nil && ctx.Err() != nil {
			// Told to lead as its ctx ended: the row is still queued.
			b.removeLocked(w)
			b.handOverLocked()
			b.mu.Unlock()
			return fmt.Errorf("insert audit row: %w", ctx.Err())
		}
		b.mu.Unlock()
		switch state {
		case rowLeading:
			b.lead(ctx)
			continue
		case rowDone:
			return w.err
		}
		select {
		case <-w.wake:
		case <-done:
			b.mu.Lock()
			switch w.state {
			case rowQueued, rowLeading:
				b.removeLocked(w)
				if w.state == rowLeading {
					b.handOverLocked()
				}
				b.mu.Unlock()
				return fmt.Errorf("insert audit row: %w", ctx.Err())
			}
			b.mu.Unlock()
			// In flight or done: the statement's outcome is the truth.
			done = nil
		}
	}
}

// lead sends the next statement: the queue's oldest rows, the leader's own
// first among them. Then it marks them done and hands the lead on. ctx is
// the leader's.
func (b *auditBatcher) lead(ctx context.Context) {
	b.mu.Lock()
	n := min(len(b.queue), auditBatchRows)
	batch := make([]*auditWaiter, n)
	copy(batch, b.queue)
	rest := copy(b.queue, b.queue[n:])
	clear(b.queue[rest:])
	b.queue = b.queue[:rest]
	for _, w := range batch {
		w.state = rowInFlight
	}
	b.signalSpaceLocked()
	b.mu.Unlock()

	errs, retried := b.send(ctx, batch)

	b.mu.Lock()
	for i, w := range batch {
		w.err, w.state = errs[i], rowDone
		w.notify()
	}
	b.statements++
	b.rows += int64(n)
	if retried {
		b.retried++
	}
	observer := b.observer
	b.handOverLocked()
	b.mu.Unlock()
	if observer != nil {
		observer.AuditBatch(n, retried)
	}
}

// handOverLocked makes the oldest queued writer lead, or records that no
// one leads when the queue is empty.
func (b *auditBatcher) handOverLocked() {
	if len(b.queue) > 0 {
		next := b.queue[0]
		next.state = rowLeading
		next.notify()
		return
	}
	b.leading = false
	if b.drained != nil {
		close(b.drained)
		b.drained = nil
	}
}

// removeLocked takes w's row out of the queue.
func (b *auditBatcher) removeLocked(w *auditWaiter) {
	for i, q := range b.queue {
		if q == w {
			copy(b.queue[i:], b.queue[i+1:])
			b.queue[len(b.queue)-1] = nil
			b.queue = b.queue[:len(b.queue)-1]
			break
		}
	}
	b.signalSpaceLocked()
}

func (b *auditBatcher) signalSpaceLocked() {
	if b.spaceWanted && (len(b.queue) < auditQueueRows || b.closed) {
		close(b.space)
		b.space = make(chan struct{})
		b.spaceWanted = false
	}
}

// send writes batch's rows in one statement, or row by row when PostgreSQL
// refuses the statement, and returns each row's outcome. A lone row, the
// leader's own, is written on leaderCtx, exactly as before the group commit;
// statements that carry several writers' rows run on a context of their own.
func (b *auditBatcher) send(leaderCtx context.Context, batch []*auditWaiter) (errs []error, retried bool) {
	errs = make([]error, len(batch))
	if len(batch) == 1 {
		errs[0] = insertAudit(leaderCtx, b.pool, batch[0].entry)
		return errs, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), auditStatementTimeout)
	defer cancel()
	err := insertAuditRows(ctx, b.pool, batch)
	if err == nil {
		return errs, false
	}
	// Why only PostgreSQL's refusals are retried: then some row broke a
	// rule and the others may not have. A lost connection or a timeout
	// would only fail each row again, one timeout after another.
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		for i := range errs {
			errs[i] = err
		}
		return errs, false
	}
	for i, w := range batch {
		rctx, cancel := context.WithTimeout(context.Background(), auditStatementTimeout)
		errs[i] = insertAudit(rctx, b.pool, w.entry)
		cancel()
	}
	return errs, true
}

// drain writes every queued row and returns once the last is written;
// writers that come later insert their row on their own.
func (b *auditBatcher) drain() {
	b.mu.Lock()
	b.closed = true
	b.signalSpaceLocked()
	if !b.leading {
		b.mu.Unlock()
		return
	}
	if b.drained == nil {
		b.drained = make(chan struct{})
	}
	drained := b.drained
	b.mu.Unlock()
	<-drained
}

// queued is how many rows wait for a statement.
func (b *auditBatcher) queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

func (b *auditBatcher) setObserver(o AuditBatchObserver) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.observer = o
}

// insertAuditRows inserts the rows of batch in one statement: one array
// per column, so that the statement's text is the same whatever the number
// of rows. Rows without a time get the statement's now(), the same for all.
func insertAuditRows(ctx context.Context, ex execer, batch []*auditWaiter) error {
	n := len(batch)
	at := make([]*time.Time, n)
	requestID, action, outcome := make([]string, n), make([]string, n), make([]string, n)
	status := make([]int64, n)
	actor, impersonated, seller, show := make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
	arn, ip, agent, reason := make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
	for i, w := range batch {
		e := cleanAuditEntry(w.entry)
		if !e.OccurredAt.IsZero() {
			at[i] = &e.OccurredAt
		}
		requestID[i], action[i], outcome[i], status[i] = e.RequestID, string(e.Action), string(e.Outcome), int64(e.HTTPStatus)
		actor[i], impersonated[i], seller[i], show[i] = orNull(e.ActorUserID), orNull(e.ImpersonatedSellerID), orNull(e.SellerID), orNull(e.ShowID)
		arn[i], ip[i], agent[i], reason[i] = orNull(e.StreamKeyARN), orNull(e.ClientIP), orNull(e.UserAgent), orNull(e.Reason)
	}
	_, err := ex.Exec(ctx, `INSERT INTO ivs_ingest.audit_log
	(occurred_at, request_id, action, outcome, http_status, actor_user_id, impersonated_seller_id, seller_id, show_id,
	 stream_key_arn, client_ip, user_agent, reason)
	SELECT coalesce(r.at, now()), r.request_id, r.action, r.outcome, r.http_status, r.actor, r.impersonated, r.seller, r.show,
	 r.arn, r.ip, r.agent, r.reason
	FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::uuid[], $7::uuid[], $8::uuid[],
	 $9::uuid[], $10::text[], $11::text[], $12::text[], $13::text[])
	 AS r(at, request_id, action, outcome, http_status, actor, impersonated, seller, show, arn, ip, agent, reason)`,
		at, requestID, action, outcome, status, actor, impersonated, seller, show, arn, ip, agent, reason)
	if err != nil {
		return fmt.Errorf("insert audit rows: %w", err)
	}
	return nil
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// cleanAuditEntry returns e with its text fields made valid UTF-8 and
// without NUL bytes.
// Why: PostgreSQL's text refuses both, and a client sets some of these
// fields (its user agent): one odd header must not fail the row, nor, in
// a group commit, the statement that holds other sellers' rows.
func cleanAuditEntry(e ingest.AuditEntry) ingest.AuditEntry {
	e.RequestID = cleanAuditText(e.RequestID)
	e.Action = ingest.Action(cleanAuditText(string(e.Action)))
	e.Outcome = ingest.Outcome(cleanAuditText(string(e.Outcome)))
	e.StreamKeyARN = cleanAuditText(e.StreamKeyARN)
	e.ClientIP = cleanAuditText(e.ClientIP)
	e.UserAgent = cleanAuditText(e.UserAgent)
	e.Reason = cleanAuditText(e.Reason)
	return e
}

// cleanAuditText replaces s's invalid UTF-8 with U+FFFD and drops its NUL
// bytes.
func cleanAuditText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}
