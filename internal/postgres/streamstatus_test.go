package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus/storetest"
)

// TestStreamStatusContract runs the stream status contract shared with
// internal/sqlite, each subtest on a new migrated database.
func TestStreamStatusContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		url, db := migrated(t)
		return storetest.Harness{Store: db, ShowStatus: func(t *testing.T, showID string) string {
			rows := queryRows(t, url, `SELECT coalesce(stream_status, '') FROM public.shows WHERE id = '`+showID+`'`)
			if len(rows) != 1 {
				t.Fatalf("show %s: %d rows", showID, len(rows))
			}
			return rows[0][0].(string)
		}}
	})
}

// The table is locked down like the other ivs_ingest tables, and its
// CHECK constraints refuse what no rule writes.
func TestStreamStateTable(t *testing.T) {
	t.Parallel()
	url := supabaseApp(t)
	if !queryBool(t, url, `SELECT relrowsecurity FROM pg_class WHERE oid = 'ivs_ingest.stream_state'::regclass`) {
		t.Error("ivs_ingest.stream_state: row level security is off")
	}
	for _, role := range []string{"anon", "authenticated"} {
		if queryBool(t, url, `SELECT has_table_privilege('`+role+`', 'ivs_ingest.stream_state', 'SELECT')`) {
			t.Errorf("%s may read ivs_ingest.stream_state, want no grants", role)
		}
	}
	for _, sql := range []string{
		`INSERT INTO ivs_ingest.stream_state (channel_arn, state, state_at) VALUES ('a', 'streaming', now())`,
		`INSERT INTO ivs_ingest.stream_state (channel_arn, health, health_at) VALUES ('a', 'ok', now())`,
		`INSERT INTO ivs_ingest.stream_state (channel_arn, state) VALUES ('a', 'live')`,
	} {
		if err := execErr(t, url, sql); err == nil {
			t.Errorf("%s succeeded, want a CHECK violation", sql)
		}
	}
}

func execErr(t *testing.T, url, sql string) error {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// The protect_show_columns trigger refuses stream_status to the Data API
// roles only: the service's role writes it, here a role made like
// Supabase's postgres (not a superuser, a member of anon and authenticated,
// bypassing row level security), with the least grants the stream status
// needs.
func TestServiceRoleWritesStreamStatus(t *testing.T) {
	t.Parallel()
	url := supabaseApp(t)
	role := "ivs_svc_" + strings.ReplaceAll(strings.TrimPrefix(url[strings.LastIndex(url, "/")+1:], "test_"), "?sslmode=disable", "")
	pgtest.Exec(t, url, `CREATE ROLE `+role+` LOGIN BYPASSRLS; GRANT anon, authenticated TO `+role+`;
GRANT USAGE ON SCHEMA auth, ivs_ingest TO `+role+`; GRANT SELECT ON auth.sessions TO `+role+`;
GRANT SELECT, INSERT, UPDATE ON ivs_ingest.stream_state TO `+role+`; GRANT SELECT, UPDATE ON public.shows TO `+role)
	t.Cleanup(func() { pgtest.Exec(t, url, `DROP OWNED BY `+role+`; DROP ROLE `+role) })
	db, err := postgres.Open(context.Background(), strings.Replace(url, "postgres://postgres@", "postgres://"+role+"@", 1), postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatalf("Open as %s: %v", role, err)
	}
	defer db.Close()
	if queryBool(t, url, `SELECT rolsuper FROM pg_roles WHERE rolname = '`+role+`'`) {
		t.Fatal("the role is a superuser: the test would prove nothing")
	}
	e := streamstatus.Event{ID: "e1", Time: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), ChannelARN: victimChannel, Kind: streamstatus.KindStreamStart}
	if o, err := db.ApplyStreamEvent(context.Background(), e); err != nil || o != streamstatus.Applied {
		t.Fatalf("ApplyStreamEvent as the service's role = %q, %v; want applied", o, err)
	}
	if got := queryRows(t, url, `SELECT stream_status FROM public.shows WHERE id = '`+victimShow+`'`); len(got) != 1 || got[0][0] != "live" {
		t.Errorf("stream_status after Stream Start = %v, want live", got)
	}
	n, err := db.ApplyStreamSnapshot(context.Background(), "us-east-1", e.Time.Add(time.Minute), nil)
	if err != nil || n != 2 { // the victim's channel goes offline; the attacker's own is new
		t.Errorf("ApplyStreamSnapshot as the service's role = %d, %v; want 2 changed", n, err)
	}
	if got := queryRows(t, url, `SELECT stream_status FROM public.shows WHERE id = '`+victimShow+`'`); len(got) != 1 || got[0][0] != "offline" {
		t.Errorf("stream_status after the snapshot = %v, want offline", got)
	}
	// The Data API still may not.
	err = pgtest.ExecAsAPI(t, url, "authenticated", victimUser, `UPDATE public.shows SET stream_status = 'live' WHERE id = $1`, victimShow)
	if err == nil || !strings.Contains(err.Error(), "stream_status") {
		t.Errorf("authenticated sets its own show's stream_status = %v, want the trigger's refusal", err)
	}
}

// Two replicas (two pools) delivering events for one channel at once end
// in the newest, whatever the order of their commits: rounds of events
// delivered all at once, newest first, each round newer than the last.
func TestStreamEventsAcrossPools(t *testing.T) {
	t.Parallel()
	url, a := migrated(t)
	b := open(t, url)
	seed(t, url)
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	const rounds, n = 5, 24
	for r := range rounds {
		var wg sync.WaitGroup
		for i := range n {
			db := a
			if i%2 == 1 {
				db = b
			}
			// i = 0 is the round's newest; the state alternates, so that a lost
			// update shows.
			kind := streamstatus.KindStreamStart
			if (i+r)%2 == 1 {
				kind = streamstatus.KindStreamEnd
			}
			e := streamstatus.Event{ID: fmt.Sprint("r", r, "e", i), Time: t0.Add(time.Duration(r*n+n-i) * time.Second), ChannelARN: channel1, Kind: kind}
			wg.Go(func() {
				if _, err := db.ApplyStreamEvent(context.Background(), e); err != nil {
					t.Errorf("ApplyStreamEvent(%s): %v", e.ID, err)
				}
			})
		}
		wg.Wait()
		want, status := streamstatus.Live, "live"
		if r%2 == 1 {
			want, status = streamstatus.Offline, "offline"
		}
		got, found, err := a.StreamState(context.Background(), channel1)
		if err != nil || !found || got.StateEventID != fmt.Sprint("r", r, "e0") || got.State != want {
			t.Fatalf("round %d: StreamState after concurrent deliveries = %s by %s, %v, %v; want %s by r%de0", r, got.State, got.StateEventID, found, err, want, r)
		}
		if rows := queryRows(t, url, `SELECT stream_status FROM public.shows WHERE id = '`+show1+`'`); rows[0][0] != status {
			t.Fatalf("round %d: stream_status = %v, want %s", r, rows[0][0], status)
		}
	}
}

// A key request holds its show's row while it waits for IVS: an event for
// the show's channel fails after streamLockTimeout (its sender retries)
// rather than wait for it, past EventBridge's 5 s.
func TestStreamEventDoesNotWaitForAHeldShow(t *testing.T) {
	t.Parallel()
	url, db := migrated(t)
	seed(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT 1 FROM public.shows WHERE id = $1 FOR NO KEY UPDATE`, show1); err != nil {
		t.Fatal(err)
	}
	e := streamstatus.Event{ID: "held", Time: time.Now().UTC().Truncate(time.Second), ChannelARN: channel1, Kind: streamstatus.KindStreamStart}
	_, err = db.ApplyStreamEvent(ctx, e)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
		t.Fatalf("ApplyStreamEvent while the show is held = %v, want a lock timeout (55P03), not a wait for the holder", err)
	}
	if got, found, err := db.StreamState(ctx, channel1); err != nil || (found && got.State != "") {
		t.Errorf("StreamState after the timed-out event = %+v, %v, %v; want nothing applied", got, found, err)
	}
}
