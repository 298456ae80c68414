package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/budget"
)

// ivs_ingest.ivs_call_budget holds one schedule per bucket (an account's
// region, IVS's quotas being per region): a row keyed by the bucket's name,
// created on first use (createScheduleSQL). Bucket "" (budget.DefaultBucket)
// is the default region's, the row of the single schedule that came before.

// reserveSlotsSQL reserves call slots in a bucket's row of
// ivs_ingest.ivs_call_budget in one statement, so that it works through a
// transaction-mode pooler. Parameters: $1 the reservation's span (n slots
// times the interval) and $2 the maximum wait, both in microseconds; $3 the
// bucket.
//
// Why it is safe under concurrency: each bucket is one row and the statement
// touches that row only, so what holds of the row holds of each bucket's
// schedule. The UPDATE takes the row lock, and under
// READ COMMITTED a statement that had to wait for it re-evaluates WHERE and
// SET (clock included) on the row as the previous holder committed it. So
// each reservation starts at or after the end of the one before it
// (next_slot only grows), whichever connection or replica made it: in the
// database's time, slot starts are at least one interval apart.
//
// Why the offsets are right: only the database's clock is read, so replicas'
// clocks do not matter, and only durations leave the statement. The offset
// is taken in RETURNING, against a clock reading made after the row was
// written (the latest the statement can make; RETURNING sees the new row,
// hence next_slot minus the span). A replica adds it to the time the answer
// arrived, so it never starts a call before its slot, only later by the
// time the answer took to travel.
//
// When the first slot is too late the UPDATE changes nothing and `refused`
// reads, under the row lock so that it sees the newest next_slot, when the
// first slot would be within the maximum wait.
const reserveSlotsSQL = `WITH reserved AS (
	UPDATE ivs_ingest.ivs_call_budget
	SET next_slot = greatest(next_slot, clock_timestamp()) + $1::bigint * interval '1 microsecond'
	WHERE bucket = $3 AND next_slot <= clock_timestamp() + $2::bigint * interval '1 microsecond'
	RETURNING next_slot - $1::bigint * interval '1 microsecond' AS first_slot, clock_timestamp() AS now, next_slot
), refused AS (
	SELECT next_slot - $2::bigint * interval '1 microsecond' AS fits_at, clock_timestamp() AS now
	FROM ivs_ingest.ivs_call_budget
	WHERE bucket = $3 AND NOT EXISTS (SELECT FROM reserved)
	FOR UPDATE
)
SELECT r.first_slot, r.now, r.next_slot, f.fits_at, f.now
FROM (VALUES (true)) AS one (x)
LEFT JOIN reserved r ON true
LEFT JOIN refused f ON true`

// createScheduleSQL creates a bucket's row, its schedule free from now:
// nothing was reserved in a bucket before its row existed. A row another
// replica created first is left as it is. Only the default bucket's row is
// the singleton that earlier versions read. Parameter: $1 the bucket.
const createScheduleSQL = `INSERT INTO ivs_ingest.ivs_call_budget (bucket, singleton, next_slot)
VALUES ($1::text, CASE WHEN $1::text = '' THEN true END, clock_timestamp())
ON CONFLICT DO NOTHING`

// Schedule implements budget.Schedules: bucket's schedule, shared by every
// replica on this database, its row created on first use.
func (db *DB) Schedule(bucket string) budget.SlotSource {
	return schedule{db: db, bucket: bucket}
}

// ReserveSlots implements budget.SlotSource over the default bucket's
// schedule (budget.DefaultBucket).
func (db *DB) ReserveSlots(ctx context.Context, n int, interval, maxWait time.Duration) (budget.Slots, error) {
	return db.Schedule(budget.DefaultBucket).ReserveSlots(ctx, n, interval, maxWait)
}

// ReturnSlots implements budget.SlotSource over the default bucket's
// schedule.
func (db *DB) ReturnSlots(ctx context.Context, s budget.Slots, n int, interval time.Duration) error {
	return db.Schedule(budget.DefaultBucket).ReturnSlots(ctx, s, n, interval)
}

// reserveSlots is ReserveSlots that also returns the first slot on the
// database's clock.
func (db *DB) reserveSlots(ctx context.Context, n int, interval, maxWait time.Duration) (budget.Slots, time.Time, error) {
	return schedule{db: db, bucket: budget.DefaultBucket}.reserve(ctx, n, interval, maxWait)
}

// schedule is one bucket's schedule.
type schedule struct {
	db     *DB
	bucket string
}

// ReserveSlots implements budget.SlotSource for every replica on this
// database, in one round trip on the database's clock (two more the first
// time a bucket is used).
func (s schedule) ReserveSlots(ctx context.Context, n int, interval, maxWait time.Duration) (budget.Slots, error) {
	slots, _, err := s.reserve(ctx, n, interval, maxWait)
	return slots, err
}

// reserve is ReserveSlots that also returns the first slot on the
// database's clock.
func (s schedule) reserve(ctx context.Context, n int, interval, maxWait time.Duration) (budget.Slots, time.Time, error) {
	if n < 1 || interval <= 0 {
		return budget.Slots{}, time.Time{}, fmt.Errorf("reserve %d slots %s apart: need at least one slot and a positive interval", n, interval)
	}
	// Timestamps have microsecond resolution: round the spacing up, so that
	// it never shrinks, and the maximum wait down.
	span := int64(n) * micros(interval)
	limit := int64(max(maxWait, 0) / time.Microsecond)

	slots, first, found, err := s.tryReserve(ctx, span, limit)
	if err == nil && !found {
		if _, err = s.db.pool.Exec(ctx, createScheduleSQL, s.bucket); err != nil {
			return budget.Slots{}, time.Time{}, fmt.Errorf("create the IVS call schedule of bucket %q: %w", s.bucket, err)
		}
		slots, first, found, err = s.tryReserve(ctx, span, limit)
	}
	switch {
	case err != nil:
		return budget.Slots{}, time.Time{}, err
	case !found:
		return budget.Slots{}, time.Time{}, fmt.Errorf("reserve IVS call slots: bucket %q has no row in ivs_ingest.ivs_call_budget", s.bucket)
	}
	return slots, first, nil
}

// tryReserve runs reserveSlotsSQL; found is false when the bucket has no
// row yet.
func (s schedule) tryReserve(ctx context.Context, span, limit int64) (_ budget.Slots, first time.Time, found bool, _ error) {
	var start, reservedAt, end, fitsAt, refusedAt *time.Time
	err := s.db.pool.QueryRow(ctx, reserveSlotsSQL, span, limit, s.bucket).Scan(&start, &reservedAt, &end, &fitsAt, &refusedAt)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			err = errors.New("no row")
		}
		return budget.Slots{}, time.Time{}, false, fmt.Errorf("reserve IVS call slots: %w", err)
	}
	switch {
	case start != nil && reservedAt != nil && end != nil:
		return budget.Slots{Wait: max(start.Sub(*reservedAt), 0), End: *end}, *start, true, nil
	case fitsAt != nil && refusedAt != nil:
		// Never 0, which would invite an immediate retry loop.
		return budget.Slots{}, time.Time{}, true, &budget.ExhaustedError{RetryAfter: max(fitsAt.Sub(*refusedAt), time.Microsecond)}
	}
	return budget.Slots{}, time.Time{}, false, nil
}

// ReturnSlots implements budget.SlotSource: the schedule ends where s put it
// only when no reservation followed, and only then are its last slots free
// again (a slot already handed out is never handed out twice).
func (s schedule) ReturnSlots(ctx context.Context, sl budget.Slots, n int, interval time.Duration) error {
	_, err := s.db.pool.Exec(ctx, `UPDATE ivs_ingest.ivs_call_budget
		SET next_slot = next_slot - $2::bigint * interval '1 microsecond'
		WHERE bucket = $3 AND next_slot = $1`, sl.End, int64(n)*micros(interval), s.bucket)
	if err != nil {
		return fmt.Errorf("return IVS call slots: %w", err)
	}
	return nil
}
