package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// WithChannelLock implements ingest.Store with a transaction-scoped advisory
// lock, which is safe through a transaction-mode pooler and is released by
// commit, rollback or a dropped connection.
func (db *DB) WithChannelLock(ctx context.Context, channelARN string, fn func(ingest.ChannelTx) error) error {
	select {
	case db.lockSlots <- struct{}{}:
		defer func() { <-db.lockSlots }()
	case <-ctx.Done():
		return fmt.Errorf("wait for a channel lock slot: %w", ctx.Err())
	}
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('ivs-ingest/channel/' || $1, 0))`, channelARN); err != nil {
			return fmt.Errorf("lock channel: %w", err)
		}
		return fn(channelTx{db: db, tx: tx})
	})
}

// channelTx is a channel section's view of the store: its transaction,
// under the channel's advisory lock.
type channelTx struct {
	db *DB
	tx pgx.Tx
}

// Show implements ingest.ChannelTx. The row lock keeps the show from being
// moved to another seller or channel until the section ends. Why FOR NO KEY
// UPDATE, not FOR SHARE: the section updates the row later (its key), and a
// transaction that updates a row it holds FOR SHARE leaves a MultiXact on
// it, which every later read of the row must resolve until vacuum: the hot
// path would pay for it on each request.
func (c channelTx) Show(ctx context.Context, showID string) (ingest.Show, bool, error) {
	var show scannedShow
	err := c.tx.QueryRow(ctx, `SELECT `+showColumns+`
	FROM public.shows sh `+showJoins+`
	WHERE sh.id = $1::uuid FOR NO KEY UPDATE OF sh`, showID).Scan(show.dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return ingest.Show{}, false, nil
	}
	if err != nil {
		return ingest.Show{}, false, fmt.Errorf("read show: %w", err)
	}
	return *show.show(), true, nil
}

// StreamKeyARN implements ingest.ChannelTx.
func (c channelTx) StreamKeyARN(ctx context.Context, showID string) (string, error) {
	var arn *string
	err := c.tx.QueryRow(ctx, `SELECT ivs_stream_key_arn FROM public.shows WHERE id = $1::uuid`, showID).Scan(&arn)
	if err != nil {
		return "", fmt.Errorf("read stream key arn: %w", err)
	}
	return deref(arn), nil
}

// RecordStreamKey implements ingest.ChannelTx.
func (c channelTx) RecordStreamKey(ctx context.Context, showID, keyARN, endpoint string) error {
	_, err := c.tx.Exec(ctx, `UPDATE public.shows SET ivs_stream_key_arn = NULLIF($2, ''), ivs_ingest_endpoint = NULLIF($3, '') WHERE id = $1::uuid`,
		showID, keyARN, endpoint)
	if err != nil {
		return fmt.Errorf("record stream key: %w", err)
	}
	return nil
}
