-- +goose Up
-- As in the PostgreSQL migration 20261206100000_protect_show_columns.sql: the
-- authorization query finds the other shows of a channel through this index.
-- (SQLite has no Data API roles, so the trigger has no counterpart here.)
CREATE INDEX IF NOT EXISTS shows_ivs_channel_arn_idx ON shows (ivs_channel_arn) WHERE ivs_channel_arn IS NOT NULL;
