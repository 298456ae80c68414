-- +goose Up
-- As in the PostgreSQL migration 20261206150000_data_keys.sql: the key
-- store's KMS-wrapped data keys.
CREATE TABLE data_keys (
  id TEXT NOT NULL PRIMARY KEY,
  kms_key_id TEXT NOT NULL,
  wrapped BLOB NOT NULL,
  created_at TEXT NOT NULL
) STRICT;
