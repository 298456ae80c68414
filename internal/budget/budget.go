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
//
// Calls are served by priority over one schedule, with no queue of its own:
// a claim's priority is how far ahead of now it may reserve (see Priority).
// A seller's call reserves up to the budget's maximum wait ahead; an
// operator's and the service's own only a slot that is free at once, so
// they never take a place in the queue ahead of a waiting seller, whichever
// replica either runs on.
//
// A rate limit is per account and region, so a process keeps one Budget per
// bucket (a region), each over its own schedule (Schedules).
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

// Schedules gives each bucket (an account's region: IVS's quotas are per
// region) a schedule of its own, created on first use.
type Schedules interface {
	// Schedule returns bucket's SlotSource: the same schedule, for every
	// process sharing the Schedules, whenever it is asked for the same
	// bucket.
	Schedule(bucket string) SlotSource
}

// DefaultBucket names the default region's schedule (AWS_REGION's). In
// PostgreSQL it is the row the single schedule of earlier versions had, so
// that their replicas and this version's share it during a rolling deploy.
const DefaultBucket = ""

// NewLocalSchedules returns Schedules shared only within this process: one
// NewLocal schedule per bucket.
func NewLocalSchedules() Schedules { return &localSchedules{m: map[string]SlotSource{}} }

type localSchedules struct {
	mu sync.Mutex
	m  map[string]SlotSource
}

func (l *localSchedules) Schedule(bucket string) SlotSource {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.m[bucket]
	if !ok {
		s = NewLocal()
		l.m[bucket] = s
	}
	return s
}

// Slots is a run of slots a SlotSource reserved.
type Slots struct {
	// Wait is how long from the reservation until the first slot.
	Wait time.Duration
	// End is when the run ends on the source's clock: the source's mark
	// for ReturnSlots.
	End time.Time
}

// Priority says whose work a claim is: who pays for it, and how it waits
// for its slots. All three share one schedule; a priority is how far ahead
// of now a claim may reserve, so no process needs to know of the others'
// waiting claims: the schedule itself tells whether anyone is queued.
type Priority int

// The priorities.
const (
	// Interactive is a call a seller is waiting for (create, adopt, rotate,
	// revoke, a key not stored): its calls are charged to the seller's
	// share, and it queues for up to the budget's maximum wait
	// (IVS_BUDGET_WAIT) for its first slot, behind every claim reserved
	// before it.
	Interactive Priority = iota
	// Background is the service's own upkeep (a key's freshness check,
	// an expired key's liveness check and renewal): it is charged to no
	// seller, and takes slots only when the schedule is free at once
	// (nobody queued): it is refused otherwise, never queued, so it never
	// delays a waiting seller. The work is retried by a later request.
	Background
	// Batch is an operator's command (provision, rotate-expired): it is
	// charged to no seller. Like Background it only takes slots that are
	// free at once, so it never queues ahead of a waiting seller; unlike
	// Background it is refused only when its context would end first:
	// otherwise it asks again when the schedule would be free, for as long
	// as it takes. Why not a longer bound in the queue: a batch step queued
	// minutes ahead would sit in front of every seller who comes after it,
	// and a command can afford to wait where a seller cannot.
	Batch
)

// minRetry is the least a Batch claim waits before asking the schedule
// again, so that a source answering "free in a microsecond" is not asked
// in a tight loop.
const minRetry = time.Millisecond

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
// first slot would start later than the claim's priority allows (see
// Priority) it reserves nothing and returns an error wrapping
// *ExhaustedError (errors.Is(err, ErrExhausted)).
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
	r.p = c.Priority
	if err := r.schedule(ctx); err != nil {
		return nil, fmt.Errorf("reserve %d call slots: %w", n, err)
	}
	return r, nil
}

// schedule reserves the slots of a new reservation r as its priority
// allows; when the budget refuses, it gives the seller's share back.
func (r *Reservation) schedule(ctx context.Context) error {
	slots, err := r.b.reserveSlots(ctx, r.n, r.p, 0)
	if err != nil {
		r.giveShare(ctx, r.n)
		return err
	}
	r.slots = slots
	r.delay = max(slots.Wait, 0)
	// Measured after the source answered: the slot is never earlier than the
	// source meant, only later by the time the answer took to arrive.
	r.start = time.Now().Add(r.delay)
	return nil
}

// reserveSlots reserves n slots for a claim of priority p (see Priority);
// bound, when positive, is the most the first slot may wait (a call made
// under a lock).
func (b *Budget) reserveSlots(ctx context.Context, n int, p Priority, bound time.Duration) (Slots, error) {
	switch p {
	case Interactive:
		maxWait := b.maxWait
		if bound > 0 {
			maxWait = min(maxWait, bound)
		}
		return b.src.ReserveSlots(ctx, n, b.interval, maxWait)
	case Background:
		return b.src.ReserveSlots(ctx, n, b.interval, 0)
	}
	var deadline time.Time // zero: until ctx is done
	if bound > 0 {
		deadline = time.Now().Add(bound)
	}
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	for {
		s, err := b.src.ReserveSlots(ctx, n, b.interval, 0)
		var exhausted *ExhaustedError
		if !errors.As(err, &exhausted) {
			return s, err
		}
		// The schedule is free again when its queue has passed, unless
		// others take it first: then ask again.
		retry := max(exhausted.RetryAfter, minRetry)
		if !deadline.IsZero() && time.Until(deadline) < retry {
			return Slots{}, err
		}
		if err := sleepUntil(ctx, time.Now().Add(retry)); err != nil {
			return Slots{}, err
		}
	}
}

// Reservation is a run of call slots from Budget.Reserve. It is safe for
// concurrent use.
type Reservation struct {
	b        *Budget
	p        Priority
	n        int
	shareKey string // the seller's share charged; "" for none
	charged  int    // units charged to the share and not given back
	slots    Slots
	delay    time.Duration
	start    time.Time // of the first slot, on this process's monotonic clock

	mu        sync.Mutex
	used      int
	released  bool
	extraWait time.Duration // the most a slot beyond the run's may wait; 0: as the priority allows
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

// Requeue releases the reservation's unused slots and reserves as many
// again, as its priority allows, in a new reservation that takes over what
// the seller's share was charged: the same calls, only later. Why: a caller
// whose slot passed while it waited for a lock queues again outside it, and
// must not be charged twice (a share spent meanwhile by the seller's other
// requests would refuse it after its wait). It fails when no slot is left,
// and, having given the share back, when the budget refuses.
func (r *Reservation) Requeue(ctx context.Context) (*Reservation, error) {
	r.mu.Lock()
	unused := r.n - r.used
	if r.released || unused <= 0 {
		r.mu.Unlock()
		return nil, errors.New("requeue call slots: none left")
	}
	r.released, r.used = true, r.n
	next := &Reservation{b: r.b, p: r.p, n: unused, shareKey: r.shareKey, charged: r.charged}
	r.charged = 0
	r.mu.Unlock()
	if r.b.interval == 0 {
		return next, nil
	}
	// A failure leaves the slots unused a little longer, as in Release.
	_ = r.b.src.ReturnSlots(context.WithoutCancel(ctx), r.slots, unused, r.b.interval)
	if err := next.schedule(ctx); err != nil {
		return nil, fmt.Errorf("requeue %d call slots: %w", unused, err)
	}
	return next, nil
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
// reservation waits as the claim's priority allows, and may fail with
// ErrExhausted.
func (r *Reservation) Wait(ctx context.Context) error {
	if r.b.interval == 0 {
		return ctx.Err()
	}
	r.mu.Lock()
	i := r.used
	r.used++
	bound := r.extraWait
	r.mu.Unlock()

	if i < r.n {
		slot := r.slot(i)
		if !r.passed(slot) {
			return sleepUntil(ctx, slot)
		}
	}
	s, err := r.b.reserveSlots(ctx, 1, r.p, bound)
	if err != nil {
		return fmt.Errorf("reserve an extra call slot: %w", err)
	}
	return sleepUntil(ctx, time.Now().Add(max(s.Wait, 0)))
}

// Missed reports whether the reservation's next slot has passed, so that
// the next call would need a slot beyond the reservation's (see Wait).
// False without spacing, and once the reserved slots are used up or
// released.
func (r *Reservation) Missed() bool {
	if r.b.interval == 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.released && r.used < r.n && r.passed(r.slot(r.used))
}

// slot is when the reservation's slot i starts.
func (r *Reservation) slot(i int) time.Time { return r.start.Add(time.Duration(i) * r.b.interval) }

// passed reports whether slot can no longer be used: a slot may only be
// used until a quarter interval after it starts. Why: a caller that is late
// (its previous call was slow) would otherwise fire right before the next
// slot's owner, and a run of such late calls would put more than the rate
// into one second; the rest of the interval absorbs the jitter of getting
// the call to IVS.
func (r *Reservation) passed(slot time.Time) bool { return time.Since(slot) > r.b.interval/4 }

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
