// Package budget spaces calls to a rate-limited API, such as IVS's five calls
// per second per account and region, across every process that shares a
// SlotSource. A Budget is a token bucket with a burst of one: call starts are
// at least 1/rate apart, so no one-second window, however it is placed, sees
// more than rate starts. Callers reserve the slots of a step up front, wait
// for the first one before taking any lock, wait for each slot just before
// the call it covers, and release what they did not use.
//
// No seller can hold the budget that others need: a seller's interactive
// calls are charged to the seller's share (a rate and a burst, kept in a
// limit.Source that every replica shares) before any slot is reserved, and
// a share that is spent refuses the reservation at once.
package budget

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/limit"
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
	// maxWait from now. Slots.Wait says how long from now the first slot
	// starts (0: at once). "Now" is the source's own clock, so processes
	// whose clocks disagree still share one schedule. When the first slot
	// would start too late, it reserves nothing and returns an error
	// wrapping *ExhaustedError.
	ReserveSlots(ctx context.Context, n int, interval, maxWait time.Duration) (Slots, error)
	// ReturnSlots gives back the last n slots of the run s, spaced
	// interval apart, when no later run was reserved since (the schedule
	// cannot have holes filled); otherwise they go unused.
	ReturnSlots(ctx context.Context, s Slots, n int, interval time.Duration) error
}

// Slots is a run of slots a SlotSource reserved.
type Slots struct {
	// Wait is how long from the reservation until the first slot.
	Wait time.Duration
	// End is when the run ends on the source's clock: the source's mark
	// for ReturnSlots.
	End time.Time
}

// Priority says whose work a claim is, and so who pays for it.
type Priority int

// The priorities.
const (
	// Interactive is a request of a seller (or of an admin acting as one):
	// its calls are charged to the seller's share.
	Interactive Priority = iota
	// Background is the service's own upkeep (renewing an expired key): it
	// is not charged to the seller.
	Background
	// Batch is an operator's command (provision, rotate-expired): it is
	// not charged to any seller.
	Batch
)

// Claim says what a reservation is for.
type Claim struct {
	// Calls is the number of IVS calls the step is about to make.
	Calls int
	// SellerID is the seller whose show the calls are for.
	SellerID string
	Priority Priority
}

// MinSellerBurst is the least burst of a seller's share: one whole rotation
// (GetChannel, ListStreamKeys, DeleteStreamKey, StopStream, CreateStreamKey).
const MinSellerBurst = 5

// LimitSellerShare names the refusal of a claim over its seller's share.
const LimitSellerShare = "ivs_seller_share"

// maxInterval caps the spacing of a very low rate (below one call a day), so
// that n slots cannot overflow a time.Duration.
const maxInterval = 24 * time.Hour

// Budget spaces the calls of everyone sharing its SlotSource. It is safe for
// concurrent use.
type Budget struct {
	src      SlotSource
	interval time.Duration // 0: unlimited
	maxWait  time.Duration
	shares   *limit.Limiter // nil: sellers are not charged
	region   string
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

// ShareBySeller makes b charge each seller's interactive claims to the
// seller's share in region: rate r (its burst raised to MinSellerBurst, so
// that a share always admits one whole rotation), kept in src, which every
// replica sharing the budget must share too. It returns b.
func (b *Budget) ShareBySeller(src limit.Source, region string, r limit.Rate) *Budget {
	if r.Unlimited() {
		return b
	}
	r.Burst = max(r.Burst, MinSellerBurst)
	b.shares = limit.New(src, LimitSellerShare, r)
	b.region = region
	return b
}

// Reserve reserves c.Calls consecutive call slots, to be used one by one
// with Reservation.Wait and released with Reservation.Release. An
// interactive claim is first charged to its seller's share: when the share
// is spent it reserves nothing and returns a *limit.LimitedError. When the
// first slot would start later than the budget's maximum wait it reserves
// nothing and returns an error wrapping *ExhaustedError
// (errors.Is(err, ErrExhausted)).
func (b *Budget) Reserve(ctx context.Context, c Claim) (*Reservation, error) {
	n := c.Calls
	if n < 1 {
		return nil, fmt.Errorf("reserve %d call slots: need at least one", n)
	}
	r := &Reservation{b: b, n: n}
	if b.shares != nil && c.Priority == Interactive && c.SellerID != "" {
		// A claim larger than the burst (none is, today) is charged the
		// whole burst rather than refused for ever.
		charge := min(n, b.shares.Rate().Burst)
		if err := b.shares.Take(ctx, b.region+"/"+c.SellerID, charge); err != nil {
			return nil, fmt.Errorf("reserve %d call slots: %w", n, err)
		}
		r.shareKey, r.charged = b.region+"/"+c.SellerID, charge
	}
	if b.interval == 0 {
		return r, nil
	}
	slots, err := b.src.ReserveSlots(ctx, n, b.interval, b.maxWait)
	if err != nil {
		r.giveShare(ctx, n)
		return nil, fmt.Errorf("reserve %d call slots: %w", n, err)
	}
	r.slots = slots
	r.delay = max(slots.Wait, 0)
	// Measured after the source answered: the slot is never earlier than the
	// source meant, only later by the time the answer took to arrive.
	r.start = time.Now().Add(r.delay)
	return r, nil
}

// Reservation is a run of call slots from Budget.Reserve. It is safe for
// concurrent use.
type Reservation struct {
	b        *Budget
	n        int
	shareKey string // the seller's share charged; "" for none
	charged  int    // units charged to the share and not given back
	slots    Slots
	delay    time.Duration
	start    time.Time // of the first slot, on this process's monotonic clock

	mu        sync.Mutex
	used      int
	released  bool
	extraWait time.Duration // the most a slot beyond the run's may wait; 0: the budget's maximum
}

// Hold marks the calls that follow as made while holding a lock (a
// channel's, a transaction): a call that needs a slot beyond the run's own
// (it starts late, or it is a retry) waits at most wait for one, and
// otherwise fails with ErrExhausted, rather than queueing behind every other
// caller with the lock held.
func (r *Reservation) Hold(wait time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.extraWait = wait
}

// Ready waits until the reservation's first slot, or until ctx is done.
// Why: a caller that will take a lock for its calls waits here first, so
// that it never holds the lock (nor a transaction, nor a connection) while
// queueing behind other callers' slots.
func (r *Reservation) Ready(ctx context.Context) error {
	if r.b.interval == 0 {
		return ctx.Err()
	}
	return sleepUntil(ctx, r.start)
}

// Release gives back the slots not used yet: to the seller's share, and to
// the budget when no later reservation followed this one. Calls after it
// reserve slots of their own. It is safe to call more than once.
func (r *Reservation) Release(ctx context.Context) error {
	r.mu.Lock()
	unused := r.n - r.used
	if r.released || unused <= 0 {
		r.released = true
		r.mu.Unlock()
		return nil
	}
	r.released = true
	r.used = r.n
	r.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	r.giveShare(ctx, unused)
	if r.b.interval == 0 {
		return nil
	}
	if err := r.b.src.ReturnSlots(ctx, r.slots, unused, r.b.interval); err != nil {
		return fmt.Errorf("return %d call slots: %w", unused, err)
	}
	return nil
}

// giveShare returns up to n of the units charged to the seller's share. A
// failure only leaves the share spent a little longer than it should be.
func (r *Reservation) giveShare(ctx context.Context, n int) {
	n = min(n, r.charged)
	if r.shareKey == "" || n <= 0 {
		return
	}
	r.charged -= n
	_ = r.b.shares.Give(context.WithoutCancel(ctx), r.shareKey, n)
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
	maxWait := r.b.maxWait
	if r.extraWait > 0 {
		maxWait = min(maxWait, r.extraWait)
	}
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
	s, err := r.b.src.ReserveSlots(ctx, 1, r.b.interval, maxWait)
	if err != nil {
		return fmt.Errorf("reserve an extra call slot: %w", err)
	}
	return sleepUntil(ctx, time.Now().Add(max(s.Wait, 0)))
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
