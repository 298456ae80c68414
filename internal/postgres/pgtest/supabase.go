package pgtest

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// SupabaseRoles is the SQL that gives a test database a Supabase project's
// Data API roles: anon and authenticated, which PostgREST switches to with
// SET ROLE, and authenticator, the NOINHERIT login it connects as, which is
// granted both; and Supabase's default privileges, which give both roles
// every privilege on each table created in schema public afterwards. Run it
// before creating the app's tables. Roles belong to the whole cluster, which
// the tests share, so creating and granting them tolerates a concurrent test
// doing the same.
const SupabaseRoles = `
DO $$ BEGIN
  CREATE ROLE anon NOLOGIN NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
DO $$ BEGIN
  CREATE ROLE authenticated NOLOGIN NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
DO $$ BEGIN
  CREATE ROLE authenticator LOGIN NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
DO $$ BEGIN
  GRANT anon, authenticated TO authenticator;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
GRANT USAGE ON SCHEMA public TO anon, authenticated;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated;
`

// SupabaseAuth is the SQL for the part of Supabase Auth's schema the service
// and app policies use: auth.users, auth.sessions, and auth.uid(), which
// reads the sub claim PostgREST puts in request.jwt.claims (or, in older
// versions, request.jwt.claim.sub). It needs SupabaseRoles first.
const SupabaseAuth = `
CREATE SCHEMA auth;
GRANT USAGE ON SCHEMA auth TO anon, authenticated;
CREATE TABLE auth.users (id uuid PRIMARY KEY, email text);
CREATE TABLE auth.sessions (id uuid PRIMARY KEY, user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  created_at timestamptz DEFAULT now());
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
  )::uuid
$$;
`

// SupabaseApp is the SQL for a typical live-shopping app built on Supabase
// before ivs-ingest is added: its sellers, shows (with a column of its own,
// title) and user_roles, created after SupabaseRoles so that the default
// privileges give anon and authenticated every privilege on them, with row
// level security on and the usual policies: anyone may read shows, a seller
// reads their own profile and roles, and inserts and updates the shows of
// their own profile. It needs SupabaseRoles and SupabaseAuth first.
const SupabaseApp = `
CREATE TABLE public.sellers (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), user_id uuid NOT NULL UNIQUE REFERENCES auth.users (id),
  status text NOT NULL DEFAULT 'pending', shop_name text);
CREATE TABLE public.shows (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), seller_id uuid NOT NULL REFERENCES public.sellers (id),
  title text NOT NULL DEFAULT '');
CREATE TABLE public.user_roles (user_id uuid NOT NULL REFERENCES auth.users (id), role text NOT NULL, PRIMARY KEY (user_id, role));
ALTER TABLE public.sellers ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.shows ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.user_roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY "sellers read their profile" ON public.sellers FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY "users read their roles" ON public.user_roles FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY "shows are public" ON public.shows FOR SELECT USING (true);
CREATE POLICY "sellers add their shows" ON public.shows FOR INSERT TO authenticated
  WITH CHECK (seller_id IN (SELECT id FROM public.sellers WHERE user_id = auth.uid()));
CREATE POLICY "sellers edit their shows" ON public.shows FOR UPDATE TO authenticated
  USING (seller_id IN (SELECT id FROM public.sellers WHERE user_id = auth.uid()))
  WITH CHECK (seller_id IN (SELECT id FROM public.sellers WHERE user_id = auth.uid()));
`

// ExecAsAPI runs sql on the database at dbURL the way PostgREST runs a Data
// API request: connected as authenticator, in a transaction that switches
// to role (anon or authenticated) and carries the token's claims with sub
// as the user id. It returns the statement's error, for tests that expect
// one; it fails the test only when it cannot connect. Needs SupabaseRoles.
func ExecAsAPI(t testing.TB, dbURL, role, sub, sql string, args ...any) error {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("parse database URL: %v", err)
	}
	u.User = url.User("authenticator")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("connect as authenticator: %v", err)
	}
	defer conn.Close(ctx)
	claims, err := json.Marshal(map[string]string{"sub": sub, "role": role})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true)`, role, string(claims)); err != nil {
		t.Fatalf("switch to role %s: %v", role, err)
	}
	if _, err := tx.Exec(ctx, sql, args...); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// SupabaseAuthGrants is the SQL that gives role what Supabase Auth's own
// migrations give postgres on the auth tables (SupabaseAuth's): SELECT
// with grant option on each, and nothing on schema auth itself, so that
// without a USAGE granted elsewhere the role cannot reach them ("permission
// denied for schema auth"). role is an identifier the caller made.
func SupabaseAuthGrants(role string) string {
	return `GRANT SELECT ON auth.users TO ` + role + ` WITH GRANT OPTION;
GRANT SELECT ON auth.sessions TO ` + role + ` WITH GRANT OPTION;
`
}
