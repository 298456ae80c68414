-- +goose Up
-- When the service first saw each stream key: IVS keeps no creation time, and
-- STREAM_KEY_MAX_AGE ages keys from here (a key that existed before the
-- service saw it ages from when it was first seen).

CREATE TABLE IF NOT EXISTS ivs_ingest.stream_keys (
  key_arn text PRIMARY KEY,
  channel_arn text NOT NULL,
  first_seen_at timestamptz NOT NULL DEFAULT now()
);
SELECT ivs_ingest.lock_down('ivs_ingest.stream_keys');

INSERT INTO ivs_ingest.schema_version (version) VALUES (20261125170000)
ON CONFLICT (singleton) DO UPDATE SET version = greatest(ivs_ingest.schema_version.version, excluded.version);
