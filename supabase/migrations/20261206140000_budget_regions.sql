-- +goose Up
-- The IVS call budget per region: IVS's 5 calls per second are per account
-- and region, so each region (a bucket) has a schedule row of its own,
-- created by the service on first use. See internal/postgres/budget.go.
--
-- Safe on a live database, with replicas of the previous version running:
-- - the existing row becomes bucket '' (budget.DefaultBucket), the default
--   region's (AWS_REGION's) schedule, so both versions keep sharing it;
-- - it keeps singleton = true, the only row that may, which is all the
--   previous version's statements (WHERE singleton, ON CONFLICT
--   (singleton)) look at; the rows of other regions have singleton NULL;
-- - ADD COLUMN with a constant default rewrites nothing, and the table holds
--   a row per region: its constraints are rebuilt in an instant, under a
--   lock_timeout so that the migration gives up rather than queue the
--   service's reservations behind it.
-- Running the file again changes nothing.

SET LOCAL lock_timeout = '5s';

ALTER TABLE ivs_ingest.ivs_call_budget ADD COLUMN IF NOT EXISTS bucket text NOT NULL DEFAULT '';

-- +goose StatementBegin
DO $$
BEGIN
  IF NOT EXISTS (
    SELECT FROM pg_constraint
    WHERE conrelid = 'ivs_ingest.ivs_call_budget'::regclass AND conname = 'ivs_call_budget_bucket_pkey'
  ) THEN
    ALTER TABLE ivs_ingest.ivs_call_budget
      DROP CONSTRAINT IF EXISTS ivs_call_budget_pkey,
      DROP CONSTRAINT IF EXISTS ivs_call_budget_singleton_check,
      ALTER COLUMN singleton DROP NOT NULL,
      ADD CONSTRAINT ivs_call_budget_bucket_pkey PRIMARY KEY (bucket),
      ADD CONSTRAINT ivs_call_budget_singleton_key UNIQUE (singleton),
      ADD CONSTRAINT ivs_call_budget_default_bucket_check CHECK (singleton IS NULL OR (singleton AND bucket = ''));
  END IF;
END
$$;
-- +goose StatementEnd

-- The default region's row, should it be missing (the service would also
-- create it on first use).
INSERT INTO ivs_ingest.ivs_call_budget (bucket, singleton, next_slot) VALUES ('', true, now())
ON CONFLICT DO NOTHING;

INSERT INTO ivs_ingest.schema_version (version) VALUES (20261206140000)
ON CONFLICT (singleton) DO UPDATE SET version = greatest(ivs_ingest.schema_version.version, excluded.version);
