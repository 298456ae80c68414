package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// sealed.go keeps the key store's rows, as internal/postgres/sealed.go does.

// storeKeySQL writes a key's sealed value unless the row holds one sealed
// under a master key not in ?7 (a JSON array): then the conflict's update
// matches no row.
const storeKeySQL = `INSERT INTO stream_keys (key_arn, channel_arn, first_seen_at, sealed_value, sealed_key_id, verified_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)
ON CONFLICT (key_arn) DO UPDATE SET sealed_value = excluded.sealed_value, sealed_key_id = excluded.sealed_key_id,
	verified_at = excluded.verified_at
WHERE stream_keys.sealed_key_id IS NULL OR stream_keys.sealed_key_id IN (SELECT value FROM json_each(?7))`

// storeChannelSQL writes a channel's row on the same condition.
const storeChannelSQL = `INSERT INTO channels (channel_arn, ingest_endpoint, srt_endpoint, sealed_srt_passphrase, sealed_key_id, updated_at)
VALUES (?1, ?2, NULLIF(?3, ''), ?4, NULLIF(?5, ''), ?6)
ON CONFLICT (channel_arn) DO UPDATE SET ingest_endpoint = excluded.ingest_endpoint, srt_endpoint = excluded.srt_endpoint,
	sealed_srt_passphrase = excluded.sealed_srt_passphrase, sealed_key_id = excluded.sealed_key_id, updated_at = excluded.updated_at
WHERE channels.sealed_key_id IS NULL OR channels.sealed_key_id IN (SELECT value FROM json_each(?7))`

func (db *DB) storeKey(ctx context.Context, ex execer, k ingest.StoredKey, known []string) (bool, error) {
	ids, err := json.Marshal(nonNil(known))
	if err != nil {
		return false, fmt.Errorf("store stream key: %w", err)
	}
	res, err := ex.ExecContext(ctx, storeKeySQL, k.KeyARN, k.ChannelARN, db.Now().UTC().Format(timeLayout),
		blob(k.Sealed), k.SealedBy, k.VerifiedAt.UTC().Format(timeLayout), string(ids))
	if err != nil {
		return false, fmt.Errorf("store stream key: %w", err)
	}
	return changedOne(res)
}

func (db *DB) storeChannel(ctx context.Context, ex execer, c ingest.StoredChannel, known []string) (bool, error) {
	ids, err := json.Marshal(nonNil(known))
	if err != nil {
		return false, fmt.Errorf("store channel: %w", err)
	}
	res, err := ex.ExecContext(ctx, storeChannelSQL, c.ARN, c.IngestEndpoint, c.SRTEndpoint, blob(c.SealedSRTPassphrase),
		c.SealedBy, db.Now().UTC().Format(timeLayout), string(ids))
	if err != nil {
		return false, fmt.Errorf("store channel: %w", err)
	}
	return changedOne(res)
}

// blob is b for a BLOB column: NULL when nil.
func blob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func nonNil(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

func changedOne(res sql.Result) (bool, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// StoreKey implements ingest.SealedWriter.
func (db *DB) StoreKey(ctx context.Context, k ingest.StoredKey, known []string) (bool, error) {
	return db.storeKey(ctx, db.write, k, known)
}

// StoreChannel implements ingest.SealedWriter.
func (db *DB) StoreChannel(ctx context.Context, c ingest.StoredChannel, known []string) (bool, error) {
	return db.storeChannel(ctx, db.write, c, known)
}

// StoreKey implements ingest.ChannelTx in the section's write transaction.
func (c *channelTx) StoreKey(ctx context.Context, k ingest.StoredKey, known []string) (bool, error) {
	tx, err := c.begin(ctx)
	if err != nil {
		return false, fmt.Errorf("store stream key: %w", err)
	}
	return c.db.storeKey(ctx, tx, k, known)
}

// StoreChannel implements ingest.ChannelTx in the section's write
// transaction.
func (c *channelTx) StoreChannel(ctx context.Context, ch ingest.StoredChannel, known []string) (bool, error) {
	tx, err := c.begin(ctx)
	if err != nil {
		return false, fmt.Errorf("store channel: %w", err)
	}
	return c.db.storeChannel(ctx, tx, ch, known)
}

// KeyVerified implements ingest.Store.
func (db *DB) KeyVerified(ctx context.Context, keyARN string, at time.Time) error {
	t := at.UTC().Format(timeLayout)
	_, err := db.write.ExecContext(ctx, `UPDATE stream_keys SET verified_at = ?2
		WHERE key_arn = ?1 AND sealed_value IS NOT NULL AND (verified_at IS NULL OR verified_at < ?2)`, keyARN, t)
	if err != nil {
		return fmt.Errorf("record stream key check: %w", err)
	}
	return nil
}

// ForgetStreamKey implements ingest.Store, in one transaction.
func (db *DB) ForgetStreamKey(ctx context.Context, keyARN string) (int, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("forget stream key: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // sql.ErrTxDone after a commit
	if _, err := tx.ExecContext(ctx, `UPDATE stream_keys SET sealed_value = NULL, sealed_key_id = NULL, verified_at = NULL
		WHERE key_arn = ?1`, keyARN); err != nil {
		return 0, fmt.Errorf("forget stream key: %w", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE shows SET ivs_stream_key_arn = NULL WHERE ivs_stream_key_arn = ?1`, keyARN)
	if err != nil {
		return 0, fmt.Errorf("forget stream key: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("forget stream key: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("forget stream key: %w", err)
	}
	return int(n), nil
}

// StoredKeys implements ingest.Store.
func (db *DB) StoredKeys(ctx context.Context, afterARN string, limit int) ([]ingest.StoredKey, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT key_arn, channel_arn, sealed_value, coalesce(sealed_key_id, ''), verified_at
		FROM stream_keys WHERE sealed_value IS NOT NULL AND key_arn > ?1 ORDER BY key_arn LIMIT ?2`, afterARN, limit)
	if err != nil {
		return nil, fmt.Errorf("list stored keys: %w", err)
	}
	defer rows.Close()
	var out []ingest.StoredKey
	for rows.Next() {
		var k ingest.StoredKey
		var verified *string
		if err := rows.Scan(&k.KeyARN, &k.ChannelARN, &k.Sealed, &k.SealedBy, &verified); err != nil {
			return nil, fmt.Errorf("list stored keys: %w", err)
		}
		if verified != nil {
			if k.VerifiedAt, err = time.Parse(timeLayout, *verified); err != nil {
				return nil, fmt.Errorf("verified_at %q: %w", *verified, err)
			}
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list stored keys: %w", err)
	}
	return out, nil
}

// StoredChannels implements ingest.Store.
func (db *DB) StoredChannels(ctx context.Context, afterARN string, limit int) ([]ingest.StoredChannel, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT channel_arn, ingest_endpoint, coalesce(srt_endpoint, ''), sealed_srt_passphrase,
		coalesce(sealed_key_id, '') FROM channels
		WHERE sealed_srt_passphrase IS NOT NULL AND channel_arn > ?1 ORDER BY channel_arn LIMIT ?2`, afterARN, limit)
	if err != nil {
		return nil, fmt.Errorf("list stored channels: %w", err)
	}
	defer rows.Close()
	var out []ingest.StoredChannel
	for rows.Next() {
		var c ingest.StoredChannel
		if err := rows.Scan(&c.ARN, &c.IngestEndpoint, &c.SRTEndpoint, &c.SealedSRTPassphrase, &c.SealedBy); err != nil {
			return nil, fmt.Errorf("list stored channels: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list stored channels: %w", err)
	}
	return out, nil
}

// CountStored implements ingest.Store.
func (db *DB) CountStored(ctx context.Context) (keys, channels int, err error) {
	err = db.read.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM stream_keys WHERE sealed_value IS NOT NULL),
		(SELECT count(*) FROM channels WHERE sealed_srt_passphrase IS NOT NULL)`).Scan(&keys, &channels)
	if err != nil {
		return 0, 0, fmt.Errorf("count stored values: %w", err)
	}
	return keys, channels, nil
}
