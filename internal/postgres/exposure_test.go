package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
)

// The marketplace of the H1 attack: two sellers, each with a show; the
// victim's show has a channel and a key.
const (
	attackerUser   = "e0000000-0000-4000-8000-000000000001"
	victimUser     = "e0000000-0000-4000-8000-000000000002"
	attackerSeller = "e1000000-0000-4000-8000-000000000001"
	victimSeller   = "e1000000-0000-4000-8000-000000000002"
	attackerShow   = "e2000000-0000-4000-8000-000000000001"
	victimShow     = "e2000000-0000-4000-8000-000000000002"
	victimChannel  = "arn:aws:ivs:us-east-1:123456789012:channel/victimvictim"
	ownChannel     = "arn:aws:ivs:us-east-1:123456789012:channel/attackerattk"
	victimKey      = "arn:aws:ivs:us-east-1:123456789012:stream-key/victimvictim"
)

// supabaseApp returns a database set up like a Supabase project whose app
// predates ivs-ingest (default grants, row level security, sellers editing
// their own shows through the Data API), then migrated by ivs-ingest, and
// the shows given channels by the service's role.
func supabaseApp(t *testing.T) string {
	t.Helper()
	url := pgtest.NewDatabase(t)
	pgtest.Exec(t, url, pgtest.SupabaseRoles+pgtest.SupabaseAuth+pgtest.SupabaseApp+`
INSERT INTO auth.users (id) VALUES ('`+attackerUser+`'), ('`+victimUser+`');
INSERT INTO public.sellers (id, user_id, status) VALUES ('`+attackerSeller+`', '`+attackerUser+`', 'approved'),
  ('`+victimSeller+`', '`+victimUser+`', 'approved');
INSERT INTO public.shows (id, seller_id, title) VALUES ('`+attackerShow+`', '`+attackerSeller+`', 'Mine'),
  ('`+victimShow+`', '`+victimSeller+`', 'Theirs');`)
	if err := postgres.Migrate(context.Background(), url, discard); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	pgtest.Exec(t, url, `UPDATE public.shows SET ivs_channel_arn = $1, ivs_stream_key_arn = $2,
  ivs_ingest_endpoint = 'abc.global-contribute.live-video.net', stream_status = 'offline' WHERE id = $3`,
		victimChannel, victimKey, victimShow)
	pgtest.Exec(t, url, `UPDATE public.shows SET ivs_channel_arn = $1 WHERE id = $2`, ownChannel, attackerShow)
	return url
}

// TestDataAPICannotSetTrustedShowColumns is H1 at the database: through the
// Data API (connected as authenticator, switched to authenticated or anon),
// a seller whose app policy lets them edit their own shows cannot point one
// at another seller's channel, key or profile, while the app's own columns
// and the service's role stay free.
func TestDataAPICannotSetTrustedShowColumns(t *testing.T) {
	t.Parallel()
	url := supabaseApp(t)

	// The trigger fires although the Data API roles may not use its
	// schema or call its function: PostgreSQL calls a trigger's function
	// by OID, checking neither.
	for _, q := range []string{
		`SELECT has_schema_privilege('authenticated', 'ivs_ingest', 'USAGE')`,
		`SELECT has_function_privilege('authenticated', 'ivs_ingest.protect_show_columns()', 'EXECUTE')`,
		`SELECT has_function_privilege('anon', 'ivs_ingest.protect_show_columns()', 'EXECUTE')`,
	} {
		if queryBool(t, url, q) {
			t.Errorf("%s = true, want false", q)
		}
	}
	// What the attack relies on: the app's default grants reach the ivs_*
	// columns the migration added.
	if !queryBool(t, url, `SELECT has_column_privilege('authenticated', 'public.shows', 'ivs_channel_arn', 'UPDATE')`) {
		t.Fatal("authenticated lacks UPDATE on shows.ivs_channel_arn: the set-up does not reproduce the Supabase default grants")
	}

	const newShow = "e2000000-0000-4000-8000-0000000000aa"
	tests := []struct {
		name    string
		role    string
		sql     string
		args    []any
		refused string // the column the refusal names; "" when allowed
	}{
		{"point own show at the victim's channel", "authenticated",
			`UPDATE public.shows SET ivs_channel_arn = $1, ivs_stream_key_arn = NULL WHERE id = $2`, []any{victimChannel, attackerShow}, "ivs_channel_arn"},
		{"take the victim's key ARN", "authenticated",
			`UPDATE public.shows SET ivs_stream_key_arn = $1 WHERE id = $2`, []any{victimKey, attackerShow}, "ivs_stream_key_arn"},
		{"set the ingest endpoint", "authenticated",
			`UPDATE public.shows SET ivs_ingest_endpoint = 'evil.example.com' WHERE id = $1`, []any{attackerShow}, "ivs_ingest_endpoint"},
		{"set the stream status", "authenticated",
			`UPDATE public.shows SET stream_status = 'live' WHERE id = $1`, []any{attackerShow}, "stream_status"},
		{"move own show to the victim", "authenticated",
			`UPDATE public.shows SET seller_id = $1 WHERE id = $2`, []any{victimSeller, attackerShow}, "seller_id"},
		{"insert a show on the victim's channel", "authenticated",
			`INSERT INTO public.shows (id, seller_id, title, ivs_channel_arn) VALUES ($1, $2, 'Stolen', $3)`, []any{newShow, attackerSeller, victimChannel}, "ivs_channel_arn"},
		{"insert a show with a stream status", "authenticated",
			`INSERT INTO public.shows (id, seller_id, title, stream_status) VALUES ($1, $2, 'Stolen', 'live')`, []any{newShow, attackerSeller}, "stream_status"},
		{"anon inserts a show on the victim's channel", "anon",
			`INSERT INTO public.shows (id, seller_id, title, ivs_channel_arn) VALUES ($1, $2, 'Stolen', $3)`, []any{newShow, victimSeller, victimChannel}, "ivs_channel_arn"},
		{"insert a show without ivs columns", "authenticated",
			`INSERT INTO public.shows (id, seller_id, title) VALUES ($1, $2, 'New')`, []any{newShow, attackerSeller}, ""},
		{"edit own show's title", "authenticated",
			`UPDATE public.shows SET title = 'Renamed' WHERE id = $1`, []any{attackerShow}, ""},
		{"send the row back with its ivs columns unchanged", "authenticated",
			`UPDATE public.shows SET title = 'Again', ivs_channel_arn = ivs_channel_arn, seller_id = seller_id WHERE id = $1`, []any{attackerShow}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pgtest.ExecAsAPI(t, url, tt.role, attackerUser, tt.sql, tt.args...)
			if tt.refused == "" {
				if err != nil {
					t.Errorf("as %s: %s = %v, want it allowed", tt.role, tt.sql, err)
				}
				return
			}
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "42501" || !strings.Contains(pgErr.Message, "column shows."+tt.refused+" ") {
				t.Errorf("as %s: %s = %v, want SQLSTATE 42501 naming column shows.%s", tt.role, tt.sql, err, tt.refused)
			}
		})
	}
	wantRow := func(t *testing.T, sql string, want []any) {
		t.Helper()
		if diff := cmp.Diff([][]any{want}, queryRows(t, url, sql)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", sql, diff)
		}
	}
	// The allowed statements took effect; the refused ones left nothing.
	wantRow(t, `SELECT title, seller_id::text, ivs_channel_arn, ivs_stream_key_arn, ivs_ingest_endpoint, stream_status
		FROM public.shows WHERE id = '`+attackerShow+`'`, []any{"Again", attackerSeller, ownChannel, nil, nil, nil})
	wantRow(t, `SELECT title, ivs_channel_arn FROM public.shows WHERE id = '`+newShow+`'`, []any{"New", nil})

	// The service's own role (the connection's user; on Supabase, postgres,
	// a member of both API roles) writes the same columns freely.
	for _, sql := range []string{
		`UPDATE public.shows SET ivs_channel_arn = 'arn:aws:ivs:us-east-1:123456789012:channel/movedmovedmo' WHERE id = '` + attackerShow + `'`,
		`UPDATE public.shows SET ivs_stream_key_arn = 'arn:aws:ivs:us-east-1:123456789012:stream-key/attackerattk' WHERE id = '` + attackerShow + `'`,
		`UPDATE public.shows SET ivs_ingest_endpoint = 'def.global-contribute.live-video.net', stream_status = 'offline' WHERE id = '` + attackerShow + `'`,
		`UPDATE public.shows SET seller_id = '` + victimSeller + `' WHERE id = '` + newShow + `'`,
		`INSERT INTO public.shows (seller_id, title, ivs_channel_arn) VALUES ('` + victimSeller + `', 'Admin-made', 'arn:aws:ivs:us-east-1:123456789012:channel/adminadminad')`,
	} {
		pgtest.Exec(t, url, sql)
	}
	wantRow(t, `SELECT ivs_channel_arn, ivs_stream_key_arn, ivs_ingest_endpoint, stream_status FROM public.shows WHERE id = '`+attackerShow+`'`,
		[]any{"arn:aws:ivs:us-east-1:123456789012:channel/movedmovedmo", "arn:aws:ivs:us-east-1:123456789012:stream-key/attackerattk",
			"def.global-contribute.live-video.net", "offline"})
	wantRow(t, `SELECT seller_id::text FROM public.shows WHERE id = '`+newShow+`'`, []any{victimSeller})
}

// The trigger is there whether the migration created public.shows or found
// the app's: on an empty database too.
func TestShowsGuardOnAnEmptyDatabase(t *testing.T) {
	t.Parallel()
	url, db := migrated(t)
	e, err := db.Exposure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if e.Guard != postgres.GuardOn {
		t.Errorf("Exposure().Guard = %q on a database the migrations created, want %q", e.Guard, postgres.GuardOn)
	}
	if !queryBool(t, url, `SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'shows'
		AND indexname = 'ivs_ingest_shows_ivs_channel_arn_idx' AND indexdef LIKE '%(ivs_channel_arn) WHERE (ivs_channel_arn IS NOT NULL)')`) {
		t.Error("no partial index on public.shows (ivs_channel_arn)")
	}
}

func TestExposure(t *testing.T) {
	t.Parallel()
	write := func(role, table, column, command string, policies ...string) postgres.Write {
		return postgres.Write{Role: role, Table: table, Column: column, Command: command, Policies: policies}
	}
	rlsOff := func(w postgres.Write) postgres.Write { w.RLSOff = true; return w }
	tests := []struct {
		name   string
		change string // SQL run on the migrated Supabase-like app
		guard  postgres.ShowsGuard
		want   []postgres.Write
	}{
		{"stock Supabase app", ``, postgres.GuardOn, nil},
		{"a policy letting sellers edit their profile",
			`CREATE POLICY "sellers edit their profile" ON public.sellers FOR UPDATE TO authenticated USING (user_id = auth.uid())`,
			postgres.GuardOn, []postgres.Write{
				write("authenticated", "public.sellers", "status", "UPDATE", "sellers edit their profile"),
				write("authenticated", "public.sellers", "user_id", "UPDATE", "sellers edit their profile"),
			}},
		{"an ALL policy for PUBLIC, with the status column revoked",
			`CREATE POLICY "own profile" ON public.sellers USING (user_id = auth.uid());
			 REVOKE UPDATE ON public.sellers FROM anon, authenticated; GRANT UPDATE (shop_name, user_id) ON public.sellers TO authenticated`,
			postgres.GuardOn, []postgres.Write{
				write("anon", "public.sellers", "status", "INSERT", "own profile"),
				write("anon", "public.sellers", "user_id", "INSERT", "own profile"),
				write("authenticated", "public.sellers", "status", "INSERT", "own profile"),
				write("authenticated", "public.sellers", "user_id", "INSERT", "own profile"),
				write("authenticated", "public.sellers", "user_id", "UPDATE", "own profile"),
			}},
		{"a restrictive policy lets nothing through alone",
			`CREATE POLICY "only own" ON public.sellers AS RESTRICTIVE FOR UPDATE TO authenticated USING (user_id = auth.uid())`,
			postgres.GuardOn, nil},
		{"trigger disabled, with the app's shows policies",
			`ALTER TABLE public.shows DISABLE TRIGGER zz_ivs_ingest_protect_columns`,
			postgres.GuardDisabled, []postgres.Write{
				write("authenticated", "public.shows", "ivs_channel_arn", "INSERT", "sellers add their shows"),
				write("authenticated", "public.shows", "ivs_channel_arn", "UPDATE", "sellers edit their shows"),
				write("authenticated", "public.shows", "ivs_ingest_endpoint", "INSERT", "sellers add their shows"),
				write("authenticated", "public.shows", "ivs_ingest_endpoint", "UPDATE", "sellers edit their shows"),
				write("authenticated", "public.shows", "ivs_stream_key_arn", "INSERT", "sellers add their shows"),
				write("authenticated", "public.shows", "ivs_stream_key_arn", "UPDATE", "sellers edit their shows"),
				write("authenticated", "public.shows", "seller_id", "UPDATE", "sellers edit their shows"),
			}},
		{"trigger fires only in replication sessions", `ALTER TABLE public.shows ENABLE REPLICA TRIGGER zz_ivs_ingest_protect_columns;
			DROP POLICY "sellers add their shows" ON public.shows; DROP POLICY "sellers edit their shows" ON public.shows`,
			postgres.GuardDisabled, nil},
		{"trigger dropped, no shows policies", `DROP TRIGGER zz_ivs_ingest_protect_columns ON public.shows;
			DROP POLICY "sellers add their shows" ON public.shows; DROP POLICY "sellers edit their shows" ON public.shows`,
			postgres.GuardMissing, nil},
		{"row level security off on user_roles", `ALTER TABLE public.user_roles DISABLE ROW LEVEL SECURITY`,
			postgres.GuardOn, []postgres.Write{
				rlsOff(write("anon", "public.user_roles", "", "INSERT")),
				rlsOff(write("anon", "public.user_roles", "", "UPDATE")),
				rlsOff(write("anon", "public.user_roles", "", "DELETE")),
				rlsOff(write("authenticated", "public.user_roles", "", "INSERT")),
				rlsOff(write("authenticated", "public.user_roles", "", "UPDATE")),
				rlsOff(write("authenticated", "public.user_roles", "", "DELETE")),
			}},
		{"row level security off but no grants", `ALTER TABLE public.user_roles DISABLE ROW LEVEL SECURITY;
			REVOKE ALL ON public.user_roles FROM anon, authenticated`, postgres.GuardOn, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := supabaseApp(t)
			if tt.change != "" {
				pgtest.Exec(t, url, tt.change)
			}
			got, err := open(t, url).Exposure(context.Background())
			if err != nil {
				t.Fatalf("Exposure: %v", err)
			}
			want := postgres.Exposure{Roles: []string{"anon", "authenticated"}, Guard: tt.guard, Writes: tt.want}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Exposure() after %q (-want +got):\n%s", tt.change, diff)
			}
		})
	}
}

func TestSharedChannels(t *testing.T) {
	t.Parallel()
	url := supabaseApp(t)
	ctx := context.Background()
	db := open(t, url)
	if got, total, err := db.SharedChannels(ctx, 10); err != nil || total != 0 || len(got) != 0 {
		t.Fatalf("SharedChannels() before any sharing = %v, %d, %v; want none", got, total, err)
	}
	const other = "arn:aws:ivs:us-east-1:123456789012:channel/otherotherot"
	pgtest.Exec(t, url, `
INSERT INTO public.shows (seller_id, title, ivs_channel_arn) VALUES
  ($1, 'Second on the victim''s channel', $3),   -- one seller twice: not shared
  ($2, 'The attacker on it', $3),
  ($2, 'Again', $3),
  ($1, 'Shared too', $4), ($2, 'Shared too', $4),
  ($2, 'Empty', ''), ($1, 'Empty', '')`, victimSeller, attackerSeller, victimChannel, other)
	want := []postgres.SharedChannel{{ARN: other, Sellers: 2, Shows: 2}, {ARN: victimChannel, Sellers: 2, Shows: 4}}
	got, total, err := db.SharedChannels(ctx, 10)
	if err != nil || total != 2 {
		t.Fatalf("SharedChannels() = %v, %d, %v; want 2 in all", got, total, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SharedChannels() (-want +got):\n%s", diff)
	}
	got, total, err = db.SharedChannels(ctx, 1)
	if err != nil || total != 2 || len(got) != 1 || got[0] != want[0] {
		t.Errorf("SharedChannels(limit 1) = %v, %d, %v; want [%v] of 2", got, total, err, want[0])
	}
}

// docs/database.md's way to move a show: a SECURITY DEFINER function that checks
// the caller is an admin runs as its owner, whom the trigger lets through.
func TestMoveShowThroughSecurityDefiner(t *testing.T) {
	t.Parallel()
	url := supabaseApp(t)
	const adminUser = "e0000000-0000-4000-8000-0000000000ad"
	pgtest.Exec(t, url, `INSERT INTO auth.users (id) VALUES ('`+adminUser+`');
INSERT INTO public.user_roles (user_id, role) VALUES ('`+adminUser+`', 'admin');
CREATE OR REPLACE FUNCTION public.move_show(p_show_id uuid, p_seller_id uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM public.user_roles WHERE user_id = auth.uid() AND role = 'admin') THEN
    RAISE EXCEPTION 'only admins may move shows' USING ERRCODE = 'insufficient_privilege';
  END IF;
  UPDATE public.shows SET seller_id = p_seller_id WHERE id = p_show_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no show %', p_show_id USING ERRCODE = 'no_data_found';
  END IF;
END $$;
REVOKE ALL ON FUNCTION public.move_show(uuid, uuid) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.move_show(uuid, uuid) TO authenticated;`)

	const move = `SELECT public.move_show($1, $2)`
	err := pgtest.ExecAsAPI(t, url, "authenticated", attackerUser, move, victimShow, attackerSeller)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" || pgErr.Message != "only admins may move shows" {
		t.Errorf("move_show by a seller = %v, want the function's own 42501", err)
	}
	if err := pgtest.ExecAsAPI(t, url, "authenticated", adminUser, move, victimShow, attackerSeller); err != nil {
		t.Fatalf("move_show by an admin = %v, want it allowed", err)
	}
	if got := queryRows(t, url, `SELECT seller_id::text FROM public.shows WHERE id = '`+victimShow+`'`); len(got) != 1 || got[0][0] != attackerSeller {
		t.Errorf("show's seller after the admin moved it = %v, want %s", got, attackerSeller)
	}
}
