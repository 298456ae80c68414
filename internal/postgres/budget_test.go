package postgres

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/ivs-ingest/ivs-ingest/internal/budget"
	"github.com/ivs-ingest/ivs-ingest/internal/budget/budgettest"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/supabase"
)

// These tests are in package postgres to read each reservation's first slot
// on the database's clock, the one clock every replica shares.

func budgetDatabase(t *testing.T) string {
	t.Helper()
	url := pgtest.NewDatabase(t)
	if err := Migrate(context.Background(), url, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return url
}

func budgetPool(t *testing.T, url string) *DB {
	t.Helper()
	db, err := Open(context.Background(), url, Options{MaxConns: 8})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

// nextSlot reads the default bucket's next free slot.
func nextSlot(t *testing.T, url string) time.Time {
	t.Helper()
	return nextSlotOf(t, url, budget.DefaultBucket)
}

func nextSlotOf(t *testing.T, url, bucket string) time.Time {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var next time.Time
	if err := conn.QueryRow(ctx, `SELECT next_slot FROM ivs_ingest.ivs_call_budget WHERE bucket = $1`, bucket).Scan(&next); err != nil {
		t.Fatalf("read next_slot of bucket %q: %v", bucket, err)
	}
	return next
}

func TestReserveSlotsSpacingAndRefusal(t *testing.T) {
	t.Parallel()
	url := budgetDatabase(t)
	db := budgetPool(t, url)
	ctx := context.Background()
	// Slots an hour apart: the seconds this test takes cannot free one.
	const iv, maxWait = time.Hour, 3 * time.Hour

	var firsts []time.Time
	for i, c := range []struct {
		n        int
		min, max time.Duration
	}{
		{1, 0, 0},                       // the budget is idle: at once
		{2, iv - time.Minute, iv},       // after the first
		{1, 3*iv - time.Minute, 3 * iv}, // after both slots of the second
	} {
		wait, first, err := db.reserveSlots(ctx, c.n, iv, maxWait)
		if err != nil {
			t.Fatalf("reservation %d: reserveSlots(n=%d) = %v", i, c.n, err)
		}
		if wait.Wait < c.min || wait.Wait > c.max {
			t.Errorf("reservation %d: wait = %s, want in [%s, %s]", i, wait.Wait, c.min, c.max)
		}
		if want := first.Add(time.Duration(c.n) * iv); !wait.End.Equal(want) {
			t.Errorf("reservation %d: end = %s, want %s", i, wait.End, want)
		}
		firsts = append(firsts, first)
	}
	// On the database's clock the slots are exactly consecutive.
	if got := []time.Duration{firsts[1].Sub(firsts[0]), firsts[2].Sub(firsts[1])}; !slices.Equal(got, []time.Duration{iv, 2 * iv}) {
		t.Errorf("gaps between first slots = %v, want [1h 2h]", got)
	}
	before := nextSlot(t, url)
	if want := firsts[2].Add(iv); !before.Equal(want) {
		t.Errorf("next_slot = %s, want %s", before, want)
	}

	// The next slot starts about 4h from now, later than the 3h maximum.
	for i := range 2 {
		_, err := db.ReserveSlots(ctx, 1, iv, maxWait)
		var ex *budget.ExhaustedError
		if !errors.Is(err, budget.ErrExhausted) || !errors.As(err, &ex) {
			t.Fatalf("refusal %d: ReserveSlots() = %v, want ErrExhausted", i, err)
		}
		if ex.RetryAfter <= iv-time.Minute || ex.RetryAfter > iv {
			t.Errorf("refusal %d: RetryAfter = %s, want just under %s", i, ex.RetryAfter, iv)
		}
	}
	if after := nextSlot(t, url); !after.Equal(before) {
		t.Errorf("next_slot moved from %s to %s on refusals, want unchanged", before, after)
	}

	// A longer wait allowed: the reservation takes the slot the refused ones would have.
	wait, first, err := db.reserveSlots(ctx, 1, iv, 5*time.Hour)
	if err != nil {
		t.Fatalf("reserveSlots(maxWait=5h) = %v", err)
	}
	if !first.Equal(before) || wait.Wait <= 4*iv-time.Minute || wait.Wait > 4*iv {
		t.Errorf("reserveSlots(maxWait=5h) = %s starting %s, want about 4h starting %s", wait.Wait, first, before)
	}
}

func TestReserveSlotsRoundsToMicroseconds(t *testing.T) {
	t.Parallel()
	db := budgetPool(t, budgetDatabase(t))
	ctx := context.Background()
	// 1/3 s is not a whole number of microseconds: the spacing rounds up.
	iv := time.Second / 3
	_, first, err := db.reserveSlots(ctx, 3, iv, time.Hour)
	if err != nil {
		t.Fatalf("reserveSlots() = %v", err)
	}
	_, second, err := db.reserveSlots(ctx, 1, iv, time.Hour)
	if err != nil {
		t.Fatalf("second reserveSlots() = %v", err)
	}
	if got, want := second.Sub(first), 3*333334*time.Microsecond; got != want {
		t.Errorf("three slots span %s, want %s", got, want)
	}
}

func TestReserveSlotsRejectsBadArguments(t *testing.T) {
	t.Parallel()
	db := budgetPool(t, budgetDatabase(t))
	for _, c := range []struct {
		n  int
		iv time.Duration
	}{{0, time.Second}, {1, 0}} {
		if _, err := db.ReserveSlots(context.Background(), c.n, c.iv, time.Hour); err == nil || errors.Is(err, budget.ErrExhausted) {
			t.Errorf("ReserveSlots(n=%d, interval=%s) = %v, want an argument error", c.n, c.iv, err)
		}
	}
}

func TestReserveSlotsWithoutMigration(t *testing.T) {
	t.Parallel()
	url := budgetDatabase(t)
	pgtest.Exec(t, url, `DROP TABLE ivs_ingest.ivs_call_budget`)
	_, err := budgetPool(t, url).ReserveSlots(context.Background(), 1, time.Second, time.Hour)
	if err == nil || errors.Is(err, budget.ErrExhausted) {
		t.Errorf("ReserveSlots() without the budget table = %v, want an error", err)
	}
}

// slotRecorder is a replica's SlotSource that also records every slot it
// reserved, on the database's clock.
type slotRecorder struct {
	db     *DB
	bucket string

	mu    sync.Mutex
	slots []time.Time
}

func (s *slotRecorder) ReserveSlots(ctx context.Context, n int, interval, maxWait time.Duration) (budget.Slots, error) {
	wait, first, err := schedule{db: s.db, bucket: s.bucket}.reserve(ctx, n, interval, maxWait)
	if err != nil {
		return budget.Slots{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range n {
		s.slots = append(s.slots, first.Add(time.Duration(k)*interval))
	}
	return wait, nil
}

// ReturnSlots returns nothing here: the recorded slots are the reserved ones.
func (s *slotRecorder) ReturnSlots(context.Context, budget.Slots, int, time.Duration) error {
	return nil
}

// Unused slots at the end of the schedule are given back; behind a later
// reservation they stay unused, since they cannot be handed out twice.
func TestReturnSlots(t *testing.T) {
	t.Parallel()
	url := budgetDatabase(t)
	db := budgetPool(t, url)
	ctx := context.Background()
	const iv, maxWait = time.Hour, 10 * time.Hour
	a, err := db.ReserveSlots(ctx, 3, iv, maxWait)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ReturnSlots(ctx, a, 2, iv); err != nil {
		t.Fatalf("ReturnSlots(last of the schedule) = %v", err)
	}
	if got, want := nextSlot(t, url), a.End.Add(-2*iv); !got.Equal(want) {
		t.Errorf("next_slot after returning 2 = %s, want %s", got, want)
	}
	b, err := db.ReserveSlots(ctx, 1, iv, maxWait)
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.ReserveSlots(ctx, 1, iv, maxWait)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ReturnSlots(ctx, b, 1, iv); err != nil {
		t.Fatalf("ReturnSlots(behind another) = %v", err)
	}
	if got := nextSlot(t, url); !got.Equal(c.End) {
		t.Errorf("next_slot after returning slots behind another reservation = %s, want unchanged %s", got, c.End)
	}
}

func TestBudgetAcrossReplicasStaysWithinRate(t *testing.T) {
	t.Parallel()
	const (
		rate       = 4
		interval   = time.Second / rate
		goroutines = 16 // per replica
		perWorker  = 8
		maxWait    = time.Hour
	)
	url := budgetDatabase(t)
	// Two pools on one database: two replicas.
	replicas := []*slotRecorder{{db: budgetPool(t, url)}, {db: budgetPool(t, url)}}
	var (
		wg     sync.WaitGroup
		want   int
		wantMu sync.Mutex
	)
	for _, rec := range replicas {
		b := budget.New(rec, rate, maxWait)
		for g := range goroutines {
			wg.Go(func() {
				for i := range perWorker {
					n := 1 + (g+i)%3
					r, err := b.Reserve(context.Background(), budget.Claim{Calls: n})
					if err != nil {
						t.Errorf("Reserve(%d) = %v", n, err)
						return
					}
					if r.Delay() < 0 || r.Delay() > maxWait {
						t.Errorf("Reserve(%d).Delay() = %s, want within [0, %s]", n, r.Delay(), maxWait)
					}
					wantMu.Lock()
					want += n
					wantMu.Unlock()
				}
			})
		}
	}
	wg.Wait()

	var starts []time.Time
	for i, rec := range replicas {
		if len(rec.slots) == 0 {
			t.Errorf("replica %d reserved nothing", i)
		}
		starts = append(starts, rec.slots...)
	}
	if len(starts) != want {
		t.Fatalf("recorded %d slots, want %d", len(starts), want)
	}
	budgettest.CheckSpacing(t, starts, interval, rate)
}

func TestReserveSlotsConcurrentRefusalsTakeNothing(t *testing.T) {
	t.Parallel()
	// Slots an hour apart, at most 3.5h ahead: from idle, exactly four
	// reservations fit (at 0, 1h, 2h, 3h) however many callers race.
	const iv, maxWait, callers = time.Hour, 3*time.Hour + 30*time.Minute, 40
	url := budgetDatabase(t)
	dbs := []*DB{budgetPool(t, url), budgetPool(t, url)}
	var (
		mu      sync.Mutex
		firsts  []time.Time
		refused int
		wg      sync.WaitGroup
	)
	for i := range callers {
		wg.Go(func() {
			_, first, err := dbs[i%2].reserveSlots(context.Background(), 1, iv, maxWait)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				firsts = append(firsts, first)
			case errors.Is(err, budget.ErrExhausted):
				refused++
			default:
				t.Errorf("reserveSlots() = %v", err)
			}
		})
	}
	wg.Wait()
	if len(firsts) != 4 || refused != callers-4 {
		t.Fatalf("%d reserved, %d refused; want 4 and %d", len(firsts), refused, callers-4)
	}
	slices.SortFunc(firsts, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(firsts); i++ {
		if gap := firsts[i].Sub(firsts[i-1]); gap != iv {
			t.Errorf("slots %d and %d are %s apart, want %s", i-1, i, gap, iv)
		}
	}
	if got, want := nextSlot(t, url), firsts[3].Add(iv); !got.Equal(want) {
		t.Errorf("next_slot = %s, want %s: a refusal moved it", got, want)
	}
}

func TestCallBudgetMigration(t *testing.T) {
	t.Parallel()
	url := budgetDatabase(t)
	db := budgetPool(t, url)
	ctx := context.Background()
	if v, err := db.CurrentSchemaVersion(ctx); err != nil || v < 20261125150000 {
		t.Errorf("CurrentSchemaVersion() = %d, %v; want at least 20261125150000", v, err)
	}
	var rls bool
	if err := db.pool.QueryRow(ctx, `SELECT relrowsecurity FROM pg_class WHERE oid = 'ivs_ingest.ivs_call_budget'::regclass`).Scan(&rls); err != nil || !rls {
		t.Errorf("ivs_call_budget row level security = %v, %v; want on", rls, err)
	}

	// Running the file again (as the Supabase CLI may on a database goose
	// migrated) keeps the schedule.
	if _, err := db.ReserveSlots(ctx, 1, time.Hour, time.Hour); err != nil {
		t.Fatalf("ReserveSlots() = %v", err)
	}
	before := nextSlot(t, url)
	sql, err := supabase.Migrations.ReadFile("migrations/20261125150000_ivs_call_budget.sql")
	if err != nil {
		t.Fatalf("read migration: %v", err)
	}
	pgtest.Exec(t, url, string(sql))
	if after := nextSlot(t, url); !after.Equal(before) {
		t.Errorf("re-running the migration moved next_slot from %s to %s", before, after)
	}
	var rows int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM ivs_ingest.ivs_call_budget`).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("ivs_call_budget has %d rows, %v; want 1", rows, err)
	}
}

// Each bucket (region) has a schedule of its own, its row created on first
// use: a saturated bucket delays no other.
func TestSchedulesPerBucket(t *testing.T) {
	t.Parallel()
	url := budgetDatabase(t)
	db := budgetPool(t, url)
	ctx := context.Background()
	const iv = time.Hour
	west := db.Schedule("eu-west-1")
	for i, want := range []time.Duration{0, iv, 2 * iv} {
		s, err := west.ReserveSlots(ctx, 1, iv, 3*iv)
		if err != nil || s.Wait < want-time.Minute || s.Wait > want {
			t.Fatalf("eu-west-1 reservation %d = %v, %v; want a wait of about %s", i, s, err, want)
		}
	}
	if _, err := west.ReserveSlots(ctx, 1, iv, 0); !errors.Is(err, budget.ErrExhausted) {
		t.Errorf("eu-west-1 ReserveSlots(maxWait 0) while saturated = %v, want ErrExhausted", err)
	}
	for _, bucket := range []string{"us-west-2", budget.DefaultBucket} {
		s, err := db.Schedule(bucket).ReserveSlots(ctx, 1, iv, 0)
		if err != nil || s.Wait != 0 {
			t.Errorf("bucket %q ReserveSlots(maxWait 0) with eu-west-1 saturated = %v, %v; want a slot at once", bucket, s, err)
		}
	}
	// Another replica sees the same schedules.
	if _, err := budgetPool(t, url).Schedule("eu-west-1").ReserveSlots(ctx, 1, iv, 0); !errors.Is(err, budget.ErrExhausted) {
		t.Errorf("another replica's eu-west-1 ReserveSlots(maxWait 0) = %v, want ErrExhausted", err)
	}

	rows, err := db.pool.Query(ctx, `SELECT bucket, singleton FROM ivs_ingest.ivs_call_budget ORDER BY bucket`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Bucket    string
		Singleton *bool
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	want := []row{{"", &yes}, {"eu-west-1", nil}, {"us-west-2", nil}}
	if len(got) != len(want) {
		t.Fatalf("schedule rows = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Bucket != want[i].Bucket || (got[i].Singleton == nil) != (want[i].Singleton == nil) {
			t.Errorf("schedule row %d = %q singleton %v, want %q singleton %v", i, got[i].Bucket, got[i].Singleton != nil, want[i].Bucket, want[i].Singleton != nil)
		}
	}

	// Returned slots go back to their own bucket only.
	s, err := db.Schedule("us-west-2").ReserveSlots(ctx, 2, iv, 10*iv)
	if err != nil {
		t.Fatal(err)
	}
	westBefore := nextSlotOf(t, url, "eu-west-1")
	if err := db.Schedule("us-west-2").ReturnSlots(ctx, s, 2, iv); err != nil {
		t.Fatal(err)
	}
	if got, want := nextSlotOf(t, url, "us-west-2"), s.End.Add(-2*iv); !got.Equal(want) {
		t.Errorf("us-west-2 next_slot after returning 2 = %s, want %s", got, want)
	}
	if got := nextSlotOf(t, url, "eu-west-1"); !got.Equal(westBefore) {
		t.Errorf("eu-west-1 next_slot moved from %s to %s when us-west-2 returned slots", westBefore, got)
	}
}

// A deleted row is created again on first use, free from then.
func TestScheduleRowCreatedOnFirstUse(t *testing.T) {
	t.Parallel()
	url := budgetDatabase(t)
	pgtest.Exec(t, url, `DELETE FROM ivs_ingest.ivs_call_budget`)
	db := budgetPool(t, url)
	s, err := db.ReserveSlots(context.Background(), 1, time.Hour, 0)
	if err != nil || s.Wait != 0 {
		t.Fatalf("ReserveSlots() with no row = %v, %v; want the row created and a slot at once", s, err)
	}
	var singleton bool
	if err := db.pool.QueryRow(context.Background(), `SELECT singleton FROM ivs_ingest.ivs_call_budget WHERE bucket = ''`).Scan(&singleton); err != nil || !singleton {
		t.Errorf("default bucket row singleton = %v, %v; want true (the row earlier versions read)", singleton, err)
	}
}

// Many replicas' first reservations in a new bucket race to create its row:
// one row results, and the schedule is as exact as ever, in each bucket.
func TestBucketsAcrossReplicasStayWithinRate(t *testing.T) {
	t.Parallel()
	const (
		rate       = 4
		interval   = time.Second / rate
		goroutines = 8 // per replica and bucket
		perWorker  = 6
		maxWait    = time.Hour
	)
	url := budgetDatabase(t)
	pools := []*DB{budgetPool(t, url), budgetPool(t, url)}
	buckets := []string{"eu-west-1", "ap-south-1"}
	recorders := map[string][]*slotRecorder{}
	want := map[string]int{}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, bucket := range buckets {
		for _, db := range pools {
			rec := &slotRecorder{db: db, bucket: bucket}
			recorders[bucket] = append(recorders[bucket], rec)
			b := budget.New(rec, rate, maxWait)
			for g := range goroutines {
				wg.Go(func() {
					for i := range perWorker {
						n := 1 + (g+i)%3
						if _, err := b.Reserve(context.Background(), budget.Claim{Calls: n}); err != nil {
							t.Errorf("bucket %s: Reserve(%d) = %v", bucket, n, err)
							return
						}
						mu.Lock()
						want[bucket] += n
						mu.Unlock()
					}
				})
			}
		}
	}
	wg.Wait()
	for _, bucket := range buckets {
		var starts []time.Time
		for _, rec := range recorders[bucket] {
			starts = append(starts, rec.slots...)
		}
		if len(starts) != want[bucket] {
			t.Fatalf("bucket %s: recorded %d slots, want %d", bucket, len(starts), want[bucket])
		}
		budgettest.CheckSpacing(t, starts, interval, rate)
		var rows int
		if err := pools[0].pool.QueryRow(context.Background(), `SELECT count(*) FROM ivs_ingest.ivs_call_budget WHERE bucket = $1`, bucket).Scan(&rows); err != nil || rows != 1 {
			t.Errorf("bucket %s has %d rows, %v; want 1", bucket, rows, err)
		}
	}
}

// On two replicas sharing the database, a background claim takes a slot
// only when the shared schedule is free at once: it is refused while a
// seller waits on the other replica, and takes nothing from the seller.
func TestBackgroundNeverDelaysAWaitingSellerAcrossReplicas(t *testing.T) {
	t.Parallel()
	url := budgetDatabase(t)
	ctx := context.Background()
	const rate = 1.0 / 3600 // an hour apart: the test's seconds free nothing
	a := budget.New(budgetPool(t, url).Schedule("eu-west-1"), rate, 10*time.Hour)
	b := budget.New(budgetPool(t, url).Schedule("eu-west-1"), rate, 10*time.Hour)

	first, err := a.Reserve(ctx, budget.Claim{Calls: 1, Priority: budget.Background})
	if err != nil || first.Delay() != 0 {
		t.Fatalf("replica A: Background Reserve() on an idle schedule = %v, %v; want a slot at once", first, err)
	}
	seller, err := a.Reserve(ctx, budget.Claim{Calls: 2, SellerID: "s"})
	if err != nil || seller.Delay() < 59*time.Minute {
		t.Fatalf("replica A: Interactive Reserve(2) = %v, %v; want it queued about an hour", seller, err)
	}
	before := nextSlotOf(t, url, "eu-west-1")
	for i := range 5 {
		_, err := b.Reserve(ctx, budget.Claim{Calls: 1, Priority: budget.Background})
		var ex *budget.ExhaustedError
		if !errors.As(err, &ex) || ex.RetryAfter < 2*time.Hour {
			t.Fatalf("replica B: Background Reserve() %d while a seller waits = %v, want ErrExhausted retrying after the seller's run", i, err)
		}
	}
	if after := nextSlotOf(t, url, "eu-west-1"); !after.Equal(before) {
		t.Errorf("refused background claims moved next_slot from %s to %s", before, after)
	}
	next, err := b.Reserve(ctx, budget.Claim{Calls: 1, SellerID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if d := next.Delay() - seller.Delay(); d < 2*time.Hour-time.Minute || d > 2*time.Hour {
		t.Errorf("replica B: the next seller starts %s after the first, want 2h: right behind its run", d)
	}

	// A batch claim that cannot be served before its context ends is
	// refused at once, having taken nothing either.
	queued := nextSlotOf(t, url, "eu-west-1")
	bctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := b.Reserve(bctx, budget.Claim{Calls: 1, Priority: budget.Batch}); !errors.Is(err, budget.ErrExhausted) {
		t.Errorf("replica B: Batch Reserve() with a minute left = %v, want ErrExhausted", err)
	}
	if after := nextSlotOf(t, url, "eu-west-1"); !after.Equal(queued) {
		t.Errorf("a refused batch claim moved next_slot from %s to %s", queued, after)
	}
}

// oldReserveSlotsSQL is the statement of the version before per-region
// schedules, which its replicas keep running during a rolling deploy.
const oldReserveSlotsSQL = `WITH reserved AS (
	UPDATE ivs_ingest.ivs_call_budget
	SET next_slot = greatest(next_slot, clock_timestamp()) + $1::bigint * interval '1 microsecond'
	WHERE singleton AND next_slot <= clock_timestamp() + $2::bigint * interval '1 microsecond'
	RETURNING next_slot
)
SELECT next_slot FROM reserved`

// migrateUpTo applies the embedded migrations up to version, as a database
// deployed before a later one would have them.
func migrateUpTo(t *testing.T, url string, version int64) {
	t.Helper()
	ctx := context.Background()
	connCfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*connCfg)
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS ivs_ingest`); err != nil {
		t.Fatal(err)
	}
	migrations, err := fs.Sub(supabase.Migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations,
		goose.WithTableName("ivs_ingest.goose_db_version"), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, version); err != nil {
		t.Fatalf("migrate up to %d: %v", version, err)
	}
}

// The migration to per-region schedules, applied to a database in use:
// the schedule already reserved stays the default region's, and the
// previous version's statement keeps sharing it with this one's.
func TestBudgetRegionsMigrationOnALiveDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	migrateUpTo(t, url, 20261206139999)
	pgtest.Exec(t, url, `UPDATE ivs_ingest.ivs_call_budget SET next_slot = now() + interval '1 hour'`)
	var queued time.Time
	if err := budgetPool(t, url).pool.QueryRow(ctx, `SELECT next_slot FROM ivs_ingest.ivs_call_budget`).Scan(&queued); err != nil {
		t.Fatal(err)
	}

	if err := Migrate(ctx, url, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if got := nextSlot(t, url); !got.Equal(queued) {
		t.Fatalf("default bucket next_slot after the migration = %s, want the schedule kept, %s", got, queued)
	}

	// An old replica reserves an hour: this version's default bucket sees it.
	db := budgetPool(t, url)
	var oldEnd time.Time
	if err := db.pool.QueryRow(ctx, oldReserveSlotsSQL, int64(time.Hour/time.Microsecond), int64(10*time.Hour/time.Microsecond)).Scan(&oldEnd); err != nil {
		t.Fatalf("the previous version's reservation after the migration: %v", err)
	}
	_, first, err := db.reserveSlots(ctx, 1, time.Hour, 10*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Equal(oldEnd) {
		t.Errorf("this version's first slot = %s, want %s: right after the previous version's", first, oldEnd)
	}
	// Other regions' rows are invisible to the old statement.
	if _, err := db.Schedule("eu-west-1").ReserveSlots(ctx, 1, time.Hour, 0); err != nil {
		t.Fatal(err)
	}
	var singletons int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM ivs_ingest.ivs_call_budget WHERE singleton`).Scan(&singletons); err != nil || singletons != 1 {
		t.Errorf("rows the previous version reads = %d, %v; want 1", singletons, err)
	}

	// Running either file again (the Supabase CLI may) keeps every schedule.
	before := map[string]time.Time{"": nextSlot(t, url), "eu-west-1": nextSlotOf(t, url, "eu-west-1")}
	for _, file := range []string{"20261125150000_ivs_call_budget.sql", "20261206140000_budget_regions.sql"} {
		sql, err := supabase.Migrations.ReadFile("migrations/" + file)
		if err != nil {
			t.Fatal(err)
		}
		pgtest.Exec(t, url, string(sql))
	}
	for bucket, want := range before {
		if got := nextSlotOf(t, url, bucket); !got.Equal(want) {
			t.Errorf("re-running the migrations moved bucket %q's next_slot from %s to %s", bucket, want, got)
		}
	}
	var rows int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM ivs_ingest.ivs_call_budget`).Scan(&rows); err != nil || rows != 2 {
		t.Errorf("ivs_call_budget has %d rows, %v; want 2", rows, err)
	}
}
