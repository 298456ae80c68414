package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ReserveKeyCreation implements ingest.CreationLimiter. A transaction-scoped
// advisory lock per seller makes the count and the insert one step for every
// replica, so the limit is exact.
func (db *DB) ReserveKeyCreation(ctx context.Context, sellerID string, limit int, window time.Duration) (int64, time.Duration, error) {
	var (
		id         int64
		retryAfter time.Duration
	)
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('ivs-ingest/seller/' || $1, 0))`, sellerID); err != nil {
			return err
		}
		var n int
		var oldest *time.Time
		var now time.Time
		err := tx.QueryRow(ctx, `SELECT count(*), min(created_at), now() FROM ivs_ingest.key_creations
			WHERE seller_id = $1::uuid AND created_at > now() - $2::interval`, sellerID, window).Scan(&n, &oldest, &now)
		if err != nil {
			return err
		}
		if n >= limit {
			retryAfter = oldest.Add(window).Sub(now)
			return nil
		}
		return tx.QueryRow(ctx, `INSERT INTO ivs_ingest.key_creations (seller_id) VALUES ($1::uuid) RETURNING id`, sellerID).Scan(&id)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("reserve key creation: %w", err)
	}
	return id, retryAfter, nil
}

// CancelKeyCreation implements ingest.CreationLimiter.
func (db *DB) CancelKeyCreation(ctx context.Context, id int64) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM ivs_ingest.key_creations WHERE id = $1`, id); err != nil {
		return fmt.Errorf("cancel key creation: %w", err)
	}
	return nil
}
