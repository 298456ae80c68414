-- +goose Up
-- As in the PostgreSQL migration 20261206160000_stream_state.sql: each IVS
-- channel's stream state, with the time and event id of what set its state
-- and its health. shows.stream_status exists since 00001.
CREATE TABLE stream_state (
  channel_arn TEXT NOT NULL PRIMARY KEY,
  state TEXT CHECK (state IN ('live', 'offline')),
  state_at TEXT,
  state_event_id TEXT,
  since TEXT,
  stream_id TEXT,
  reason TEXT,
  health TEXT CHECK (health IN ('healthy', 'starving')),
  health_at TEXT,
  health_event_id TEXT,
  checked_at TEXT,
  CHECK ((state IS NULL) = (state_at IS NULL)),
  CHECK ((health IS NULL) = (health_at IS NULL))
) STRICT;
