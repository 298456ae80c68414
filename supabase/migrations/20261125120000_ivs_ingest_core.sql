-- +goose Up
-- ivs-ingest core schema.
--
-- Safe on an empty database and on an existing Supabase project: it creates
-- only what is missing, adds the seed's columns with IF NOT EXISTS, and never
-- drops or rewrites the app's data. Tables this file creates get row level
-- security and no grants for the Data API roles (anon, authenticated), since
-- Supabase's default privileges would otherwise expose them.

CREATE SCHEMA IF NOT EXISTS ivs_ingest;
REVOKE ALL ON SCHEMA ivs_ingest FROM PUBLIC;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ivs_ingest.lock_down(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  r text;
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('REVOKE ALL ON TABLE %s FROM %I', tbl, r);
    END IF;
  END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
BEGIN
  IF to_regclass('public.sellers') IS NULL THEN
    CREATE TABLE public.sellers (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL UNIQUE,
      status text NOT NULL DEFAULT 'pending'
    );
    PERFORM ivs_ingest.lock_down('public.sellers');
  END IF;

  IF to_regclass('public.shows') IS NULL THEN
    CREATE TABLE public.shows (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      seller_id uuid NOT NULL REFERENCES public.sellers (id),
      ivs_channel_arn text,
      ivs_ingest_endpoint text,
      ivs_stream_key_arn text,
      stream_status text
    );
    PERFORM ivs_ingest.lock_down('public.shows');
  END IF;

  IF to_regclass('public.user_roles') IS NULL THEN
    CREATE TABLE public.user_roles (
      user_id uuid NOT NULL,
      role text NOT NULL,
      PRIMARY KEY (user_id, role)
    );
    PERFORM ivs_ingest.lock_down('public.user_roles');
  END IF;
END
$$;
-- +goose StatementEnd

-- The seed Edge Function's columns.
ALTER TABLE public.shows ADD COLUMN IF NOT EXISTS ivs_channel_arn text;
ALTER TABLE public.shows ADD COLUMN IF NOT EXISTS ivs_ingest_endpoint text;
ALTER TABLE public.shows ADD COLUMN IF NOT EXISTS ivs_stream_key_arn text;
ALTER TABLE public.shows ADD COLUMN IF NOT EXISTS stream_status text;

-- The app's identity columns cannot be invented: say which one is missing.
-- +goose StatementBegin
DO $$
DECLARE
  want text[][] := ARRAY[
    ['sellers', 'id'], ['sellers', 'user_id'], ['sellers', 'status'],
    ['shows', 'id'], ['shows', 'seller_id'],
    ['user_roles', 'user_id'], ['user_roles', 'role']
  ];
  i int;
BEGIN
  FOR i IN 1 .. array_length(want, 1) LOOP
    IF NOT EXISTS (
      SELECT 1 FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = want[i][1] AND column_name = want[i][2]
    ) THEN
      RAISE EXCEPTION 'ivs-ingest: column public.%.% is missing; ivs-ingest needs it (see README, Database)', want[i][1], want[i][2];
    END IF;
  END LOOP;
END
$$;
-- +goose StatementEnd

-- The authorization query looks roles up by user_id: make sure an index
-- leads with it (Supabase's RBAC example has UNIQUE (user_id, role) already).
-- +goose StatementBegin
DO $$
BEGIN
  IF NOT EXISTS (
    SELECT 1
    FROM pg_index i
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
    WHERE i.indrelid = 'public.user_roles'::regclass AND a.attname = 'user_id'
  ) THEN
    CREATE INDEX ivs_ingest_user_roles_user_id_idx ON public.user_roles (user_id);
  END IF;
  IF NOT EXISTS (
    SELECT 1
    FROM pg_index i
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
    WHERE i.indrelid = 'public.sellers'::regclass AND a.attname = 'user_id'
  ) THEN
    CREATE INDEX ivs_ingest_sellers_user_id_idx ON public.sellers (user_id);
  END IF;
END
$$;
-- +goose StatementEnd

-- The schema version the binary checks at start-up. Every migration raises
-- it, so a database migrated by the Supabase CLI reads as current too.
CREATE TABLE IF NOT EXISTS ivs_ingest.schema_version (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version bigint NOT NULL
);
SELECT ivs_ingest.lock_down('ivs_ingest.schema_version');

INSERT INTO ivs_ingest.schema_version (version) VALUES (20261125120000)
ON CONFLICT (singleton) DO UPDATE SET version = greatest(ivs_ingest.schema_version.version, excluded.version);
