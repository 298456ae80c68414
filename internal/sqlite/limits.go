package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// KeyCreationWait implements ingest.Store.
func (db *DB) KeyCreationWait(ctx context.Context, sellerID string, limit int, window time.Duration) (time.Duration, error) {
	return keyCreationWait(ctx, db.read, db.Now(), sellerID, limit, window)
}

// keyCreationWait is how long sellerID must wait at now for a creation
// within limit per window; 0 when not at all.
func keyCreationWait(ctx context.Context, q rowQuerier, now time.Time, sellerID string, limit int, window time.Duration) (time.Duration, error) {
	now = now.UTC()
	var n int
	var oldest sql.NullString
	err := q.QueryRowContext(ctx, `SELECT count(*), min(created_at) FROM key_creations WHERE seller_id = ?1 AND created_at > ?2`,
		strings.ToLower(sellerID), now.Add(-window).Format(timeLayout)).Scan(&n, &oldest)
	if err != nil {
		return 0, fmt.Errorf("count key creations: %w", err)
	}
	if n < limit || !oldest.Valid {
		return 0, nil
	}
	first, err := time.Parse(timeLayout, oldest.String)
	if err != nil {
		return 0, fmt.Errorf("count key creations: %w", err)
	}
	// Never 0 when refused: 0 means "now".
	return max(first.Add(window).Sub(now), time.Second), nil
}

// ReserveKeyCreation implements ingest.CreationLimiter within the section's
// write transaction: the single writing connection serializes the count and
// the insert, and the count commits with the key it counts.
func (c *channelTx) ReserveKeyCreation(ctx context.Context, sellerID string, limit int, window time.Duration) (int64, time.Duration, error) {
	tx, err := c.begin(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("reserve key creation: %w", err)
	}
	now := c.db.Now()
	wait, err := keyCreationWait(ctx, tx, now, sellerID, limit, window)
	if err != nil || wait > 0 {
		return 0, wait, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO key_creations (seller_id, created_at) VALUES (?1, ?2)`,
		strings.ToLower(sellerID), now.UTC().Format(timeLayout))
	if err != nil {
		return 0, 0, fmt.Errorf("reserve key creation: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, 0, fmt.Errorf("reserve key creation: %w", err)
	}
	return id, 0, nil
}

// CancelKeyCreation implements ingest.CreationLimiter.
func (c *channelTx) CancelKeyCreation(ctx context.Context, id int64) error {
	tx, err := c.begin(ctx)
	if err != nil {
		return fmt.Errorf("cancel key creation: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM key_creations WHERE id = ?1`, id); err != nil {
		return fmt.Errorf("cancel key creation: %w", err)
	}
	return nil
}
