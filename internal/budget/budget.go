// Package budget spaces calls to a rate-limited API, such as IVS's five calls
// per second per account and region, across every process that shares a
// SlotSource. A Budget is a token bucket with a burst of one: call starts are
// at least 1/rate apart, so no one-second window, however it is placed, sees
// more than rate starts. Callers reserve their slots up front (before taking
// any lock) and wait for each slot just before the call it covers.
package budget

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// ErrExhausted is matched (with errors.Is) by every error that refuses a
// reservation because its first slot would start later than the maximum wait.
// errors.As with an *ExhaustedError gives the time to retry after.
var ErrExhausted = errors.New("call budget exhausted")

// ExhaustedError refuses a reservation. Nothing was reserved.
type ExhaustedError struct {
	// RetryAfter is how long from the refusal until the first free slot
	// would be within the maximum wait. Others may take that slot first, so
	// it is a lower bound, not a promise.
	RetryAfter time.Duration
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("call budget exhausted: retry after %s", e.RetryAfter)
}

// Is makes errors.Is(err, ErrExhausted) hold.
func (e *ExhaustedError) Is(target error) bool { return target == ErrExhausted }

// SlotSource hands out call slots atomically, to everyone who shares it: one
// process for NewLocal, every replica for a database-backed source.
type SlotSource interface {
	// ReserveSlots reserves n consecutive slots spaced interval apart, the
	// first at the earliest free time, unless that would be later than
	// maxWait from now. It returns how long from now the first slot starts
	// (0: at once). "Now" is the source's own clock, so processes whose
	// clocks disagree still share one schedule. When the first slot would
	// start too late, it reserves nothing and returns an error wrapping
	// *ExhaustedError.
	ReserveSlots(ctx context.Context, n int, interval, maxWait time.Duration) (time.Duration, error)
}

// maxInterval caps the spacing of a very low rate (below one call a day), so
// that n slots cannot overflow a time.Duration.
const maxInterval = 24 * time.Hour

// Budget spaces the calls of everyone sharing its SlotSource. It is safe for
// concurrent use.
type Budget struct {
	src      SlotSource
	interval time.Duration // 0: unlimited
	maxWait  time.Duration
}

// New returns a budget of perSecond calls per second over src, whose
// reservations wait at most maxWait for their first slot. A perSecond of zero
// or less means unlimited: reservations never wait and src is never called.
func New(src SlotSource, perSecond float64, maxWait time.Duration) *Budget {
	b := &Budget{src: src, maxWait: max(maxWait, 0)}
	if perSecond > 0 && !math.IsInf(perSecond, 1) {
		// Rounded up: a spacing a nanosecond short would let a one-second
		// window hold one call too many.
		iv := math.Ceil(float64(time.Second) / perSecond)
		b.interval = time.Duration(min(iv, float64(maxInterval)))
	}
	return b
}

// Reserve reserves n consecutive call slots (n >= 1), to be used one by one
// with Reservation.Wait. When the first slot would start later than the
// budget's maximum wait it reserves nothing and returns an error wrapping
// *ExhaustedError (errors.Is(err, ErrExhausted)).
func (b *Budget) Reserve(ctx context.Context, n int) (*Reservation, error) {
	if n < 1 {
		return nil, fmt.Errorf("reserve %d call slots: need at least one", n)
	}
	if b.interval == 0 {
		return &Reservation{b: b, n: n}, nil
	}
	delay, err := b.src.ReserveSlots(ctx, n, b.interval, b.maxWait)
	if err != nil {
		return nil, fmt.Errorf("reserve %d call slots: %w", n, err)
	}
	delay = max(delay, 0)
	// Measured after the source answered: the slot is never earlier than the
	// source meant, only later by the time the answer took to arrive.
	return &Reservation{b: b, n: n, delay: delay, start: time.Now().Add(delay)}, nil
}

// Reservation is a run of call slots from Budget.Reserve. It is safe for
// concurrent use.
type Reservation struct {
	b     *Budget
	n     int
	delay time.Duration
	start time.Time // of the first slot, on this process's monotonic clock

	mu   sync.Mutex
	used int
}

// Delay reports how long after the reservation its first slot starts (0: at
// once).
func (r *Reservation) Delay() time.Duration { return r.delay }

// Wait sleeps until the next unused slot of the reservation, or until ctx is
// done. Once the reserved slots are used up, or when the next one has passed
// by more than a quarter interval, Wait reserves one more slot from the budget
// first, so that retries, late and unplanned calls stay within it; that
// reservation may fail with ErrExhausted.
func (r *Reservation) Wait(ctx context.Context) error {
	if r.b.interval == 0 {
		return ctx.Err()
	}
	r.mu.Lock()
	i := r.used
	r.used++
	r.mu.Unlock()

	if i < r.n {
		slot := r.start.Add(time.Duration(i) * r.b.interval)
		// A slot may only be used until a quarter interval after it starts.
		// Why: a caller that is late (its previous call was slow) would
		// otherwise fire right before the next slot's owner, and a run of
		// such late calls would put more than the rate into one second; the
		// rest of the interval absorbs the jitter of getting the call to IVS.
		if time.Since(slot) <= r.b.interval/4 {
			return sleepUntil(ctx, slot)
		}
	}
	d, err := r.b.src.ReserveSlots(ctx, 1, r.b.interval, r.b.maxWait)
	if err != nil {
		return fmt.Errorf("reserve an extra call slot: %w", err)
	}
	return sleepUntil(ctx, time.Now().Add(max(d, 0)))
}

func sleepUntil(ctx context.Context, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("wait for a call slot: %w", err)
	}
	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for a call slot: %w", ctx.Err())
	}
}

type reservationKey struct{}

// NewContext returns ctx carrying r, for the calls made under ctx to use.
func NewContext(ctx context.Context, r *Reservation) context.Context {
	return context.WithValue(ctx, reservationKey{}, r)
}

// FromContext returns the reservation ctx carries, or nil.
func FromContext(ctx context.Context) *Reservation {
	r, _ := ctx.Value(reservationKey{}).(*Reservation)
	return r
}
