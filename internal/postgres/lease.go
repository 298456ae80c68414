package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// TakeLease implements ingest.Leaser with one conditional UPSERT on
// ivs_ingest.leases, on the database's clock.
//
// Why a row and not pg_try_advisory_lock: a session-level advisory lock
// belongs to the server connection, and behind a transaction-mode pooler
// (Supavisor, PgBouncer) that connection is shared by other clients and
// outlives ours, so the lock could be held by nobody, or by everybody.
// The row is one autocommitted statement; concurrent takers serialize on its
// primary key, and the loser's WHERE sees the winner's unexpired lease.
func (db *DB) TakeLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	var got bool
	err := db.pool.QueryRow(ctx, `INSERT INTO ivs_ingest.leases AS l (name, holder, expires_at)
	VALUES ($1, $2, now() + $3::bigint * interval '1 microsecond')
	ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
	WHERE l.expires_at <= now() OR l.holder = excluded.holder
	RETURNING true`, name, holder, ttl.Microseconds()).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take lease %s: %w", name, err)
	}
	return got, nil
}

// ReleaseLease implements ingest.Leaser: the lease expires now, if holder
// has it.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := db.pool.Exec(ctx, `UPDATE ivs_ingest.leases SET expires_at = now() WHERE name = $1 AND holder = $2`, name, holder)
	if err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}
