-- +goose Up
-- Rate limits shared by every replica (see internal/limit): one row per key,
-- holding the time at which the key's debt is paid off (a GCRA's
-- "theoretical arrival time"). A missing row, or one in the past, is a key
-- with its whole burst available, so rows may be deleted at any time.
-- Keys: a seller's share of the IVS call budget, revocations per show, and
-- (in AWS Lambda mode) requests per user and per client IP.

CREATE TABLE IF NOT EXISTS ivs_ingest.rate_limits (
  key text PRIMARY KEY,
  tat timestamptz NOT NULL
);
SELECT ivs_ingest.lock_down('ivs_ingest.rate_limits');

INSERT INTO ivs_ingest.schema_version (version) VALUES (20261206110000)
ON CONFLICT (singleton) DO UPDATE SET version = greatest(ivs_ingest.schema_version.version, excluded.version);
