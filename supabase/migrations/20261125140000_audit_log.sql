-- +goose Up
-- The audit trail: one row per request that carried a valid token, written
-- before any key is handed out. Never a key value or a token.

CREATE TABLE IF NOT EXISTS ivs_ingest.audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  request_id text NOT NULL,
  action text NOT NULL CHECK (action IN ('get', 'create', 'rotate', 'revoke', 'expire', 'audit_read')),
  outcome text NOT NULL CHECK (outcome IN ('allowed', 'denied', 'error')),
  http_status integer NOT NULL,
  actor_user_id uuid,
  impersonated_seller_id uuid,
  seller_id uuid,
  show_id uuid,
  stream_key_arn text,
  client_ip text,
  user_agent text,
  reason text
);
CREATE INDEX IF NOT EXISTS audit_log_show_id_occurred_at_idx ON ivs_ingest.audit_log (show_id, occurred_at DESC);
CREATE INDEX IF NOT EXISTS audit_log_occurred_at_idx ON ivs_ingest.audit_log (occurred_at DESC);
SELECT ivs_ingest.lock_down('ivs_ingest.audit_log');

INSERT INTO ivs_ingest.schema_version (version) VALUES (20261125140000)
ON CONFLICT (singleton) DO UPDATE SET version = greatest(ivs_ingest.schema_version.version, excluded.version);
