package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/budget"
)

// reserveSlotsSQL reserves call slots in ivs_ingest.ivs_call_budget in one
// statement, so that it works through a transaction-mode pooler.
// Parameters: $1 the reservation's span (n slots times the interval) and $2
// the maximum wait, both in microseconds.
//
// Why it is safe under concurrency: the UPDATE takes the row lock, and under
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
	WHERE singleton AND next_slot <= clock_timestamp() + $2::bigint * interval '1 microsecond'
	RETURNING next_slot - $1::bigint * interval '1 microsecond' AS first_slot, clock_timestamp() AS now, next_slot
), refused AS (
	SELECT next_slot - $2::bigint * interval '1 microsecond' AS fits_at, clock_timestamp() AS now
	FROM ivs_ingest.ivs_call_budget
	WHERE singleton AND NOT EXISTS (SELECT FROM reserved)
	FOR UPDATE
)
SELECT r.first_slot, r.now, r.next_slot, f.fits_at, f.now
FROM (VALUES (true)) AS one (x)
LEFT JOIN reserved r ON true
LEFT JOIN refused f ON true`

// ReserveSlots implements budget.SlotSource for every replica on this
// database, in one round trip on the database's clock.
func (db *DB) ReserveSlots(ctx context.Context, n int, interval, maxWait time.Duration) (budget.Slots, error) {
	s, _, err := db.reserveSlots(ctx, n, interval, maxWait)
	return s, err
}

// reserveSlots is ReserveSlots that also returns the first slot on the
// database's clock.
func (db *DB) reserveSlots(ctx context.Context, n int, interval, maxWait time.Duration) (budget.Slots, time.Time, error) {
	if n < 1 || interval <= 0 {
		return budget.Slots{}, time.Time{}, fmt.Errorf("reserve %d slots %s apart: need at least one slot and a positive interval", n, interval)
	}
	// Timestamps have microsecond resolution: round the spacing up, so that
	// it never shrinks, and the maximum wait down.
	span := int64(n) * micros(interval)
	limit := int64(max(maxWait, 0) / time.Microsecond)

	var first, reservedAt, end, fitsAt, refusedAt *time.Time
	err := db.pool.QueryRow(ctx, reserveSlotsSQL, span, limit).Scan(&first, &reservedAt, &end, &fitsAt, &refusedAt)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			err = errors.New("no row")
		}
		return budget.Slots{}, time.Time{}, fmt.Errorf("reserve IVS call slots: %w", err)
	}
	switch {
	case first != nil && reservedAt != nil && end != nil:
		return budget.Slots{Wait: max(first.Sub(*reservedAt), 0), End: *end}, *first, nil
	case fitsAt != nil && refusedAt != nil:
		// Never 0, which would invite an immediate retry loop.
		return budget.Slots{}, time.Time{}, &budget.ExhaustedError{RetryAfter: max(fitsAt.Sub(*refusedAt), time.Microsecond)}
	default:
		return budget.Slots{}, time.Time{}, errors.New("reserve IVS call slots: ivs_ingest.ivs_call_budget has no row: run `ivs-ingest migrate`")
	}
}

// ReturnSlots implements budget.SlotSource: the schedule ends where s put it
// only when no reservation followed, and only then are its last slots free
// again (a slot already handed out is never handed out twice).
func (db *DB) ReturnSlots(ctx context.Context, s budget.Slots, n int, interval time.Duration) error {
	_, err := db.pool.Exec(ctx, `UPDATE ivs_ingest.ivs_call_budget
		SET next_slot = next_slot - $2::bigint * interval '1 microsecond'
		WHERE singleton AND next_slot = $1`, s.End, int64(n)*micros(interval))
	if err != nil {
		return fmt.Errorf("return IVS call slots: %w", err)
	}
	return nil
}
