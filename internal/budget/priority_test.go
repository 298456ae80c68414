package budget

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/budget/budgettest"
)

// startRecorder is a SlotSource over a local schedule that records, on the
// schedule's clock, the start of every slot it hands out and, through
// refused, each refusal.
type startRecorder struct {
	src *local

	mu      sync.Mutex
	runs    [][]time.Time // by reservation, in order
	refused chan struct{}
}

func newStartRecorder(now func() time.Time) *startRecorder {
	return &startRecorder{src: newLocal(now), refused: make(chan struct{}, 1000)}
}

func (s *startRecorder) ReserveSlots(ctx context.Context, n int, interval, maxWait time.Duration) (Slots, error) {
	// The local schedule's own lock orders reservations; this one only
	// keeps the record in the same order.
	s.mu.Lock()
	defer s.mu.Unlock()
	slots, err := s.src.ReserveSlots(ctx, n, interval, maxWait)
	if err != nil {
		s.refused <- struct{}{}
		return slots, err
	}
	run := make([]time.Time, n)
	for k := range n {
		run[k] = slots.End.Add(time.Duration(k-n) * interval)
	}
	s.runs = append(s.runs, run)
	return slots, nil
}

func (s *startRecorder) ReturnSlots(ctx context.Context, sl Slots, n int, interval time.Duration) error {
	return s.src.ReturnSlots(ctx, sl, n, interval)
}

func (s *startRecorder) recorded() [][]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.runs)
}

// A background claim takes a slot only when the schedule is free at once:
// behind a queued seller it is refused, reserves nothing, and so does not
// delay the seller's next call either.
func TestBackgroundTakesOnlyAFreeSlot(t *testing.T) {
	t.Parallel()
	clock := newFrozenClock()
	b := New(newLocal(clock.Now), 4, 90*time.Second) // 250ms apart

	r, err := b.Reserve(context.Background(), Claim{Calls: 1, Priority: Background})
	if err != nil || r.Delay() != 0 {
		t.Fatalf("Background Reserve() on an idle schedule = %v, %v; want a slot at once", r, err)
	}
	clock.Advance(time.Second) // idle again

	seller, err := b.Reserve(context.Background(), Claim{Calls: 3, Priority: Interactive})
	if err != nil || seller.Delay() != 0 {
		t.Fatalf("Interactive Reserve(3) = %v, %v; want a run starting at once", seller, err)
	}
	// The seller's run holds the schedule for 750ms: nothing is free at once.
	for i := range 5 {
		_, err := b.Reserve(context.Background(), Claim{Calls: 1, Priority: Background})
		var ex *ExhaustedError
		if !errors.As(err, &ex) || ex.RetryAfter != 750*time.Millisecond {
			t.Fatalf("Background Reserve() %d behind a seller = %v, want ErrExhausted retrying after 750ms", i, err)
		}
	}
	next, err := b.Reserve(context.Background(), Claim{Calls: 1, Priority: Interactive})
	if err != nil || next.Delay() != 750*time.Millisecond {
		t.Errorf("Interactive Reserve() after refused background claims = %v, %v; want delay 750ms (nothing taken)", next, err)
	}

	// A background call beyond its run (a retry) is refused as well.
	clock.Advance(time.Minute)
	bg, err := b.Reserve(context.Background(), Claim{Calls: 1, Priority: Background})
	if err != nil {
		t.Fatalf("Background Reserve() on an idle schedule = %v", err)
	}
	if _, err := b.Reserve(context.Background(), Claim{Calls: 1, Priority: Interactive}); err != nil {
		t.Fatal(err)
	}
	bg.used = bg.n // its own slot is spent
	if err := bg.Wait(context.Background()); !errors.Is(err, ErrExhausted) {
		t.Errorf("Background Wait() beyond its run behind a seller = %v, want ErrExhausted", err)
	}
}

// A batch claim waits for as long as it takes, but only for a slot free at
// once: a seller who comes while it waits is served first.
func TestBatchWaitsBehindSellers(t *testing.T) {
	t.Parallel()
	rec := newStartRecorder(time.Now)
	const perSecond, iv = 10, 100 * time.Millisecond
	b := New(rec, perSecond, 90*time.Second)

	first, err := b.Reserve(context.Background(), Claim{Calls: 5, SellerID: "a"})
	if err != nil {
		t.Fatalf("Interactive Reserve(5) = %v", err)
	}
	defer first.Release(context.Background())

	batch := make(chan error, 1)
	go func() {
		r, err := b.Reserve(context.Background(), Claim{Calls: 2, Priority: Batch})
		if err == nil && r.Delay() != 0 {
			t.Errorf("Batch Reserve().Delay() = %s, want 0: it only takes a free slot", r.Delay())
		}
		batch <- err
	}()
	// The batch claim has been refused once: it is waiting. A seller who
	// comes now queues right behind the first run, ahead of the batch.
	select {
	case <-rec.refused:
	case err := <-batch:
		t.Fatalf("Batch Reserve() = %v before the schedule was free, want it to wait for a free slot", err)
	}
	second, err := b.Reserve(context.Background(), Claim{Calls: 2, SellerID: "b"})
	if err != nil {
		t.Fatalf("Interactive Reserve(2) while a batch claim waits = %v", err)
	}
	if err := <-batch; err != nil {
		t.Fatalf("Batch Reserve(2) = %v, want slots once the sellers' are done", err)
	}
	_ = second

	runs := rec.recorded()
	if len(runs) != 3 {
		t.Fatalf("%d runs reserved, want 3 (seller, seller, batch)", len(runs))
	}
	sellersEnd := runs[1][len(runs[1])-1]
	if got := runs[2][0]; got.Before(sellersEnd.Add(iv)) {
		t.Errorf("the batch run starts %s after the second seller's last slot, want at least %s", got.Sub(sellersEnd), iv)
	}
	if got, want := runs[1][0], runs[0][len(runs[0])-1].Add(iv); !got.Equal(want) {
		t.Errorf("the second seller's run starts at %s, want %s: right behind the first", got, want)
	}
	budgettest.CheckSpacing(t, slices.Concat(runs...), iv, perSecond)
}

// A batch claim whose context would end before a slot could be free is
// refused at once with ErrExhausted, not left to run out of time.
func TestBatchRefusedWhenItsContextEndsFirst(t *testing.T) {
	t.Parallel()
	clock := newFrozenClock()
	b := New(newLocal(clock.Now), 1.0/3600, 2*time.Hour) // one call an hour
	if _, err := b.Reserve(context.Background(), Claim{Calls: 1}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := b.Reserve(ctx, Claim{Calls: 1, Priority: Batch})
	var ex *ExhaustedError
	if !errors.As(err, &ex) || ex.RetryAfter != time.Hour {
		t.Errorf("Batch Reserve() with a minute left and the schedule busy for an hour = %v, want ErrExhausted retrying after 1h", err)
	}
	if ctx.Err() != nil {
		t.Errorf("Batch Reserve() returned only when its context ended, want at once")
	}

	// Under a lock, the Hold bound limits the wait the same way.
	clock.Advance(2 * time.Hour)
	r, err := b.Reserve(context.Background(), Claim{Calls: 1, Priority: Batch})
	if err != nil {
		t.Fatalf("Batch Reserve() on an idle schedule = %v", err)
	}
	if _, err := b.Reserve(context.Background(), Claim{Calls: 1}); err != nil {
		t.Fatal(err)
	}
	r.used = r.n
	r.Hold(5 * time.Second)
	if err := r.Wait(context.Background()); !errors.Is(err, ErrExhausted) {
		t.Errorf("Batch Wait() under a 5s hold, the schedule busy for an hour = %v, want ErrExhausted", err)
	}
}

// Each bucket has its own schedule: a saturated region does not delay
// another, and asking again for a bucket gives the same schedule.
func TestLocalSchedulesAreIndependentPerBucket(t *testing.T) {
	t.Parallel()
	s := NewLocalSchedules()
	east := New(s.Schedule("us-east-1"), 4, time.Minute)
	west := New(s.Schedule("eu-west-1"), 4, time.Minute)
	for range 10 {
		if _, err := east.Reserve(context.Background(), Claim{Calls: 2}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := west.Reserve(context.Background(), Claim{Calls: 1, Priority: Background})
	if err != nil || r.Delay() != 0 {
		t.Errorf("eu-west-1 Reserve() with us-east-1 saturated = %v, %v; want a slot at once", r, err)
	}
	again := New(s.Schedule("us-east-1"), 4, time.Minute)
	if _, err := again.Reserve(context.Background(), Claim{Calls: 1, Priority: Background}); !errors.Is(err, ErrExhausted) {
		t.Errorf("a second budget over us-east-1's schedule = %v, want ErrExhausted: the same schedule", err)
	}
}
