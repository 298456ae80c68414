package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// sealed.go keeps the key store's rows: the sealed values of stream keys
// (ivs_ingest.stream_keys) and the channels (ivs_ingest.channels). The
// store only keeps them: it never sees a master key nor a value in clear.

// storeKeySQL writes a key's sealed value unless the row holds one sealed
// under a master key not in $6: then the conflict's update matches no row.
const storeKeySQL = `INSERT INTO ivs_ingest.stream_keys AS k (key_arn, channel_arn, sealed_value, sealed_key_id, verified_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (key_arn) DO UPDATE SET sealed_value = excluded.sealed_value, sealed_key_id = excluded.sealed_key_id,
	verified_at = excluded.verified_at
WHERE k.sealed_key_id IS NULL OR k.sealed_key_id = ANY ($6::text[])`

// storeChannelSQL writes a channel's row on the same condition.
const storeChannelSQL = `INSERT INTO ivs_ingest.channels AS c (channel_arn, ingest_endpoint, srt_endpoint, sealed_srt_passphrase, sealed_key_id, updated_at)
VALUES ($1, $2, NULLIF($3, ''), $4, NULLIF($5, ''), now())
ON CONFLICT (channel_arn) DO UPDATE SET ingest_endpoint = excluded.ingest_endpoint, srt_endpoint = excluded.srt_endpoint,
	sealed_srt_passphrase = excluded.sealed_srt_passphrase, sealed_key_id = excluded.sealed_key_id, updated_at = now()
WHERE c.sealed_key_id IS NULL OR c.sealed_key_id = ANY ($6::text[])`

func storeKey(ctx context.Context, ex execer, k ingest.StoredKey, known []string) (bool, error) {
	tag, err := ex.Exec(ctx, storeKeySQL, k.KeyARN, k.ChannelARN, k.Sealed, k.SealedBy, k.VerifiedAt, known)
	if err != nil {
		return false, fmt.Errorf("store stream key: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

func storeChannel(ctx context.Context, ex execer, c ingest.StoredChannel, known []string) (bool, error) {
	tag, err := ex.Exec(ctx, storeChannelSQL, c.ARN, c.IngestEndpoint, c.SRTEndpoint, c.SealedSRTPassphrase, c.SealedBy, known)
	if err != nil {
		return false, fmt.Errorf("store channel: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// StoreKey implements ingest.SealedWriter.
func (db *DB) StoreKey(ctx context.Context, k ingest.StoredKey, known []string) (bool, error) {
	return storeKey(ctx, db.pool, k, known)
}

// StoreChannel implements ingest.SealedWriter.
func (db *DB) StoreChannel(ctx context.Context, c ingest.StoredChannel, known []string) (bool, error) {
	return storeChannel(ctx, db.pool, c, known)
}

// StoreKey implements ingest.ChannelTx: in the section's transaction.
func (c channelTx) StoreKey(ctx context.Context, k ingest.StoredKey, known []string) (bool, error) {
	return storeKey(ctx, c.tx, k, known)
}

// StoreChannel implements ingest.ChannelTx: in the section's transaction.
func (c channelTx) StoreChannel(ctx context.Context, ch ingest.StoredChannel, known []string) (bool, error) {
	return storeChannel(ctx, c.tx, ch, known)
}

// KeyVerified implements ingest.Store.
func (db *DB) KeyVerified(ctx context.Context, keyARN string, at time.Time) error {
	_, err := db.pool.Exec(ctx, `UPDATE ivs_ingest.stream_keys SET verified_at = $2
		WHERE key_arn = $1 AND sealed_value IS NOT NULL AND (verified_at IS NULL OR verified_at < $2)`, keyARN, at)
	if err != nil {
		return fmt.Errorf("record stream key check: %w", err)
	}
	return nil
}

// ForgetStreamKey implements ingest.Store: in one statement, so that the
// show's ARN and the value are cleared together.
func (db *DB) ForgetStreamKey(ctx context.Context, keyARN string) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `WITH v AS (
		UPDATE ivs_ingest.stream_keys SET sealed_value = NULL, sealed_key_id = NULL, verified_at = NULL WHERE key_arn = $1
	), s AS (
		UPDATE public.shows SET ivs_stream_key_arn = NULL WHERE ivs_stream_key_arn = $1 RETURNING 1
	) SELECT count(*) FROM s`, keyARN).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("forget stream key: %w", err)
	}
	return n, nil
}

// StoredKeys implements ingest.Store.
func (db *DB) StoredKeys(ctx context.Context, afterARN string, limit int) ([]ingest.StoredKey, error) {
	rows, err := db.pool.Query(ctx, `SELECT key_arn, channel_arn, sealed_value, coalesce(sealed_key_id, ''), verified_at
		FROM ivs_ingest.stream_keys WHERE sealed_value IS NOT NULL AND key_arn > $1 ORDER BY key_arn LIMIT $2`, afterARN, limit)
	if err != nil {
		return nil, fmt.Errorf("list stored keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ingest.StoredKey, error) {
		var k ingest.StoredKey
		var verified *time.Time
		err := r.Scan(&k.KeyARN, &k.ChannelARN, &k.Sealed, &k.SealedBy, &verified)
		if verified != nil {
			k.VerifiedAt = *verified
		}
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("list stored keys: %w", err)
	}
	return keys, nil
}

// StoredChannels implements ingest.Store.
func (db *DB) StoredChannels(ctx context.Context, afterARN string, limit int) ([]ingest.StoredChannel, error) {
	rows, err := db.pool.Query(ctx, `SELECT channel_arn, ingest_endpoint, coalesce(srt_endpoint, ''), sealed_srt_passphrase,
		coalesce(sealed_key_id, '') FROM ivs_ingest.channels
		WHERE sealed_srt_passphrase IS NOT NULL AND channel_arn > $1 ORDER BY channel_arn LIMIT $2`, afterARN, limit)
	if err != nil {
		return nil, fmt.Errorf("list stored channels: %w", err)
	}
	chans, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ingest.StoredChannel, error) {
		var c ingest.StoredChannel
		err := r.Scan(&c.ARN, &c.IngestEndpoint, &c.SRTEndpoint, &c.SealedSRTPassphrase, &c.SealedBy)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("list stored channels: %w", err)
	}
	return chans, nil
}

// CountStored implements ingest.Store.
func (db *DB) CountStored(ctx context.Context) (keys, channels int, err error) {
	err = db.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM ivs_ingest.stream_keys WHERE sealed_value IS NOT NULL),
		(SELECT count(*) FROM ivs_ingest.channels WHERE sealed_srt_passphrase IS NOT NULL)`).Scan(&keys, &channels)
	if err != nil {
		return 0, 0, fmt.Errorf("count stored values: %w", err)
	}
	return keys, channels, nil
}
