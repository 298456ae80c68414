package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// ReserveKeyCreation implements ingest.CreationLimiter. The single writing
// connection serializes the count and the insert.
func (db *DB) ReserveKeyCreation(ctx context.Context, sellerID string, limit int, window time.Duration) (int64, time.Duration, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("reserve key creation: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	now := time.Now().UTC()
	seller := strings.ToLower(sellerID)
	var n int
	var oldest sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT count(*), min(created_at) FROM key_creations WHERE seller_id = ?1 AND created_at > ?2`,
		seller, now.Add(-window).Format(timeLayout)).Scan(&n, &oldest)
	if err != nil {
		return 0, 0, fmt.Errorf("reserve key creation: %w", err)
	}
	if n >= limit {
		first, err := time.Parse(timeLayout, oldest.String)
		if err != nil {
			return 0, 0, fmt.Errorf("reserve key creation: %w", err)
		}
		return 0, first.Add(window).Sub(now), nil
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO key_creations (seller_id, created_at) VALUES (?1, ?2)`, seller, now.Format(timeLayout))
	if err != nil {
		return 0, 0, fmt.Errorf("reserve key creation: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, 0, fmt.Errorf("reserve key creation: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, fmt.Errorf("reserve key creation: %w", err)
	}
	return id, 0, nil
}

// CancelKeyCreation implements ingest.CreationLimiter.
func (db *DB) CancelKeyCreation(ctx context.Context, id int64) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM key_creations WHERE id = ?1`, id); err != nil {
		return fmt.Errorf("cancel key creation: %w", err)
	}
	return nil
}
