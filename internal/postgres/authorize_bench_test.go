package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
)

// benchSupabaseSchema makes the database look like a Supabase project's, so
// that the authorization query also checks auth.sessions, as in production.
const benchSupabaseSchema = `
CREATE SCHEMA auth;
CREATE TABLE auth.users (id uuid PRIMARY KEY);
CREATE TABLE auth.sessions (id uuid PRIMARY KEY, user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE);
`

// benchSeed adds n approved sellers, each signed in and with one show whose
// key is recorded, and some admins, then analyzes the tables.
const benchSeed = `
CREATE TEMP TABLE ids AS
SELECT i, gen_random_uuid() AS user_id, gen_random_uuid() AS session_id, gen_random_uuid() AS seller_id, gen_random_uuid() AS show_id
FROM generate_series(1, %d) AS i;
INSERT INTO auth.users (id) SELECT user_id FROM ids;
INSERT INTO auth.sessions (id, user_id) SELECT session_id, user_id FROM ids;
INSERT INTO public.sellers (id, user_id, status) SELECT seller_id, user_id, 'approved' FROM ids;
INSERT INTO public.shows (id, seller_id, ivs_channel_arn, ivs_ingest_endpoint, ivs_stream_key_arn)
SELECT show_id, seller_id, 'arn:aws:ivs:us-east-1:123456789012:channel/' || i, 'abcdef.global-contribute.live-video.net',
	'arn:aws:ivs:us-east-1:123456789012:stream-key/' || i FROM ids;
INSERT INTO public.user_roles (user_id, role) SELECT gen_random_uuid(), 'admin' FROM generate_series(1, 10);
ANALYZE;
`

// BenchmarkAuthorize measures the one query of the hot path, DB.Authorize,
// against a migrated Supabase-like database of 1,000 sellers on the cluster
// of TEST_DATABASE_URL (run it with scripts/with-postgres go test -run '^$'
// -bench Authorize ./internal/postgres/). Each iteration is a round trip
// over loopback. The prepared/ runs use DATABASE_PREPARED_STATEMENTS=true.
func BenchmarkAuthorize(b *testing.B) {
	ctx := context.Background()
	url := pgtest.NewDatabase(b)
	pgtest.Exec(b, url, benchSupabaseSchema)
	if err := postgres.Migrate(ctx, url, slog.New(slog.DiscardHandler)); err != nil {
		b.Fatalf("Migrate: %v", err)
	}
	pgtest.Exec(b, url, fmt.Sprintf(benchSeed, 1000))
	qs := benchQueries(b, url)
	for _, mode := range []struct {
		name     string
		prepared bool
	}{{"", false}, {"prepared/", true}} {
		db, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 20, PreparedStatements: mode.prepared})
		if err != nil {
			b.Fatalf("Open: %v", err)
		}
		b.Cleanup(db.Close)
		if !db.ChecksSessions() {
			b.Fatal("ChecksSessions() = false, want true on a Supabase-like database")
		}
		for i, q := range qs {
			f, err := db.Authorize(ctx, q)
			if err != nil || !f.SessionActive || f.Seller == nil || f.Show == nil || f.Show.SellerID != f.Seller.ID {
				b.Fatalf("Authorize(query %d) = %+v, %v; want an approved seller's own show", i, f, err)
			}
		}
		benchAuthorize(b, mode.name, db, qs, url)
	}
}

// benchAuthorize runs Authorize over qs, one at a time and in parallel;
// prefix names the mode (empty: the default, unnamed statements).
func benchAuthorize(b *testing.B, prefix string, db *postgres.DB, qs []ingest.AuthzQuery, url string) {
	ctx := context.Background()
	b.Run(prefix+"serial", func(b *testing.B) {
		b.ReportAllocs()
		defer serverCPU(b, url)()
		i := 0
		for b.Loop() {
			if _, err := db.Authorize(ctx, qs[i%len(qs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run(prefix+"parallel", func(b *testing.B) {
		b.ReportAllocs()
		defer serverCPU(b, url)()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := db.Authorize(ctx, qs[i%len(qs)]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// serverCPU starts measuring the CPU time PostgreSQL's backends of url's
// database spend (from /proc, on Linux with the server on this machine);
// the function it returns reports it per operation as "pg-µs/op", which a
// loaded machine disturbs far less than the time per operation. It reports
// nothing where /proc cannot tell.
func serverCPU(b *testing.B, url string) func() {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatalf("connect: %v", err)
	}
	backends := func() map[int]time.Duration {
		rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
		if err != nil {
			b.Fatalf("list backends: %v", err)
		}
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			b.Fatalf("list backends: %v", err)
		}
		cpu := map[int]time.Duration{}
		for _, pid := range pids {
			if d, ok := procCPU(int(pid)); ok {
				cpu[int(pid)] = d
			}
		}
		return cpu
	}
	before := backends()
	return func() {
		defer conn.Close(ctx)
		after := backends()
		if len(after) == 0 || b.N == 0 {
			return
		}
		var used time.Duration
		for pid, d := range after {
			used += d - before[pid]
		}
		b.ReportMetric(float64(used.Microseconds())/float64(b.N), "pg-µs/op")
	}
}

// procCPU reads a process's user and system CPU time from /proc (in clock
// ticks of 10 ms, Linux's USER_HZ).
func procCPU(pid int) (time.Duration, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// benchQueries returns the authorization queries of up to 100 of the
// seeded sellers, each for their own show.
func benchQueries(b *testing.B, url string) []ingest.AuthzQuery {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT se.user_id::text, s.id::text, sh.id::text
		FROM public.sellers se JOIN auth.sessions s ON s.user_id = se.user_id JOIN public.shows sh ON sh.seller_id = se.id
		LIMIT 100`)
	if err != nil {
		b.Fatalf("query: %v", err)
	}
	qs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ingest.AuthzQuery, error) {
		var q ingest.AuthzQuery
		err := r.Scan(&q.UserID, &q.SessionID, &q.ShowID)
		return q, err
	})
	if err != nil || len(qs) == 0 {
		b.Fatalf("read seeded sellers: %d rows, %v", len(qs), err)
	}
	return qs
}
