-- +goose Up
-- As in the PostgreSQL migration 20261125170000_stream_keys.sql.
CREATE TABLE stream_keys (
  key_arn TEXT NOT NULL PRIMARY KEY,
  channel_arn TEXT NOT NULL,
  first_seen_at TEXT NOT NULL
) STRICT;
