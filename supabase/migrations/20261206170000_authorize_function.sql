-- +goose Up
-- ivs_ingest.authorize: the authorization query of every request
-- (internal/postgres/authz.go) as a PL/pgSQL function, so that PostgreSQL
-- plans it once per server connection instead of on every request.
--
-- Why a function: planning was most of the statement's time (about 400 of
-- 590 µs, BENCHMARKS.md), and the service cannot use named prepared
-- statements behind a transaction-mode pooler (Supavisor, PgBouncer), which
-- hands each transaction to any server connection. PL/pgSQL keeps the plans
-- of its statements in the server connection itself, whichever client
-- transaction uses it, so a pooler cannot break them; the one statement the
-- service sends (SELECT * FROM ivs_ingest.authorize(...)) is trivial to plan.
--
-- Parameters: the caller's user id, the show id, the impersonated seller id
-- (NULL unless impersonating), the token's session id (NULL when it names
-- none), whether auth.sessions is checked (it exists), and whether
-- sellers.user_id is unique (else the seller is chosen as the query did:
-- a non-approved row first, so that a doubt denies). One row, always.
--
-- SECURITY INVOKER: it reads only what the calling role may read, so
-- granting EXECUTE grants nothing; search_path is fixed so that no object
-- of the caller's schemas can stand in for the tables it names.

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ivs_ingest.authorize(
  p_user_id uuid, p_show_id uuid, p_impersonated_seller_id uuid, p_session_id uuid,
  p_check_sessions boolean, p_unique_seller_user boolean)
RETURNS TABLE (
  session_active boolean, is_admin boolean, seller_id text, seller_status text,
  show_id text, show_seller_id text, ivs_channel_arn text, ivs_ingest_endpoint text, ivs_stream_key_arn text,
  key_first_seen_at timestamptz, channel_shared boolean, key_sealed_value bytea, key_verified_at timestamptz,
  channel_ingest_endpoint text, channel_srt_endpoint text, channel_sealed_srt_passphrase bytea, channel_sealed_key_id text)
LANGUAGE plpgsql STABLE SECURITY INVOKER SET search_path = '' AS $$
#variable_conflict use_column
DECLARE
  v_session boolean := true;
  v_admin boolean;
  v_seller_id text;
  v_seller_status text;
BEGIN
  -- Casts to text let enum-typed role and status columns compare too.
  IF p_check_sessions THEN
    SELECT p_session_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM auth.sessions s WHERE s.id = p_session_id AND s.user_id = p_user_id),
      EXISTS (SELECT 1 FROM public.user_roles r WHERE r.user_id = p_user_id AND r.role::text = 'admin')
    INTO v_session, v_admin;
  ELSE
    SELECT EXISTS (SELECT 1 FROM public.user_roles r WHERE r.user_id = p_user_id AND r.role::text = 'admin')
    INTO v_admin;
  END IF;

  IF p_impersonated_seller_id IS NOT NULL THEN
    SELECT s.id::text, s.status::text INTO v_seller_id, v_seller_status
    FROM public.sellers s WHERE s.id = p_impersonated_seller_id;
  ELSIF p_unique_seller_user THEN
    SELECT s.id::text, s.status::text INTO v_seller_id, v_seller_status
    FROM public.sellers s WHERE s.user_id = p_user_id;
  ELSE
    SELECT s.id::text, s.status::text INTO v_seller_id, v_seller_status
    FROM public.sellers s WHERE s.user_id = p_user_id
    ORDER BY s.status::text = 'approved', s.id LIMIT 1;
  END IF;

  -- The columns are cast to the declared types: an existing project's
  -- shows may hold them as varchar.
  RETURN QUERY
  SELECT v_session, v_admin, v_seller_id, v_seller_status,
    sh.id::text, sh.seller_id::text, sh.ivs_channel_arn::text, sh.ivs_ingest_endpoint::text, sh.ivs_stream_key_arn::text,
    k.first_seen_at,
    EXISTS (SELECT 1 FROM public.shows o WHERE o.ivs_channel_arn = sh.ivs_channel_arn AND o.seller_id <> sh.seller_id),
    k.sealed_value, k.verified_at, c.ingest_endpoint, c.srt_endpoint, c.sealed_srt_passphrase, c.sealed_key_id
  FROM (VALUES (1)) AS one (x)
  LEFT JOIN public.shows sh ON sh.id = p_show_id
  LEFT JOIN ivs_ingest.stream_keys k ON k.key_arn = sh.ivs_stream_key_arn
  LEFT JOIN ivs_ingest.channels c ON c.channel_arn = sh.ivs_channel_arn;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('REVOKE ALL ON FUNCTION ivs_ingest.authorize(uuid, uuid, uuid, uuid, boolean, boolean) FROM %I', r);
    END IF;
  END LOOP;
END
$$;
-- +goose StatementEnd

INSERT INTO ivs_ingest.schema_version (version) VALUES (20261206170000)
ON CONFLICT (singleton) DO UPDATE SET version = greatest(ivs_ingest.schema_version.version, excluded.version);

