-- +goose Up
-- Protect the columns of public.shows that authorization trusts.
--
-- The service hands a show's owner the key of the channel the show names, so
-- whoever can write shows.ivs_channel_arn (or seller_id) can take another
-- seller's key. On an existing Supabase project the core migration adds the
-- ivs_* columns to the app's own shows table, where they inherit the table's
-- grants to the Data API roles; a column REVOKE cannot take away what a table
-- grant gives. So a trigger refuses those changes to anon and authenticated,
-- whatever the app's grants and policies, and leaves every other column to
-- them. See README, Database.

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ivs_ingest.protect_show_columns() RETURNS trigger
LANGUAGE plpgsql
SECURITY INVOKER
SET search_path = ''
AS $$
DECLARE
  col text;
BEGIN
  -- current_user, not role membership: on Supabase, postgres (which runs
  -- migrations, SECURITY DEFINER functions and usually this service) is a
  -- member of both roles, and session_user is always authenticator. A
  -- request through the Data API runs as exactly anon or authenticated.
  IF current_user NOT IN ('anon', 'authenticated') THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    col := CASE
      WHEN NEW.ivs_channel_arn IS NOT NULL THEN 'ivs_channel_arn'
      WHEN NEW.ivs_ingest_endpoint IS NOT NULL THEN 'ivs_ingest_endpoint'
      WHEN NEW.ivs_stream_key_arn IS NOT NULL THEN 'ivs_stream_key_arn'
      WHEN NEW.stream_status IS NOT NULL THEN 'stream_status'
    END;
  ELSE
    col := CASE
      WHEN NEW.ivs_channel_arn IS DISTINCT FROM OLD.ivs_channel_arn THEN 'ivs_channel_arn'
      WHEN NEW.ivs_ingest_endpoint IS DISTINCT FROM OLD.ivs_ingest_endpoint THEN 'ivs_ingest_endpoint'
      WHEN NEW.ivs_stream_key_arn IS DISTINCT FROM OLD.ivs_stream_key_arn THEN 'ivs_stream_key_arn'
      WHEN NEW.stream_status IS DISTINCT FROM OLD.stream_status THEN 'stream_status'
      -- Moving a show to another seller would hand them its key.
      WHEN NEW.seller_id IS DISTINCT FROM OLD.seller_id THEN 'seller_id'
    END;
  END IF;
  IF col = 'seller_id' THEN
    RAISE EXCEPTION 'ivs-ingest: column shows.seller_id decides who gets the show''s stream key; anon and authenticated may not change it'
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Move shows with a SECURITY DEFINER function that checks the caller is an admin (see the ivs-ingest README, Database).';
  ELSIF col IS NOT NULL THEN
    RAISE EXCEPTION 'ivs-ingest: column shows.% is managed by ivs-ingest; anon and authenticated may not set it', col
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$;
-- +goose StatementEnd

-- Nobody calls a trigger function directly, and the trigger needs no EXECUTE
-- grant to fire (PostgreSQL calls it by OID, without checking EXECUTE or
-- USAGE on ivs_ingest): grant nothing, so the Data API roles see nothing.
REVOKE ALL ON FUNCTION ivs_ingest.protect_show_columns() FROM PUBLIC;
-- +goose StatementBegin
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('REVOKE ALL ON FUNCTION ivs_ingest.protect_show_columns() FROM %I', r);
    END IF;
  END LOOP;
END
$$;
-- +goose StatementEnd

-- Row triggers of one event fire in name order: "zz_" makes this one fire
-- after the app's own BEFORE triggers, so it judges the row they produce.
DROP TRIGGER IF EXISTS zz_ivs_ingest_protect_columns ON public.shows;
CREATE TRIGGER zz_ivs_ingest_protect_columns
  BEFORE INSERT OR UPDATE ON public.shows
  FOR EACH ROW EXECUTE FUNCTION ivs_ingest.protect_show_columns();

-- The authorization query refuses a channel that shows of two sellers name;
-- it finds the other shows of a channel through this index.
CREATE INDEX IF NOT EXISTS ivs_ingest_shows_ivs_channel_arn_idx
  ON public.shows (ivs_channel_arn) WHERE ivs_channel_arn IS NOT NULL;

INSERT INTO ivs_ingest.schema_version (version) VALUES (20261206100000)
ON CONFLICT (singleton) DO UPDATE SET version = greatest(ivs_ingest.schema_version.version, excluded.version);
