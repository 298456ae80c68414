package postgres

import (
	"context"
	"fmt"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// datakeys.go keeps the key store's KMS-wrapped data keys
// (ivs_ingest.data_keys): wrapped only; the store never sees one unwrapped.

// AddDataKey inserts k unless a row with its id exists: added is false when
// another replica's row was there first, and the caller reads that one back
// (DataKeys). So replicas racing at first start keep one data key.
func (db *DB) AddDataKey(ctx context.Context, k ingest.DataKey) (added bool, err error) {
	tag, err := db.pool.Exec(ctx, `INSERT INTO ivs_ingest.data_keys (id, kms_key_id, wrapped) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO NOTHING`, k.ID, k.KMSKeyID, k.Wrapped)
	if err != nil {
		return false, fmt.Errorf("add data key: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// DataKeys returns every data key row, oldest first: the last is the
// current one.
func (db *DB) DataKeys(ctx context.Context) ([]ingest.DataKey, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, kms_key_id, wrapped, created_at FROM ivs_ingest.data_keys
		ORDER BY created_at, length(id), id`)
	if err != nil {
		return nil, fmt.Errorf("read data keys: %w", err)
	}
	defer rows.Close()
	var out []ingest.DataKey
	for rows.Next() {
		var k ingest.DataKey
		if err := rows.Scan(&k.ID, &k.KMSKeyID, &k.Wrapped, &k.CreatedAt); err != nil {
			return nil, fmt.Errorf("read data keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read data keys: %w", err)
	}
	return out, nil
}
