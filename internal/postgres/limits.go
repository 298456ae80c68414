package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// reserveKeyCreation implements ingest.CreationLimiter within a channel
// section's transaction, so that the count commits with the key it counts.
// A transaction-scoped advisory lock per seller makes the count and the
// insert one step for every replica, so the limit is exact. (Sections lock
// the channel first and the seller second, always: no deadlock.)
func reserveKeyCreation(ctx context.Context, tx pgx.Tx, sellerID string, limit int, window time.Duration) (int64, time.Duration, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('ivs-ingest/seller/' || $1, 0))`, sellerID); err != nil {
		return 0, 0, fmt.Errorf("reserve key creation: %w", err)
	}
	wait, err := keyCreationWait(ctx, tx, sellerID, limit, window)
	if err != nil || wait > 0 {
		return 0, wait, err
	}
	var id int64
	if err := tx.QueryRow(ctx, `INSERT INTO ivs_ingest.key_creations (seller_id) VALUES ($1::uuid) RETURNING id`, sellerID).Scan(&id); err != nil {
		return 0, 0, fmt.Errorf("reserve key creation: %w", err)
	}
	return id, 0, nil
}

// KeyCreationWait implements ingest.Store.
func (db *DB) KeyCreationWait(ctx context.Context, sellerID string, limit int, window time.Duration) (time.Duration, error) {
	return keyCreationWait(ctx, db.pool, sellerID, limit, window)
}

func keyCreationWait(ctx context.Context, q querier, sellerID string, limit int, window time.Duration) (time.Duration, error) {
	var (
		n      int
		oldest *time.Time
		now    time.Time
	)
	err := q.QueryRow(ctx, `SELECT count(*), min(created_at), now() FROM ivs_ingest.key_creations
		WHERE seller_id = $1::uuid AND created_at > now() - $2::interval`, sellerID, window).Scan(&n, &oldest, &now)
	if err != nil {
		return 0, fmt.Errorf("count key creations: %w", err)
	}
	if n < limit || oldest == nil {
		return 0, nil
	}
	// Never 0 when refused: 0 means "now".
	return max(oldest.Add(window).Sub(now), time.Second), nil
}

// ReserveKeyCreation implements ingest.CreationLimiter in the section's
// transaction.
func (c channelTx) ReserveKeyCreation(ctx context.Context, sellerID string, limit int, window time.Duration) (int64, time.Duration, error) {
	return reserveKeyCreation(ctx, c.tx, sellerID, limit, window)
}

// CancelKeyCreation implements ingest.CreationLimiter.
func (c channelTx) CancelKeyCreation(ctx context.Context, id int64) error {
	if _, err := c.tx.Exec(ctx, `DELETE FROM ivs_ingest.key_creations WHERE id = $1`, id); err != nil {
		return fmt.Errorf("cancel key creation: %w", err)
	}
	return nil
}
