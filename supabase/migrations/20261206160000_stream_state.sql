-- +goose Up
-- The stream state of each IVS channel (docs/stream-status.md), kept from
-- IVS's EventBridge events and corrected by reconciliations with
-- ListStreams. EventBridge delivers at least once, late and out of order, so
-- the state and the health each keep the time and the id of what set them:
-- an event applies only when it is newer (an equal time applies unless it is
-- the same event id). A reconciliation's snapshot sets state_at to its own
-- time, with no event id, and never overwrites a state_at at or after it.
--
-- state is NULL while only health events were received. checked_at is when
-- an event or a reconciliation last confirmed the state: key expiry and
-- rotation trust a recent one instead of asking IVS.
--
-- public.shows.stream_status ('live' or 'offline', NULL until an event or a
-- reconciliation sets it) follows state in the same transaction.

CREATE TABLE IF NOT EXISTS ivs_ingest.stream_state (
  channel_arn text PRIMARY KEY,
  state text CHECK (state IN ('live', 'offline')),
  state_at timestamptz,
  state_event_id text,
  since timestamptz,
  stream_id text,
  reason text,
  health text CHECK (health IN ('healthy', 'starving')),
  health_at timestamptz,
  health_event_id text,
  checked_at timestamptz,
  CHECK ((state IS NULL) = (state_at IS NULL)),
  CHECK ((health IS NULL) = (health_at IS NULL))
);
SELECT ivs_ingest.lock_down('ivs_ingest.stream_state');

-- A reconciliation locks and corrects one region's rows at a time.
CREATE INDEX IF NOT EXISTS stream_state_region_idx ON ivs_ingest.stream_state (split_part(channel_arn, ':', 4));

INSERT INTO ivs_ingest.schema_version (version) VALUES (20261206160000)
ON CONFLICT (singleton) DO UPDATE SET version = greatest(ivs_ingest.schema_version.version, excluded.version);
