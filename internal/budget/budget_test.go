package budget

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/budget/budgettest"
	"github.com/ivs-ingest/ivs-ingest/internal/testclock"
)

// newFrozenClock is a clock that moves only when told to, so reserved
// offsets are exact.
func newFrozenClock() *testclock.Clock {
	return testclock.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
}

// reserveOK calls ReserveSlots and fails the test on error.
func reserveOK(t *testing.T, src SlotSource, n int, interval, maxWait time.Duration) time.Duration {
	t.Helper()
	d, err := src.ReserveSlots(context.Background(), n, interval, maxWait)
	if err != nil {
		t.Fatalf("ReserveSlots(%d, %s, %s) = %v, want a slot", n, interval, maxWait, err)
	}
	return d.Wait
}

func TestLocalSpacesSuccessiveReservations(t *testing.T) {
	t.Parallel()
	const iv = 250 * time.Millisecond
	clock := newFrozenClock()
	src := newLocal(clock.Now)
	for i, want := range []time.Duration{0, iv, 2 * iv} {
		if got := reserveOK(t, src, 1, iv, time.Hour); got != want {
			t.Errorf("reservation %d: ReserveSlots() = %s, want %s", i, got, want)
		}
	}
	// The next free slot is 3*iv after the start; 1.5*iv have passed.
	clock.Advance(iv + iv/2)
	if got, want := reserveOK(t, src, 1, iv, time.Hour), iv+iv/2; got != want {
		t.Errorf("after 1.5 intervals: ReserveSlots() = %s, want %s", got, want)
	}
	// After a long idle spell the burst is still one: one slot now, then spacing.
	clock.Advance(time.Hour)
	for i, want := range []time.Duration{0, iv} {
		if got := reserveOK(t, src, 1, iv, time.Hour); got != want {
			t.Errorf("after idling, reservation %d: ReserveSlots() = %s, want %s", i, got, want)
		}
	}
}

func TestLocalReservesConsecutiveSlots(t *testing.T) {
	t.Parallel()
	const iv = time.Second
	src := newLocal(newFrozenClock().Now)
	for i, c := range []struct {
		n    int
		want time.Duration
	}{{3, 0}, {1, 3 * iv}, {2, 4 * iv}, {1, 6 * iv}} {
		if got := reserveOK(t, src, c.n, iv, time.Hour); got != c.want {
			t.Errorf("reservation %d: ReserveSlots(n=%d) = %s, want %s", i, c.n, got, c.want)
		}
	}
}

func TestLocalExhaustedConsumesNothing(t *testing.T) {
	t.Parallel()
	const iv, maxWait = time.Second, 2 * time.Second
	clock := newFrozenClock()
	src := newLocal(clock.Now)
	for range 3 { // slots at 0, 1s, 2s: the last exactly at the maximum wait
		reserveOK(t, src, 1, iv, maxWait)
	}
	for i := range 2 { // refused twice: the first refusal took nothing
		_, err := src.ReserveSlots(context.Background(), 1, iv, maxWait)
		var ex *ExhaustedError
		if !errors.Is(err, ErrExhausted) || !errors.As(err, &ex) {
			t.Fatalf("refusal %d: ReserveSlots() = %v, want ErrExhausted", i, err)
		}
		if ex.RetryAfter != iv {
			t.Errorf("refusal %d: RetryAfter = %s, want %s", i, ex.RetryAfter, iv)
		}
	}
	// A larger reservation is refused too, and takes nothing either.
	if _, err := src.ReserveSlots(context.Background(), 5, iv, maxWait); !errors.Is(err, ErrExhausted) {
		t.Fatalf("ReserveSlots(n=5) = %v, want ErrExhausted", err)
	}
	clock.Advance(iv)
	// The slot at 3s is still free: 2s from now.
	if got, want := reserveOK(t, src, 1, iv, maxWait), 2*time.Second; got != want {
		t.Errorf("after the refusals: ReserveSlots() = %s, want %s", got, want)
	}
}

func TestLocalRefusesCanceledContext(t *testing.T) {
	t.Parallel()
	src := newLocal(newFrozenClock().Now)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.ReserveSlots(ctx, 1, time.Second, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("ReserveSlots(canceled ctx) = %v, want context.Canceled", err)
	}
	if got := reserveOK(t, src, 1, time.Second, time.Hour); got != 0 {
		t.Errorf("ReserveSlots() after a canceled one = %s, want 0 (nothing consumed)", got)
	}
}

func TestLocalRejectsBadArguments(t *testing.T) {
	t.Parallel()
	src := NewLocal()
	for _, c := range []struct {
		n  int
		iv time.Duration
	}{{0, time.Second}, {-1, time.Second}, {1, 0}, {1, -time.Second}} {
		if _, err := src.ReserveSlots(context.Background(), c.n, c.iv, time.Hour); err == nil || errors.Is(err, ErrExhausted) {
			t.Errorf("ReserveSlots(n=%d, interval=%s) = %v, want an argument error", c.n, c.iv, err)
		}
	}
}

func TestBudgetConcurrentReservationsStayWithinRate(t *testing.T) {
	t.Parallel()
	const (
		rate       = 4
		goroutines = 50
		perWorker  = 10
	)
	clock := newFrozenClock()
	// The clock stands still, so every offset is measured from the same
	// instant and offset + k*interval is each slot's absolute start.
	b := New(newLocal(clock.Now), rate, 24*time.Hour)
	var (
		mu     sync.Mutex
		starts []time.Time
		wg     sync.WaitGroup
	)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perWorker {
				n := 1 + (g+i)%3
				r, err := b.Reserve(context.Background(), Claim{Calls: n})
				if err != nil {
					t.Errorf("Reserve(%d) = %v", n, err)
					return
				}
				mu.Lock()
				for k := range n {
					starts = append(starts, clock.Now().Add(r.Delay()+time.Duration(k)*b.interval))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	want := 0
	for g := range goroutines {
		for i := range perWorker {
			want += 1 + (g+i)%3
		}
	}
	if len(starts) != want {
		t.Fatalf("reserved %d slots, want %d", len(starts), want)
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	budgettest.CheckSpacing(t, starts, time.Second/rate, rate)
	// And no slot was skipped: the schedule is dense.
	if got, want := starts[len(starts)-1].Sub(starts[0]), time.Duration(len(starts)-1)*time.Second/rate; got != want {
		t.Errorf("schedule spans %s, want %s", got, want)
	}
}

func TestNewInterval(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		perSecond float64
		want      time.Duration
	}{
		{4, 250 * time.Millisecond},
		{3, 333333334 * time.Nanosecond}, // rounded up, never down
		{0.5, 2 * time.Second},
		{1e-9, maxInterval},
		{0, 0},
		{-1, 0},
	} {
		if got := New(NewLocal(), c.perSecond, time.Minute).interval; got != c.want {
			t.Errorf("New(perSecond=%g).interval = %s, want %s", c.perSecond, got, c.want)
		}
	}
}

// recordingSource answers every reservation with fixed results and records
// what it was asked.
type recordingSource struct {
	mu    sync.Mutex
	calls []sourceCall
	err   error // returned when set
}

type sourceCall struct {
	n                 int
	interval, maxWait time.Duration
}

func (s *recordingSource) ReserveSlots(_ context.Context, n int, interval, maxWait time.Duration) (Slots, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, sourceCall{n, interval, maxWait})
	return Slots{}, s.err
}

func (s *recordingSource) ReturnSlots(context.Context, Slots, int, time.Duration) error { return nil }

func (s *recordingSource) recorded() []sourceCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

func TestUnlimitedBudgetNeverWaits(t *testing.T) {
	t.Parallel()
	for _, perSecond := range []float64{0, -3} {
		src := &recordingSource{err: errors.New("the source must not be called")}
		b := New(src, perSecond, 0)
		for range 100 {
			r, err := b.Reserve(context.Background(), Claim{Calls: 3})
			if err != nil {
				t.Fatalf("New(perSecond=%g).Reserve() = %v", perSecond, err)
			}
			if r.Delay() != 0 {
				t.Errorf("New(perSecond=%g).Reserve().Delay() = %s, want 0", perSecond, r.Delay())
			}
			for range 5 { // beyond the reserved count too
				if err := r.Wait(context.Background()); err != nil {
					t.Fatalf("New(perSecond=%g): Wait() = %v", perSecond, err)
				}
			}
		}
		if calls := src.recorded(); len(calls) != 0 {
			t.Errorf("New(perSecond=%g): the source was called %d times, want never", perSecond, len(calls))
		}
	}
}

func TestBudgetPassesIntervalAndMaxWait(t *testing.T) {
	t.Parallel()
	src := &recordingSource{}
	b := New(src, 4, 90*time.Second)
	if _, err := b.Reserve(context.Background(), Claim{Calls: 3}); err != nil {
		t.Fatalf("Reserve(3) = %v", err)
	}
	want := []sourceCall{{3, 250 * time.Millisecond, 90 * time.Second}}
	if got := src.recorded(); !slices.Equal(got, want) {
		t.Errorf("source calls = %v, want %v", got, want)
	}
}

func TestBudgetRejectsNoSlots(t *testing.T) {
	t.Parallel()
	src := &recordingSource{}
	b := New(src, 4, time.Minute)
	for _, n := range []int{0, -1} {
		if r, err := b.Reserve(context.Background(), Claim{Calls: n}); err == nil {
			t.Errorf("Reserve(%d) = %v, nil; want an error", n, r)
		}
	}
	if calls := src.recorded(); len(calls) != 0 {
		t.Errorf("source calls = %v, want none", calls)
	}
}

func TestBudgetExhausted(t *testing.T) {
	t.Parallel()
	b := New(newLocal(newFrozenClock().Now), 4, 500*time.Millisecond)
	for i, want := range []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond} {
		r, err := b.Reserve(context.Background(), Claim{Calls: 1})
		if err != nil || r.Delay() != want {
			t.Fatalf("reservation %d: Reserve() = %v, %v; want delay %s", i, r, err, want)
		}
	}
	_, err := b.Reserve(context.Background(), Claim{Calls: 1})
	var ex *ExhaustedError
	if !errors.Is(err, ErrExhausted) || !errors.As(err, &ex) || ex.RetryAfter != 250*time.Millisecond {
		t.Errorf("Reserve() beyond the maximum wait = %v, want ErrExhausted with RetryAfter 250ms", err)
	}
}

func TestWaitBeyondReservationReservesMore(t *testing.T) {
	t.Parallel()
	src := &recordingSource{}
	// 500ms apart: each Wait below comes well within a quarter interval
	// (125ms) of its slot, even on a loaded machine, so the reserved slots
	// are used.
	b := New(src, 2, time.Minute)
	r, err := b.Reserve(context.Background(), Claim{Calls: 2})
	if err != nil {
		t.Fatalf("Reserve(2) = %v", err)
	}
	iv := 500 * time.Millisecond
	for i, want := range [][]sourceCall{
		{{2, iv, time.Minute}},                                             // the reserved slots need no more
		{{2, iv, time.Minute}},                                             //
		{{2, iv, time.Minute}, {1, iv, time.Minute}},                       // a third call takes one more slot
		{{2, iv, time.Minute}, {1, iv, time.Minute}, {1, iv, time.Minute}}, // and so on
	} {
		if err := r.Wait(context.Background()); err != nil {
			t.Fatalf("Wait() %d = %v", i, err)
		}
		if got := src.recorded(); !slices.Equal(got, want) {
			t.Errorf("after Wait() %d: source calls = %v, want %v", i, got, want)
		}
	}

	// When the extra slot is refused, Wait says so.
	src.mu.Lock()
	src.err = &ExhaustedError{RetryAfter: time.Second}
	src.mu.Unlock()
	if err := r.Wait(context.Background()); !errors.Is(err, ErrExhausted) {
		t.Errorf("Wait() with the budget exhausted = %v, want ErrExhausted", err)
	}
}

func TestWaitExtraSlotsShareTheSchedule(t *testing.T) {
	t.Parallel()
	// A reservation that runs over takes its extra slot from the same
	// schedule: a reservation made afterwards starts after it.
	clock := newFrozenClock()
	// 500ms apart: the first Wait comes well within a quarter interval
	// (125ms) of its slot; the extra slots make Wait sleep 500ms and 1s.
	b := New(newLocal(clock.Now), 2, time.Minute)
	r, err := b.Reserve(context.Background(), Claim{Calls: 1})
	if err != nil {
		t.Fatalf("Reserve(1) = %v", err)
	}
	for i := range 3 {
		if err := r.Wait(context.Background()); err != nil {
			t.Fatalf("Wait() %d = %v", i, err)
		}
	}
	next, err := b.Reserve(context.Background(), Claim{Calls: 1})
	if err != nil {
		t.Fatalf("second Reserve(1) = %v", err)
	}
	if want := 1500 * time.Millisecond; next.Delay() != want {
		t.Errorf("Reserve() after 1 reserved + 2 extra slots: Delay() = %s, want %s", next.Delay(), want)
	}
}

func TestWaitSleepsUntilTheSlot(t *testing.T) {
	t.Parallel()
	b := New(NewLocal(), 20, time.Minute) // 50ms apart
	if _, err := b.Reserve(context.Background(), Claim{Calls: 1}); err != nil {
		t.Fatalf("Reserve(1) = %v", err)
	}
	before := time.Now()
	r, err := b.Reserve(context.Background(), Claim{Calls: 2})
	if err != nil {
		t.Fatalf("Reserve(2) = %v", err)
	}
	if r.Delay() < 0 || r.Delay() > 50*time.Millisecond {
		t.Fatalf("second Reserve().Delay() = %s, want in [0, 50ms]", r.Delay())
	}
	for i := range 2 {
		if err := r.Wait(context.Background()); err != nil {
			t.Fatalf("Wait() %d = %v", i, err)
		}
		// Timers never fire early, so this lower bound cannot flake.
		if want := r.Delay() + time.Duration(i)*50*time.Millisecond; time.Since(before) < want {
			t.Errorf("Wait() %d returned after %s, want at least %s", i, time.Since(before), want)
		}
	}
}

func TestWaitHonoursCancellation(t *testing.T) {
	t.Parallel()
	b := New(NewLocal(), 1.0/3600, time.Hour) // one call an hour
	r, err := b.Reserve(context.Background(), Claim{Calls: 2})
	if err != nil {
		t.Fatalf("Reserve(2) = %v", err)
	}
	if err := r.Wait(context.Background()); err != nil {
		t.Fatalf("first Wait() = %v, want nil at once", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Wait(ctx) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Wait() after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(time.Minute): // the slot itself is an hour away
		t.Fatal("Wait() did not return after its context was canceled")
	}
	// An already canceled context fails at once, even for a slot due now.
	b2 := New(NewLocal(), 4, time.Minute)
	r2, err := b2.Reserve(context.Background(), Claim{Calls: 1})
	if err != nil {
		t.Fatalf("Reserve(1) = %v", err)
	}
	if err := r2.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait(canceled ctx) = %v, want context.Canceled", err)
	}
}

func TestExhaustedErrorMatches(t *testing.T) {
	t.Parallel()
	err := error(&ExhaustedError{RetryAfter: 3 * time.Second})
	if !errors.Is(err, ErrExhausted) {
		t.Error("errors.Is(*ExhaustedError, ErrExhausted) = false, want true")
	}
	if errors.Is(errors.New("other"), ErrExhausted) {
		t.Error("errors.Is(other error, ErrExhausted) = true, want false")
	}
}

func TestLateWaitTakesAFreshSlot(t *testing.T) {
	t.Parallel()
	src := &recordingSource{}
	b := New(src, 10, time.Minute) // 100ms apart
	r, err := b.Reserve(context.Background(), Claim{Calls: 2})
	if err != nil {
		t.Fatalf("Reserve(2) = %v", err)
	}
	// Late by far more than a quarter interval for the first slot: using it
	// now would crowd the slots of whoever reserved after.
	time.Sleep(250 * time.Millisecond)
	if err := r.Wait(context.Background()); err != nil {
		t.Fatalf("Wait() = %v", err)
	}
	iv := 100 * time.Millisecond
	if got, want := src.recorded(), []sourceCall{{2, iv, time.Minute}, {1, iv, time.Minute}}; !slices.Equal(got, want) {
		t.Errorf("source calls after a late Wait = %v, want %v (a fresh slot)", got, want)
	}
}

// Missed says whether the next call would need a slot beyond the
// reservation's: its slot passed more than a quarter interval ago.
func TestReservationMissed(t *testing.T) {
	t.Parallel()
	b := New(&recordingSource{}, 1, time.Minute) // 1 s apart: a quarter is 250 ms
	r, err := b.Reserve(context.Background(), Claim{Calls: 2})
	if err != nil {
		t.Fatalf("Reserve(2) = %v", err)
	}
	if r.Missed() {
		t.Error("Missed() = true at once, want false")
	}
	time.Sleep(300 * time.Millisecond)
	if !r.Missed() {
		t.Error("Missed() = false 300 ms after the first slot, want true")
	}
	if err := r.Release(context.Background()); err != nil {
		t.Fatalf("Release() = %v", err)
	}
	if r.Missed() {
		t.Error("Missed() = true after Release, want false: no slot of the reservation is left")
	}
	ur, err := New(&recordingSource{}, 0, time.Minute).Reserve(context.Background(), Claim{Calls: 1})
	if err != nil {
		t.Fatalf("an unlimited budget's Reserve() = %v", err)
	}
	time.Sleep(10 * time.Millisecond)
	if ur.Missed() {
		t.Error("Missed() = true without spacing, want false")
	}
}
