-- +goose Up
-- The audit trail, as in the PostgreSQL migration 20261125140000_audit_log.sql.
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  occurred_at TEXT NOT NULL,
  request_id TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('get', 'create', 'rotate', 'revoke', 'expire', 'audit_read')),
  outcome TEXT NOT NULL CHECK (outcome IN ('allowed', 'denied', 'error')),
  http_status INTEGER NOT NULL,
  actor_user_id TEXT,
  impersonated_seller_id TEXT,
  seller_id TEXT,
  show_id TEXT,
  stream_key_arn TEXT,
  client_ip TEXT,
  user_agent TEXT,
  reason TEXT
) STRICT;
CREATE INDEX audit_log_show_id_occurred_at_idx ON audit_log (show_id, occurred_at DESC);
CREATE INDEX audit_log_occurred_at_idx ON audit_log (occurred_at DESC);
