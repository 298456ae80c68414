package postgres_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
)

var discard = slog.New(slog.DiscardHandler)

func migrated(t *testing.T) (string, *postgres.DB) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	if err := postgres.Migrate(context.Background(), url, discard); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return url, open(t, url)
}

func open(t *testing.T, url string) *postgres.DB {
	t.Helper()
	return openWith(t, url, *preparedFlag)
}

func openWith(t *testing.T, url string, prepared bool) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 8, PreparedStatements: prepared})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

func queryRows(t *testing.T, url, sql string) [][]any {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}
	var out [][]any
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			t.Fatalf("values: %v", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("rows: %v", err)
	}
	return out
}

func queryBool(t *testing.T, url, sql string) bool {
	t.Helper()
	rows := queryRows(t, url, sql)
	if len(rows) != 1 || len(rows[0]) != 1 {
		t.Fatalf("query %q returned %v, want one value", sql, rows)
	}
	b, ok := rows[0][0].(bool)
	if !ok {
		t.Fatalf("query %q returned %T, want bool", sql, rows[0][0])
	}
	return b
}

func TestMigrateEmptyDatabase(t *testing.T) {
	t.Parallel()
	url, db := migrated(t)
	ctx := context.Background()

	// A second run applies nothing and fails nothing.
	if err := postgres.Migrate(ctx, url, discard); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	v, err := db.CurrentSchemaVersion(ctx)
	if err != nil || v != postgres.SchemaVersion {
		t.Errorf("CurrentSchemaVersion() = %d, %v; want %d", v, err, postgres.SchemaVersion)
	}
	if err := db.CheckSchema(ctx); err != nil {
		t.Errorf("CheckSchema() = %v, want nil", err)
	}
	for _, tbl := range []string{"public.sellers", "public.shows", "public.user_roles", "ivs_ingest.schema_version", "ivs_ingest.goose_db_version"} {
		if !queryBool(t, url, "SELECT relrowsecurity FROM pg_class WHERE oid = '"+tbl+"'::regclass") {
			t.Errorf("%s: row level security is off, want on for a table the migrations created", tbl)
		}
	}
	if db.ChecksSessions() {
		t.Error("ChecksSessions() = true on a database without auth.sessions")
	}
}

func TestCheckSchemaOnUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	db := open(t, pgtest.NewDatabase(t))
	err := db.CheckSchema(context.Background())
	if err == nil || !strings.Contains(err.Error(), "ivs-ingest migrate") {
		t.Errorf("CheckSchema() = %v, want an error naming `ivs-ingest migrate`", err)
	}
}

// supabaseLike is the shape of an existing Supabase project: API roles with
// default privileges, auth.users and auth.sessions, and the app's own tables
// with columns of their own, an enum role type, and data.
const supabaseLike = pgtest.SupabaseRoles + pgtest.SupabaseAuth + `
CREATE TYPE public.app_role AS ENUM ('admin', 'moderator', 'user');
CREATE TABLE public.user_roles (id bigserial PRIMARY KEY, user_id uuid NOT NULL REFERENCES auth.users (id), role public.app_role NOT NULL, UNIQUE (user_id, role));
CREATE TABLE public.sellers (id uuid PRIMARY KEY, user_id uuid NOT NULL UNIQUE REFERENCES auth.users (id), status text NOT NULL, shop_name text, created_at timestamptz NOT NULL DEFAULT '2026-01-02T03:04:05Z');
CREATE TABLE public.shows (id uuid PRIMARY KEY, seller_id uuid NOT NULL REFERENCES public.sellers (id), title text NOT NULL, starts_at timestamptz);
INSERT INTO auth.users VALUES ('11111111-1111-4111-8111-111111111111', 'a@example.com'), ('22222222-2222-4222-8222-222222222222', 'b@example.com');
INSERT INTO auth.sessions (id, user_id) VALUES ('33333333-3333-4333-8333-333333333333', '11111111-1111-4111-8111-111111111111');
INSERT INTO public.user_roles (user_id, role) VALUES ('22222222-2222-4222-8222-222222222222', 'admin');
INSERT INTO public.sellers (id, user_id, status, shop_name) VALUES ('44444444-4444-4444-8444-444444444444', '11111111-1111-4111-8111-111111111111', 'approved', 'Shop');
INSERT INTO public.shows (id, seller_id, title, starts_at) VALUES ('55555555-5555-4555-8555-555555555555', '44444444-4444-4444-8444-444444444444', 'Launch', '2026-12-01T10:00:00Z');
`

func TestMigrateExistingSupabaseSchemaKeepsData(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	pgtest.Exec(t, url, supabaseLike)
	const snapshot = `SELECT 'seller', to_jsonb(s)::text FROM public.sellers s
		UNION ALL SELECT 'show', (to_jsonb(sh) - 'ivs_channel_arn' - 'ivs_ingest_endpoint' - 'ivs_stream_key_arn' - 'stream_status')::text FROM public.shows sh
		UNION ALL SELECT 'role', to_jsonb(r)::text FROM public.user_roles r
		UNION ALL SELECT 'session', to_jsonb(x)::text FROM auth.sessions x ORDER BY 1, 2`
	before := queryRows(t, url, snapshot)

	if err := postgres.Migrate(context.Background(), url, discard); err != nil {
		t.Fatalf("Migrate on a Supabase-like schema: %v", err)
	}
	if diff := cmp.Diff(before, queryRows(t, url, snapshot)); diff != "" {
		t.Errorf("Migrate changed the app's data (-before +after):\n%s", diff)
	}
	for _, col := range []string{"ivs_channel_arn", "ivs_ingest_endpoint", "ivs_stream_key_arn", "stream_status"} {
		if !queryBool(t, url, "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'shows' AND column_name = '"+col+"')") {
			t.Errorf("shows.%s missing after Migrate", col)
		}
	}
	// The app's tables keep their own security settings; ours are locked.
	if queryBool(t, url, "SELECT relrowsecurity FROM pg_class WHERE oid = 'public.sellers'::regclass") {
		t.Error("Migrate turned on row level security on the app's existing sellers table")
	}
	for _, role := range []string{"anon", "authenticated"} {
		if queryBool(t, url, "SELECT has_table_privilege('"+role+"', 'ivs_ingest.schema_version', 'SELECT')") {
			t.Errorf("%s may read ivs_ingest.schema_version, want no grants", role)
		}
		if queryBool(t, url, "SELECT has_schema_privilege('"+role+"', 'ivs_ingest', 'USAGE')") {
			t.Errorf("%s has USAGE on schema ivs_ingest, want none", role)
		}
	}

	db := open(t, url)
	if !db.ChecksSessions() {
		t.Error("ChecksSessions() = false on a database with auth.sessions")
	}
	// The enum-typed role column still identifies the admin.
	f, err := db.Authorize(context.Background(), ingest.AuthzQuery{
		UserID: "22222222-2222-4222-8222-222222222222", ShowID: "55555555-5555-4555-8555-555555555555",
	})
	if err != nil || !f.IsAdmin {
		t.Errorf("Authorize(admin with enum role) = %+v, %v; want IsAdmin", f, err)
	}
}

func TestMigrateNamesAMissingAppColumn(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	pgtest.Exec(t, url, `CREATE TABLE public.sellers (id uuid PRIMARY KEY, user_id uuid NOT NULL, approved boolean)`)
	err := postgres.Migrate(context.Background(), url, discard)
	if err == nil || !strings.Contains(err.Error(), "public.sellers.status") {
		t.Errorf("Migrate() = %v, want an error naming public.sellers.status", err)
	}
}

const (
	sellerUser  = "a0000000-0000-4000-8000-000000000001"
	pendingUser = "a0000000-0000-4000-8000-000000000002"
	adminUser   = "a0000000-0000-4000-8000-000000000003"
	session1    = "b0000000-0000-4000-8000-000000000001"
	seller1     = "c0000000-0000-4000-8000-000000000001"
	seller2     = "c0000000-0000-4000-8000-000000000002"
	show1       = "d0000000-0000-4000-8000-000000000001"
	noShow      = "d0000000-0000-4000-8000-0000000000ff"
	channel1    = "arn:aws:ivs:us-east-1:123456789012:channel/abcdefghijkl"
)

// seed adds two sellers, an admin, a moderator (the approved seller) and a
// show, in a database that tracks sessions, with one live session.
func seed(t *testing.T, url string) {
	t.Helper()
	sql := `
INSERT INTO public.sellers (id, user_id, status) VALUES
  ('` + seller1 + `', '` + sellerUser + `', 'approved'),
  ('` + seller2 + `', '` + pendingUser + `', 'pending');
INSERT INTO public.user_roles (user_id, role) VALUES ('` + adminUser + `', 'admin'), ('` + sellerUser + `', 'moderator');
INSERT INTO public.shows (id, seller_id, ivs_channel_arn, ivs_ingest_endpoint, ivs_stream_key_arn) VALUES
  ('` + show1 + `', '` + seller1 + `', '` + channel1 + `', 'abc.global-contribute.live-video.net', 'arn:aws:ivs:us-east-1:123456789012:stream-key/keykeykeykey');
CREATE SCHEMA IF NOT EXISTS auth;
CREATE TABLE auth.sessions (id uuid PRIMARY KEY, user_id uuid NOT NULL);
INSERT INTO auth.sessions VALUES ('` + session1 + `', '` + sellerUser + `');`
	pgtest.Exec(t, url, sql)
}

// The auth.sessions check is PostgreSQL's own; the facts without sessions
// are the contract's (storetest's Authorize section). The seed gives the
// seller a non-admin role, which must not read as admin.
func TestAuthorizeChecksSessions(t *testing.T) {
	t.Parallel()
	show := &ingest.Show{
		ID: show1, SellerID: seller1, ChannelARN: channel1,
		IngestEndpoint: "abc.global-contribute.live-video.net",
		StreamKeyARN:   "arn:aws:ivs:us-east-1:123456789012:stream-key/keykeykeykey",
	}
	tests := []struct {
		name string
		q    ingest.AuthzQuery
		want ingest.AuthzFacts
	}{
		{"live session", ingest.AuthzQuery{UserID: sellerUser, SessionID: session1, ShowID: show1},
			ingest.AuthzFacts{SessionActive: true, Seller: &ingest.Seller{ID: seller1, Status: "approved"}, Show: show}},
		{"signed-out session", ingest.AuthzQuery{UserID: sellerUser, SessionID: noShow, ShowID: show1},
			ingest.AuthzFacts{Seller: &ingest.Seller{ID: seller1, Status: "approved"}, Show: show}},
		{"no session id", ingest.AuthzQuery{UserID: sellerUser, ShowID: show1},
			ingest.AuthzFacts{Seller: &ingest.Seller{ID: seller1, Status: "approved"}, Show: show}},
		{"another user's session", ingest.AuthzQuery{UserID: pendingUser, SessionID: session1, ShowID: show1},
			ingest.AuthzFacts{Seller: &ingest.Seller{ID: seller2, Status: "pending"}, Show: show}},
	}
	url, _ := migrated(t)
	seed(t, url)
	db := open(t, url) // reopened: sessions are detected at Open
	if !db.ChecksSessions() {
		t.Fatal("ChecksSessions() = false after auth.sessions was created")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := db.Authorize(context.Background(), tt.q)
			if err != nil {
				t.Fatalf("Authorize(%+v): %v", tt.q, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Authorize(%+v) mismatch (-want +got):\n%s", tt.q, diff)
			}
		})
	}
}

// The lock must hold across replicas: two pools (two "servers") on one
// database never run the same channel's section at once. (The contract
// suite checks, per store, that other channels do not wait.)
func TestWithChannelLockExcludesAcrossPools(t *testing.T) {
	t.Parallel()
	url, a := migrated(t)
	b := open(t, url)
	ctx := context.Background()

	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		db := a
		if i%2 == 1 {
			db = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := db.WithChannelLock(ctx, channel1, func(ingest.ChannelTx) error {
				n := inside.Add(1)
				for {
					m := maxInside.Load()
					if n <= m || maxInside.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(5 * time.Millisecond)
				inside.Add(-1)
				return nil
			})
			if err != nil {
				t.Errorf("WithChannelLock: %v", err)
			}
		}()
	}
	wg.Wait()
	if got := maxInside.Load(); got != 1 {
		t.Errorf("at most %d sections ran at once on one channel, want 1", got)
	}
}

// A project where the Edge Function already ran: the seed's columns exist
// and hold values, which the migration must leave as they are.
func TestMigrateKeepsTheEdgeFunctionsColumns(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	pgtest.Exec(t, url, supabaseLike+`
ALTER TABLE public.shows ADD COLUMN ivs_channel_arn text, ADD COLUMN ivs_ingest_endpoint text,
  ADD COLUMN ivs_stream_key_arn text, ADD COLUMN stream_status text;
UPDATE public.shows SET ivs_channel_arn = 'arn:aws:ivs:us-east-1:123456789012:channel/abcdefghijkl',
  ivs_ingest_endpoint = 'rtmps://abc.global-contribute.live-video.net:443/app/',
  ivs_stream_key_arn = 'arn:aws:ivs:us-east-1:123456789012:stream-key/abcdefghijkl', stream_status = 'offline';`)
	const snapshot = `SELECT to_jsonb(sh)::text FROM public.shows sh ORDER BY 1`
	before := queryRows(t, url, snapshot)
	if err := postgres.Migrate(context.Background(), url, discard); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if diff := cmp.Diff(before, queryRows(t, url, snapshot)); diff != "" {
		t.Errorf("Migrate changed shows (-before +after):\n%s", diff)
	}
}

// The Supabase CLI applies each file whole, without goose. The service must
// then read the schema as current, and a later `ivs-ingest migrate` (which
// re-applies the file, since goose has no record of it) must change nothing.
func TestSchemaAppliedByTheSupabaseCLI(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	pgtest.Exec(t, url, supabaseLike)
	files, err := filepath.Glob("../../supabase/migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v, %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pgtest.Exec(t, url, string(b)) // one simple-protocol batch, as psql -f would
	}
	db := open(t, url)
	if err := db.CheckSchema(context.Background()); err != nil {
		t.Fatalf("CheckSchema after the CLI applied the files: %v", err)
	}
	const snapshot = `SELECT to_jsonb(s)::text FROM public.sellers s UNION ALL SELECT to_jsonb(sh)::text FROM public.shows sh ORDER BY 1`
	before := queryRows(t, url, snapshot)
	if err := postgres.Migrate(context.Background(), url, discard); err != nil {
		t.Fatalf("Migrate after the CLI: %v", err)
	}
	if diff := cmp.Diff(before, queryRows(t, url, snapshot)); diff != "" {
		t.Errorf("Migrate after the CLI changed data (-before +after):\n%s", diff)
	}
}

// Without SELECT on auth.sessions the sign-out check cannot run; the store
// refuses to open rather than silently letting signed-out sessions in.
func TestOpenRefusesUnreadableSessions(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	pgtest.Exec(t, url, supabaseLike)
	if err := postgres.Migrate(context.Background(), url, discard); err != nil {
		t.Fatal(err)
	}
	role := "ivs_noread_" + strings.ReplaceAll(strings.TrimPrefix(url[strings.LastIndex(url, "/")+1:], "test_"), "?sslmode=disable", "")
	pgtest.Exec(t, url, `CREATE ROLE `+role+` LOGIN; GRANT USAGE ON SCHEMA auth TO `+role)
	t.Cleanup(func() {
		pgtest.Exec(t, url, `DROP OWNED BY `+role+`; DROP ROLE `+role)
	})
	asRole := strings.Replace(url, "postgres://postgres@", "postgres://"+role+"@", 1)
	_, err := postgres.Open(context.Background(), asRole, postgres.Options{})
	if err == nil || !strings.Contains(err.Error(), "GRANT SELECT ON auth.sessions") {
		t.Errorf("Open as a role that cannot read auth.sessions = %v, want an error naming the grant", err)
	}
}

// The role Supabase Auth's own setup gives postgres may SELECT auth.sessions
// but lack USAGE on schema auth: Open names that grant, the role and who
// can grant it, instead of PostgreSQL's bare "permission denied for schema
// auth"; with both grants missing it names both; once granted, it opens.
func TestOpenNamesTheMissingSchemaGrant(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	pgtest.Exec(t, url, supabaseLike)
	if err := postgres.Migrate(context.Background(), url, discard); err != nil {
		t.Fatal(err)
	}
	suffix := strings.ReplaceAll(strings.TrimPrefix(url[strings.LastIndex(url, "/")+1:], "test_"), "?sslmode=disable", "")
	authOnly, bare := "ivs_authonly_"+suffix, "ivs_bare_"+suffix
	pgtest.Exec(t, url, `CREATE ROLE `+authOnly+` LOGIN; CREATE ROLE `+bare+` LOGIN;`+pgtest.SupabaseAuthGrants(authOnly))
	t.Cleanup(func() {
		pgtest.Exec(t, url, `DROP OWNED BY `+authOnly+`, `+bare+`; DROP ROLE `+authOnly+`; DROP ROLE `+bare)
	})
	as := func(role string) string {
		return strings.Replace(url, "postgres://postgres@", "postgres://"+role+"@", 1)
	}

	_, err := postgres.Open(context.Background(), as(authOnly), postgres.Options{})
	want := "the database role " + authOnly + " cannot read auth.sessions, which the sign-out check needs: " +
		`it lacks USAGE on schema auth ("permission denied for schema auth"); as auth's owner (postgres) or a superuser, run: ` +
		"GRANT USAGE ON SCHEMA auth TO " + authOnly
	if err == nil || err.Error() != want {
		t.Errorf("Open as a role with SELECT on auth.sessions but no USAGE on auth = %v,\nwant %q", err, want)
	}

	_, err = postgres.Open(context.Background(), as(bare), postgres.Options{})
	if err == nil || !strings.Contains(err.Error(), "run: GRANT USAGE ON SCHEMA auth TO "+bare+"; GRANT SELECT ON auth.sessions TO "+bare) {
		t.Errorf("Open as a role with neither grant = %v, want both grants named", err)
	}

	pgtest.Exec(t, url, `GRANT USAGE ON SCHEMA auth TO `+authOnly)
	db, err := postgres.Open(context.Background(), as(authOnly), postgres.Options{})
	if err != nil {
		t.Fatalf("Open after GRANT USAGE ON SCHEMA auth = %v, want nil", err)
	}
	defer db.Close()
	if !db.ChecksSessions() {
		t.Error("ChecksSessions() = false after the grant, want true")
	}
}

// An existing sellers table without UNIQUE (user_id) may hold two profiles
// for one user: the answer must not depend on row order, and a doubt denies.
func TestDuplicateSellerProfilesDeny(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	pgtest.Exec(t, url, `CREATE TABLE public.sellers (id uuid PRIMARY KEY, user_id uuid NOT NULL, status text NOT NULL);
INSERT INTO public.sellers VALUES ('`+seller1+`', '`+sellerUser+`', 'approved'), ('`+seller2+`', '`+sellerUser+`', 'pending');`)
	if err := postgres.Migrate(context.Background(), url, discard); err != nil {
		t.Fatal(err)
	}
	db := open(t, url)
	for range 3 {
		f, err := db.Authorize(context.Background(), ingest.AuthzQuery{UserID: sellerUser, ShowID: noShow})
		if err != nil || f.Seller == nil || f.Seller.Status != "pending" {
			t.Fatalf("Authorize(user with an approved and a pending profile) = %+v, %v; want the pending one", f.Seller, err)
		}
	}
}

// The review's L6: a partial unique index (the common soft delete) or an
// expression index is not uniqueness of sellers.user_id, so a user with an
// old, deleted approved profile and a new pending one is still a doubt,
// and a doubt denies.
func TestPartialUniqueIndexIsNotUniqueness(t *testing.T) {
	t.Parallel()
	for name, index := range map[string]string{
		"partial":    `CREATE UNIQUE INDEX ON public.sellers (user_id) WHERE deleted_at IS NULL`,
		"expression": `CREATE UNIQUE INDEX ON public.sellers ((user_id::text))`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			url := pgtest.NewDatabase(t)
			pgtest.Exec(t, url, `CREATE TABLE public.sellers (id uuid PRIMARY KEY, user_id uuid NOT NULL, status text NOT NULL, deleted_at timestamptz);
`+index+`;
INSERT INTO public.sellers VALUES ('`+seller1+`', '`+sellerUser+`', 'approved', `+map[bool]string{true: "now()", false: "NULL"}[name == "partial"]+`)`)
			if name == "partial" {
				pgtest.Exec(t, url, `INSERT INTO public.sellers VALUES ('`+seller2+`', '`+sellerUser+`', 'pending', NULL)`)
			}
			if err := postgres.Migrate(context.Background(), url, discard); err != nil {
				t.Fatal(err)
			}
			db := open(t, url)
			f, err := db.Authorize(context.Background(), ingest.AuthzQuery{UserID: sellerUser, ShowID: noShow})
			want := "approved"
			if name == "partial" {
				want = "pending" // two profiles: the doubt denies
			}
			if err != nil || f.Seller == nil || f.Seller.Status != want {
				t.Errorf("Authorize() with a %s unique index = %+v, %v; want the %s profile", name, f.Seller, err, want)
			}
		})
	}
}
