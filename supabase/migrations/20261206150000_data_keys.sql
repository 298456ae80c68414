-- +goose Up
-- The key store's master keys when they come from AWS KMS
-- (STREAM_KEY_KMS_KEY_ID, docs/key-store.md): data keys made by
-- kms:GenerateDataKey, kept only WRAPPED (KMS's ciphertext blob, which only
-- kms:Decrypt with the service's encryption context opens). The first
-- replica to start inserts row '1' if absent and every replica reads it
-- back, so replicas racing at first start share one data key. A newer row
-- is a new master key (id "kms-<id>"); older rows still open what they
-- sealed while they are kept.

CREATE TABLE IF NOT EXISTS ivs_ingest.data_keys (
  id text PRIMARY KEY,
  kms_key_id text NOT NULL,
  wrapped bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
SELECT ivs_ingest.lock_down('ivs_ingest.data_keys');

INSERT INTO ivs_ingest.schema_version (version) VALUES (20261206150000)
ON CONFLICT (singleton) DO UPDATE SET version = greatest(ivs_ingest.schema_version.version, excluded.version);
