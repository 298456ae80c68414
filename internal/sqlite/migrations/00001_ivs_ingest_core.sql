-- +goose Up
-- The tables of the store contract, as the PostgreSQL migration creates them
-- on an empty database. UUIDs are TEXT in canonical lowercase form: the store
-- lowercases what it is given, as PostgreSQL's uuid type would.
CREATE TABLE sellers (
  id TEXT NOT NULL PRIMARY KEY,
  user_id TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL
) STRICT;

CREATE TABLE shows (
  id TEXT NOT NULL PRIMARY KEY,
  seller_id TEXT NOT NULL REFERENCES sellers (id),
  ivs_channel_arn TEXT,
  ivs_ingest_endpoint TEXT,
  ivs_stream_key_arn TEXT,
  stream_status TEXT
) STRICT;

CREATE TABLE user_roles (
  user_id TEXT NOT NULL,
  role TEXT NOT NULL,
  PRIMARY KEY (user_id, role)
) STRICT;
