-- +goose Up
-- Audit retention and paging.
--
-- ivs_ingest.leases: a job that one replica at a time may run (the audit
-- retention's delete) is leased through a row, taken with one conditional
-- UPSERT. Not a session-level advisory lock: behind a transaction-mode
-- pooler the server connection, and so such a lock, is shared with others.
--
-- audit_log_show_id_id_idx: ivs-audit pages a show's trail by id, newest
-- first (the retention's delete uses audit_log_occurred_at_idx).

CREATE TABLE IF NOT EXISTS ivs_ingest.leases (
  name text PRIMARY KEY,
  holder text NOT NULL,
  expires_at timestamptz NOT NULL
);
SELECT ivs_ingest.lock_down('ivs_ingest.leases');

CREATE INDEX IF NOT EXISTS audit_log_show_id_id_idx ON ivs_ingest.audit_log (show_id, id DESC);

INSERT INTO ivs_ingest.schema_version (version) VALUES (20261206120000)
ON CONFLICT (singleton) DO UPDATE SET version = greatest(ivs_ingest.schema_version.version, excluded.version);
