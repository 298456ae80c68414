package ingest_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/budget"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ivs"
	"github.com/ivs-ingest/ivs-ingest/internal/limit"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// countingSlots counts the call slots reserved from the shared schedule.
type countingSlots struct {
	budget.SlotSource
	reserved atomic.Int64
	reserves chan int // each reservation's size, when not nil and not full
}

func (c *countingSlots) ReserveSlots(ctx context.Context, n int, interval, maxWait time.Duration) (budget.Slots, error) {
	s, err := c.SlotSource.ReserveSlots(ctx, n, interval, maxWait)
	if err == nil {
		c.reserved.Add(int64(n))
		select {
		case c.reserves <- n:
		default:
		}
	}
	return s, err
}

// shareBurst is each seller's share in the tests: a first key (3 calls) and
// a rotation (5), refilled at one call an hour.
const shareBurst = 8

// budgeted is a service over the real store and the real IVS client, both
// drawing on one call budget whose schedule is counted: IVS at its 4
// calls/s, each seller's share shareBurst calls that do not refill in the
// test's time, the creation limit 2 an hour.
func budgeted(t *testing.T, env *testenv.Env, maxWait time.Duration) (*ingest.Service, *countingSlots, *postgres.DB) {
	t.Helper()
	return budgetedWith(t, env, maxWait, shareBurst, nil)
}

// budgetedWith is budgeted with each seller's share burst and a key store
// (vault; nil for none).
func budgetedWith(t *testing.T, env *testenv.Env, maxWait time.Duration, burst int, vault ingest.Vault) (*ingest.Service, *countingSlots, *postgres.DB) {
	t.Helper()
	db, err := postgres.Open(context.Background(), env.DatabaseURL, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	slots := &countingSlots{SlotSource: db}
	b := budget.New(slots, 4, maxWait).ShareBySeller(db, testenv.Region, limit.Rate{Interval: time.Hour, Burst: burst})
	client, err := ivs.New(context.Background(), ivs.Config{
		Region: testenv.Region, Endpoint: env.EmulatorURL, AccessKeyID: testenv.AccessKeyID,
		SecretAccessKey: secret.New(testenv.SecretAccessKey), Budget: b,
	})
	if err != nil {
		t.Fatal(err)
	}
	svc := ingest.NewService(db, client, ingest.Options{
		Limits:            limitsIn(db),
		KeyCreatesPerHour: 2, Logger: slog.New(slog.DiscardHandler), Vault: vault})
	t.Cleanup(svc.Close)
	return svc, slots, db
}

// concurrently runs n calls of f at once and returns their errors.
func concurrently(n int, f func() error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f() })
	}
	wg.Wait()
	return errs
}

// The review's H2, tried on the shared budget: a seller past their creation
// limit rotating in a loop, a pending seller revoking their show in a loop,
// and a seller opening many new shows at once reserve next to nothing, and
// another seller's first key gets its slots at once.
func TestOneSellerCannotStarveTheBudget(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	// A short wait: a starved budget would refuse the victim at once.
	svc, slots, _ := budgeted(t, env, 2*time.Second)
	ctx := context.Background()
	// Every seller and show first: the emulator's channels are made
	// outside the budget.
	rotator := env.Seller(t, "approved")
	rotated := ingest.Request{Caller: ingest.Caller{UserID: rotator.ID}, ShowID: env.Show(t, rotator, true).ID}
	admin := env.Admin(t)
	pending := env.Seller(t, "pending")
	pendingShow := env.Show(t, pending, true)
	opener := env.Seller(t, "approved")
	var shows []string
	for range 10 {
		shows = append(shows, env.Show(t, opener, true).ID)
	}
	victim := env.Seller(t, "approved")
	victimShow := env.Show(t, victim, true)
	env.Emulator.ResetCounts()
	env.Emulator.SetRateLimit(5) // AWS's own limit, for the whole account

	if _, err := svc.IngestDetails(ctx, rotated); err != nil { // creation 1 of 2
		t.Fatalf("first key: %v", err)
	}
	if _, err := svc.RotateStreamKey(ctx, rotated); err != nil { // creation 2 of 2
		t.Fatalf("first rotation: %v", err)
	}
	before := slots.reserved.Load()
	for i, err := range concurrently(40, func() error { _, err := svc.RotateStreamKey(ctx, rotated); return err }) {
		var limited *ingest.RateLimitedError
		if !errors.As(err, &limited) || limited.RetryAfter <= 0 {
			t.Errorf("rotation %d past the creation limit = %v, want a 429 with a retry after", i, err)
		}
	}
	if n := slots.reserved.Load() - before; n != 0 {
		t.Errorf("40 rotations past the creation limit reserved %d call slots, want 0", n)
	}

	// A pending seller revoking one show in a loop: one revocation a show
	// every 10 s, so one goes through and the rest are refused unreserved.
	if _, err := svc.IngestDetails(ctx, ingest.Request{Caller: ingest.Caller{UserID: admin.ID}, ShowID: pendingShow.ID,
		ImpersonateSellerID: pending.SellerID}); err != nil {
		t.Fatalf("admin prepares the pending seller's key: %v", err)
	}
	before = slots.reserved.Load()
	var revoked int
	for i, err := range concurrently(30, func() error {
		_, err := svc.RevokeStreamKey(ctx, ingest.RevokeRequest{Caller: ingest.Caller{UserID: pending.ID}, ShowID: pendingShow.ID})
		return err
	}) {
		var limited *limit.LimitedError
		switch {
		case err == nil:
			revoked++
		case !errors.As(err, &limited) || limited.Limit != ingest.LimitRevocations:
			t.Errorf("revocation %d = %v, want done or refused by the per-show limit", i, err)
		}
	}
	if revoked != 1 {
		t.Errorf("30 revocations of one show at once: %d done, want 1", revoked)
	}
	// One revocation's 3 calls, each of which may take a fresh slot when
	// it starts late (a loaded machine): the 29 refused took none.
	if n := slots.reserved.Load() - before; n < 3 || n > 6 {
		t.Errorf("30 revocations of one show reserved %d call slots, want one revocation's 3 (at most 6)", n)
	}

	// A seller opening ten new shows at once: their share admits two
	// resolutions (3 calls each) and refuses the rest before any slot.
	before = slots.reserved.Load()
	var next atomic.Int32
	var served int
	for i, err := range concurrently(10, func() error {
		_, err := svc.IngestDetails(ctx, ingest.Request{Caller: ingest.Caller{UserID: opener.ID}, ShowID: shows[next.Add(1)-1]})
		return err
	}) {
		var limited *limit.LimitedError
		switch {
		case err == nil:
			served++
		case !errors.As(err, &limited) || limited.Limit != budget.LimitSellerShare:
			t.Errorf("new show %d = %v, want a key or a refusal by the seller's share", i, err)
		}
	}
	if n := slots.reserved.Load() - before; served != shareBurst/3 || n > 2*shareBurst {
		t.Errorf("ten new shows of one seller: %d served with %d call slots, want %d within the share of %d (twice that with late starts)", served, n, shareBurst/3, shareBurst)
	}

	// Meanwhile, another seller's first key.
	d, err := svc.IngestDetails(ctx, ingest.Request{Caller: ingest.Caller{UserID: victim.ID}, ShowID: victimShow.ID})
	if err != nil || d.Action != ingest.ActionCreate {
		t.Errorf("another seller's first key after the attacks = %v, %v; want a created key", d.Action, err)
	}
	if n := env.Emulator.Throttled(); n != 0 {
		t.Errorf("IVS throttled %d calls, want none", n)
	}
}

// The review's M1: a revocation or rotation queued behind a long IVS
// schedule holds no channel lock, no transaction and no connection while it
// waits for its first slot.
func TestNoLockIsHeldWhileQueueing(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		change func(context.Context, *ingest.Service, testenv.User, string) error
	}{
		{"revoke", func(ctx context.Context, svc *ingest.Service, u testenv.User, show string) error {
			_, err := svc.RevokeStreamKey(ctx, ingest.RevokeRequest{Caller: ingest.Caller{UserID: u.ID}, ShowID: show})
			return err
		}},
		{"rotate", func(ctx context.Context, svc *ingest.Service, u testenv.User, show string) error {
			_, err := svc.RotateStreamKey(ctx, ingest.Request{Caller: ingest.Caller{UserID: u.ID}, ShowID: show})
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := testenv.New(t, testenv.Options{})
			svc, slots, db := budgeted(t, env, time.Hour)
			owner := env.Seller(t, "approved")
			show := env.Show(t, owner, true).ID
			if _, err := svc.IngestDetails(context.Background(), ingest.Request{Caller: ingest.Caller{UserID: owner.ID}, ShowID: show}); err != nil {
				t.Fatalf("first key: %v", err)
			}
			// Others' calls fill the next ten minutes of the schedule.
			if _, err := db.ReserveSlots(context.Background(), 2400, 250*time.Millisecond, time.Hour); err != nil {
				t.Fatal(err)
			}
			slots.reserves = make(chan int, 1)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.change(ctx, svc, owner, show) }()
			select {
			case <-slots.reserves: // queued
			case err := <-done:
				t.Fatalf("%s returned before queueing: %v", c.name, err)
			}
			conn, err := pgx.Connect(context.Background(), env.DatabaseURL)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			var locks, inTx int
			err = conn.QueryRow(context.Background(), `SELECT
				(SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
				 WHERE l.locktype = 'advisory' AND d.datname = current_database()),
				(SELECT count(*) FROM pg_stat_activity
				 WHERE datname = current_database() AND state LIKE 'idle in transaction%')`).Scan(&locks, &inTx)
			if err != nil {
				t.Fatal(err)
			}
			if locks != 0 || inTx != 0 {
				t.Errorf("while the %s queues: %d advisory locks and %d connections idle in transaction, want none", c.name, locks, inTx)
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("%s after its caller gave up = %v, want context.Canceled", c.name, err)
			}
		})
	}
}
