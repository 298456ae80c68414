-- +goose Up
-- The IVS call budget shared by every replica: IVS allows 5 calls per second
-- per account and region, for all replicas together. One row holds the
-- earliest free call slot, on the database's clock, so replicas whose clocks
-- disagree still share one schedule. See internal/postgres/budget.go.

CREATE TABLE IF NOT EXISTS ivs_ingest.ivs_call_budget (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  next_slot timestamptz NOT NULL
);
SELECT ivs_ingest.lock_down('ivs_ingest.ivs_call_budget');

INSERT INTO ivs_ingest.ivs_call_budget (next_slot) VALUES (now())
ON CONFLICT (singleton) DO NOTHING;

INSERT INTO ivs_ingest.schema_version (version) VALUES (20261125150000)
ON CONFLICT (singleton) DO UPDATE SET version = greatest(ivs_ingest.schema_version.version, excluded.version);
