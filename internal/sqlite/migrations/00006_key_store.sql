-- +goose Up
-- As in the PostgreSQL migration 20261206130000_key_store.sql: the sealed
-- key values and the channels, for `dev`'s key store.
ALTER TABLE stream_keys ADD COLUMN sealed_value BLOB;
ALTER TABLE stream_keys ADD COLUMN sealed_key_id TEXT;
ALTER TABLE stream_keys ADD COLUMN verified_at TEXT;

CREATE TABLE channels (
  channel_arn TEXT NOT NULL PRIMARY KEY,
  ingest_endpoint TEXT NOT NULL,
  srt_endpoint TEXT,
  sealed_srt_passphrase BLOB,
  sealed_key_id TEXT,
  updated_at TEXT NOT NULL
) STRICT;
