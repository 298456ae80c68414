-- +goose Up
-- The encrypted key store shared by every replica (docs/key-store.md).
--
-- ivs_ingest.stream_keys keeps each key's value sealed by the service
-- (AES-256-GCM under a key derived per value from a master key the database
-- never sees, bound to the key's and its channel's ARNs): sealed_value, the
-- id of the master key that sealed it (sealed_key_id: a replica never
-- overwrites a value sealed under a master key it does not hold), and when
-- IVS last confirmed the key exists (verified_at, shared by every replica).
--
-- ivs_ingest.channels keeps what GetChannel says of a channel: its ingest
-- and SRT endpoints and its SRT passphrase, sealed likewise (bound to the
-- channel's ARN), so that a stored key is answered, and a new one created,
-- without asking IVS for the channel.

ALTER TABLE ivs_ingest.stream_keys
  ADD COLUMN IF NOT EXISTS sealed_value bytea,
  ADD COLUMN IF NOT EXISTS sealed_key_id text,
  ADD COLUMN IF NOT EXISTS verified_at timestamptz;

CREATE TABLE IF NOT EXISTS ivs_ingest.channels (
  channel_arn text PRIMARY KEY,
  ingest_endpoint text NOT NULL,
  srt_endpoint text,
  sealed_srt_passphrase bytea,
  sealed_key_id text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
SELECT ivs_ingest.lock_down('ivs_ingest.channels');

INSERT INTO ivs_ingest.schema_version (version) VALUES (20261206130000)
ON CONFLICT (singleton) DO UPDATE SET version = greatest(ivs_ingest.schema_version.version, excluded.version);
