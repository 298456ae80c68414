package postgres

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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

func nextSlot(t *testing.T, url string) time.Time {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var next time.Time
	if err := conn.QueryRow(ctx, `SELECT next_slot FROM ivs_ingest.ivs_call_budget`).Scan(&next); err != nil {
		t.Fatalf("read next_slot: %v", err)
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
	pgtest.Exec(t, url, `DELETE FROM ivs_ingest.ivs_call_budget`)
	_, err := budgetPool(t, url).ReserveSlots(context.Background(), 1, time.Second, time.Hour)
	if err == nil || errors.Is(err, budget.ErrExhausted) {
		t.Errorf("ReserveSlots() without the budget row = %v, want an error", err)
	}
}

// slotRecorder is a replica's SlotSource that also records every slot it
// reserved, on the database's clock.
type slotRecorder struct {
	db *DB

	mu    sync.Mutex
	slots []time.Time
}

func (s *slotRecorder) ReserveSlots(ctx context.Context, n int, interval, maxWait time.Duration) (budget.Slots, error) {
	wait, first, err := s.db.reserveSlots(ctx, n, interval, maxWait)
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
