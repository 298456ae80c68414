package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/limit"
)

// takeSQL charges a key of ivs_ingest.rate_limits in one statement, so that
// it works through a transaction-mode pooler. Parameters: $1 the key, $2 the
// charge (units times the interval) and $3 the tolerance (the burst times
// the interval), both in microseconds.
//
// Why it is exact under concurrency: INSERT ... ON CONFLICT DO UPDATE takes
// the row's lock and evaluates its WHERE on the row as the previous holder
// committed it, so concurrent charges of one key queue and each sees the
// others'. A refused charge changes no row (it only locks it, as ON
// CONFLICT and FOR UPDATE do); `refused` then reads, under the row lock,
// how long until the charge would fit (unless the row was inserted
// after the statement's snapshot: Take then reads it again).
const takeSQL = `WITH taken AS (
	INSERT INTO ivs_ingest.rate_limits AS r (key, tat)
	VALUES ($1, clock_timestamp() + $2::bigint * interval '1 microsecond')
	ON CONFLICT (key) DO UPDATE
	SET tat = greatest(r.tat, clock_timestamp()) + $2::bigint * interval '1 microsecond'
	WHERE greatest(r.tat, clock_timestamp()) + $2::bigint * interval '1 microsecond'
		<= clock_timestamp() + $3::bigint * interval '1 microsecond'
	RETURNING true AS ok
), refused AS (
	` + waitSQL + ` AND NOT EXISTS (SELECT FROM taken)
	FOR UPDATE
)
SELECT coalesce((SELECT ok FROM taken), false), (SELECT wait FROM refused)`

// waitSQL reads how long until a charge of $2 fits key $1's tolerance of $3
// (both in microseconds).
const waitSQL = `SELECT greatest(tat, clock_timestamp()) + ($2::bigint - $3::bigint) * interval '1 microsecond' - clock_timestamp() AS wait
	FROM ivs_ingest.rate_limits WHERE key = $1`

// Take implements limit.Source for every replica on this database, in one
// round trip on the database's clock.
func (db *DB) Take(ctx context.Context, key string, n int, r limit.Rate) (bool, time.Duration, error) {
	if err := limit.Check(n, r); err != nil {
		return false, 0, err
	}
	var (
		ok   bool
		wait *time.Duration
	)
	err := db.pool.QueryRow(ctx, takeSQL, key, micros(time.Duration(n)*r.Interval), micros(time.Duration(r.Burst)*r.Interval)).Scan(&ok, &wait)
	if err != nil {
		return false, 0, fmt.Errorf("take rate limit: %w", err)
	}
	if ok {
		return true, 0, nil
	}
	if wait == nil {
		// The key's row was inserted by a charge that committed after this
		// statement's snapshot: a new statement sees it.
		err := db.pool.QueryRow(ctx, waitSQL, key, micros(time.Duration(n)*r.Interval), micros(time.Duration(r.Burst)*r.Interval)).Scan(&wait)
		if err != nil {
			return false, 0, fmt.Errorf("take rate limit: %w", err)
		}
	}
	// Never 0, which would invite an immediate retry loop.
	return false, max(*wait, time.Microsecond), nil
}

// Give implements limit.Source.
func (db *DB) Give(ctx context.Context, key string, n int, r limit.Rate) error {
	_, err := db.pool.Exec(ctx, `UPDATE ivs_ingest.rate_limits SET tat = tat - $2::bigint * interval '1 microsecond' WHERE key = $1`,
		key, micros(time.Duration(n)*r.Interval))
	if err != nil {
		return fmt.Errorf("give back rate limit: %w", err)
	}
	return nil
}

// PruneRateLimits deletes the keys whose debt is paid, which are as if never
// seen; it returns how many.
func (db *DB) PruneRateLimits(ctx context.Context) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM ivs_ingest.rate_limits WHERE tat < now()`)
	if err != nil {
		return 0, fmt.Errorf("prune rate limits: %w", err)
	}
	return tag.RowsAffected(), nil
}

// micros rounds d up to whole microseconds, the resolution of timestamptz:
// a charge never shrinks.
func micros(d time.Duration) int64 { return int64((d + time.Microsecond - 1) / time.Microsecond) }
