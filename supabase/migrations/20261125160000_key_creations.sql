-- +goose Up
-- Key creations and rotations per seller, for the hourly limit that holds
-- across every replica.

CREATE TABLE IF NOT EXISTS ivs_ingest.key_creations (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  seller_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS key_creations_seller_id_created_at_idx ON ivs_ingest.key_creations (seller_id, created_at);
SELECT ivs_ingest.lock_down('ivs_ingest.key_creations');

INSERT INTO ivs_ingest.schema_version (version) VALUES (20261125160000)
ON CONFLICT (singleton) DO UPDATE SET version = greatest(ivs_ingest.schema_version.version, excluded.version);
