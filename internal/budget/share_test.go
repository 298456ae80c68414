package budget

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/limit"
)

// A seller's interactive claims are charged to their share before any slot
// is reserved: a spent share refuses with a *limit.LimitedError and reserves
// nothing, while another seller, and the service's own work, go on.
func TestSellerShare(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := &recordingSource{}
	b := New(src, 4, time.Minute).ShareBySeller(limit.NewLocal(), "us-east-1", limit.Rate{Interval: time.Hour, Burst: 2})
	// The burst is raised to one whole rotation.
	for i, n := range []int{3, 2} {
		if _, err := b.Reserve(ctx, Claim{Calls: n, SellerID: "greedy"}); err != nil {
			t.Fatalf("claim %d of %d calls within the share = %v", i, n, err)
		}
	}
	before := len(src.recorded())
	_, err := b.Reserve(ctx, Claim{Calls: 1, SellerID: "greedy"})
	var le *limit.LimitedError
	if !errors.As(err, &le) || le.Limit != LimitSellerShare || le.RetryAfter <= 0 {
		t.Fatalf("claim past the share = %v, want a *limit.LimitedError for %s", err, LimitSellerShare)
	}
	if got := len(src.recorded()); got != before {
		t.Errorf("a refused claim reserved slots: %d source calls, want %d", got, before)
	}
	for _, c := range []Claim{
		{Calls: 5, SellerID: "other"},
		{Calls: 1, SellerID: "greedy", Priority: Background},
		{Calls: 1, SellerID: "greedy", Priority: Batch},
		{Calls: 1},
	} {
		if _, err := b.Reserve(ctx, c); err != nil {
			t.Errorf("Reserve(%+v) with greedy's share spent = %v, want slots", c, err)
		}
	}
}

// Release gives back what a reservation did not use: to the seller's share,
// and to the schedule when nothing was reserved after it.
func TestReleaseReturnsUnusedSlots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newFrozenClock()
	b := New(newLocal(clock.Now), 4, time.Minute).ShareBySeller(limit.NewLocal(), "r", limit.Rate{Interval: time.Hour, Burst: 5})
	r, err := b.Reserve(ctx, Claim{Calls: 5, SellerID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(ctx); err != nil { // one call made
		t.Fatal(err)
	}
	if err := r.Release(ctx); err != nil {
		t.Fatalf("Release() = %v", err)
	}
	if err := r.Release(ctx); err != nil {
		t.Fatalf("second Release() = %v", err)
	}
	// Four slots and four units of the share are free again.
	next, err := b.Reserve(ctx, Claim{Calls: 4, SellerID: "s"})
	if err != nil {
		t.Fatalf("Reserve(4) after the release = %v, want the returned share", err)
	}
	if want := 250 * time.Millisecond; next.Delay() != want {
		t.Errorf("Reserve(4) after the release: Delay() = %s, want %s (right after the one used slot)", next.Delay(), want)
	}
	// Behind a later reservation, returned slots stay unused.
	later, err := b.Reserve(ctx, Claim{Calls: 1}) // no seller: no share

	if err != nil {
		t.Fatal(err)
	}
	if err := next.Release(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := b.Reserve(ctx, Claim{Calls: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := later.Delay() + 250*time.Millisecond; after.Delay() != want {
		t.Errorf("Reserve() after releasing slots behind another: Delay() = %s, want %s", after.Delay(), want)
	}
}

// A refusal by the schedule gives the seller's share back.
func TestExhaustedGivesTheShareBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := &recordingSource{err: &ExhaustedError{RetryAfter: time.Second}}
	b := New(src, 4, time.Minute).ShareBySeller(limit.NewLocal(), "r", limit.Rate{Interval: time.Hour, Burst: 5})
	for range 3 {
		if _, err := b.Reserve(ctx, Claim{Calls: 5, SellerID: "s"}); !errors.Is(err, ErrExhausted) {
			t.Fatalf("Reserve() with the schedule full = %v, want ErrExhausted", err)
		}
	}
	src.mu.Lock()
	src.err = nil
	src.mu.Unlock()
	if _, err := b.Reserve(ctx, Claim{Calls: 5, SellerID: "s"}); err != nil {
		t.Errorf("Reserve() after three refusals by the schedule = %v, want the share intact", err)
	}
}

func TestReadyWaitsForTheFirstSlot(t *testing.T) {
	t.Parallel()
	b := New(NewLocal(), 20, time.Minute) // 50ms apart
	if _, err := b.Reserve(context.Background(), Claim{Calls: 2}); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	r, err := b.Reserve(context.Background(), Claim{Calls: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Ready(context.Background()); err != nil {
		t.Fatalf("Ready() = %v", err)
	}
	// Timers never fire early, so this lower bound cannot flake.
	if time.Since(before) < r.Delay() || r.Delay() <= 0 {
		t.Errorf("Ready() returned after %s, want at least the delay %s (> 0)", time.Since(before), r.Delay())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Ready(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Ready(canceled) = %v, want context.Canceled", err)
	}
}

// Under a lock, a call that needs a slot beyond its run's waits at most
// the Hold bound for it, not the budget's whole maximum wait.
func TestHoldBoundsExtraSlots(t *testing.T) {
	t.Parallel()
	src := &recordingSource{}
	b := New(src, 4, 90*time.Second)
	r, err := b.Reserve(context.Background(), Claim{Calls: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(context.Background()); err != nil { // the run's own slot
		t.Fatal(err)
	}
	r.Hold(5 * time.Second)
	if err := r.Wait(context.Background()); err != nil { // one beyond it
		t.Fatal(err)
	}
	iv := 250 * time.Millisecond
	want := []sourceCall{{1, iv, 90 * time.Second}, {1, iv, 5 * time.Second}}
	if got := src.recorded(); !slices.Equal(got, want) {
		t.Errorf("source calls = %v, want %v (the extra slot bounded by Hold)", got, want)
	}
}

// Requeue moves a reservation's unused calls to the end of the queue, behind
// reservations made since, without charging the seller's share again; the
// old reservation's release gives nothing back, the new one's gives back
// what it did not use, once.
func TestRequeueKeepsTheShareCharged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := New(newLocal(newFrozenClock().Now), 4, time.Minute).ShareBySeller(limit.NewLocal(), "r", limit.Rate{Interval: time.Hour, Burst: 5})
	r, err := b.Reserve(ctx, Claim{Calls: 5, SellerID: "s"}) // the share spent: slots at 0 to 1 s
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(ctx); err != nil { // one call made
		t.Fatal(err)
	}
	if _, err := b.Reserve(ctx, Claim{Calls: 1}); err != nil { // another caller's slot at 1.25 s
		t.Fatal(err)
	}
	next, err := r.Requeue(ctx)
	if err != nil {
		t.Fatalf("Requeue() = %v", err)
	}
	if got, want := next.Delay(), 1500*time.Millisecond; got != want {
		t.Errorf("the requeued calls' first slot in %s, want %s: behind the reservation made since", got, want)
	}
	if _, err := b.Reserve(ctx, Claim{Calls: 1, SellerID: "s"}); err == nil {
		t.Error("the seller reserved a call after the requeue: the share was given back, want it still charged")
	}
	if err := r.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := next.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// The four calls never made are back in the share, the one made is not.
	if _, err := b.Reserve(ctx, Claim{Calls: 4, SellerID: "s"}); err != nil {
		t.Errorf("Reserve(4) after the release = %v, want the 4 unused calls back in the share", err)
	}
	if _, err := b.Reserve(ctx, Claim{Calls: 1, SellerID: "s"}); err == nil {
		t.Error("Reserve(1) succeeded: the share got more back than was unused")
	}
	if _, err := next.Requeue(ctx); err == nil {
		t.Error("Requeue() of a released reservation = nil error, want one")
	}
}
