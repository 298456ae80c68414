-- +goose Up
-- Key creations and rotations per seller, as in the PostgreSQL migration
-- 20261125160000_key_creations.sql.
CREATE TABLE key_creations (
  id INTEGER PRIMARY KEY,
  seller_id TEXT NOT NULL,
  created_at TEXT NOT NULL
) STRICT;
CREATE INDEX key_creations_seller_id_created_at_idx ON key_creations (seller_id, created_at);
