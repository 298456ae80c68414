package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// datakeys.go keeps the key store's KMS-wrapped data keys, as
// internal/postgres/datakeys.go does.

// AddDataKey inserts k unless a row with its id exists: added is false when
// one was there first, and the caller reads that one back (DataKeys).
func (db *DB) AddDataKey(ctx context.Context, k ingest.DataKey) (added bool, err error) {
	res, err := db.write.ExecContext(ctx, `INSERT INTO data_keys (id, kms_key_id, wrapped, created_at) VALUES (?1, ?2, ?3, ?4)
		ON CONFLICT (id) DO NOTHING`, k.ID, k.KMSKeyID, k.Wrapped, db.Now().UTC().Format(timeLayout))
	if err != nil {
		return false, fmt.Errorf("add data key: %w", err)
	}
	return changedOne(res)
}

// DataKeys returns every data key row, oldest first: the last is the
// current one.
func (db *DB) DataKeys(ctx context.Context) ([]ingest.DataKey, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, kms_key_id, wrapped, created_at FROM data_keys
		ORDER BY created_at, length(id), id`)
	if err != nil {
		return nil, fmt.Errorf("read data keys: %w", err)
	}
	defer rows.Close()
	var out []ingest.DataKey
	for rows.Next() {
		var k ingest.DataKey
		var at string
		if err := rows.Scan(&k.ID, &k.KMSKeyID, &k.Wrapped, &at); err != nil {
			return nil, fmt.Errorf("read data keys: %w", err)
		}
		if k.CreatedAt, err = time.Parse(timeLayout, at); err != nil {
			return nil, fmt.Errorf("read data keys: created_at %q: %w", at, err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read data keys: %w", err)
	}
	return out, nil
}
