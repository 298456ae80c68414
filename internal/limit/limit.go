// Package limit holds ivs-ingest's rate limits: a seller's share of the IVS
// call budget, revocations per show, requests per user and per client IP.
// Each is a GCRA (generic cell rate algorithm): a token bucket kept as one
// timestamp per key, the "theoretical arrival time" at which the key's debt
// is paid off. A Source stores those timestamps for everyone who shares it:
// one process (NewLocal) or every replica (the PostgreSQL store).
package limit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Rate is a limit: one unit every Interval, in bursts of at most Burst units.
// The zero Rate is no limit.
type Rate struct {
	Interval time.Duration
	Burst    int
}

// PerMinute returns the Rate of n units a minute in bursts of at most burst;
// n <= 0 is no limit.
func PerMinute(n, burst int) Rate {
	if n <= 0 {
		return Rate{}
	}
	return Rate{Interval: time.Duration(math.Ceil(float64(time.Minute) / float64(n))), Burst: max(burst, 1)}
}

// PerSecond returns the Rate of f units a second in bursts of at most burst;
// f <= 0 is no limit.
func PerSecond(f float64, burst int) Rate {
	if f <= 0 || math.IsInf(f, 1) {
		return Rate{}
	}
	return Rate{Interval: time.Duration(math.Ceil(float64(time.Second) / f)), Burst: max(burst, 1)}
}

// Unlimited reports whether r limits nothing.
func (r Rate) Unlimited() bool { return r.Interval <= 0 }

// Source keeps the theoretical arrival time of each key, atomically for
// everyone who shares it.
type Source interface {
	// Take charges n units to key at rate r when the key's debt stays
	// within r.Burst units; otherwise it charges nothing and returns
	// ok false and how long until n units would fit. 1 <= n <= r.Burst.
	Take(ctx context.Context, key string, n int, r Rate) (ok bool, retryAfter time.Duration, err error)
	// Give returns n units that a Take charged to key and that were not
	// used, so that the key's next Take may use them.
	Give(ctx context.Context, key string, n int, r Rate) error
}

// Check validates a Take's arguments, for Source implementations.
func Check(n int, r Rate) error {
	if r.Unlimited() || r.Burst < 1 {
		return fmt.Errorf("limit: rate %s in bursts of %d: need a positive interval and burst", r.Interval, r.Burst)
	}
	if n < 1 || n > r.Burst {
		return fmt.Errorf("limit: take %d units with a burst of %d: need 1 to %d", n, r.Burst, r.Burst)
	}
	return nil
}

// ErrLimited is matched (with errors.Is) by every *LimitedError.
var ErrLimited = errors.New("rate limited")

// LimitedError refuses an action over a limit; nothing was charged.
type LimitedError struct {
	// Limit names the limit, as metrics label it.
	Limit string
	// RetryAfter is how long until the action would fit.
	RetryAfter time.Duration
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("%s limit reached: retry after %s", e.Limit, e.RetryAfter.Round(time.Millisecond))
}

// Is makes errors.Is(err, ErrLimited) hold.
func (e *LimitedError) Is(target error) bool { return target == ErrLimited }

// Limiter applies one Rate to the keys of one kind over a Source. A nil or
// unlimited Limiter allows everything.
type Limiter struct {
	src    Source
	name   string
	prefix string
	rate   Rate
}

// New returns the limiter named name (the LimitedError's Limit, and the
// prefix of its keys in src) of rate r over src.
func New(src Source, name string, r Rate) *Limiter {
	return &Limiter{src: src, name: name, prefix: name + "/", rate: r}
}

// Rate returns the limiter's rate.
func (l *Limiter) Rate() Rate {
	if l == nil {
		return Rate{}
	}
	return l.rate
}

// Take charges n units to key, or refuses with a *LimitedError.
func (l *Limiter) Take(ctx context.Context, key string, n int) error {
	if l == nil || l.rate.Unlimited() {
		return nil
	}
	ok, wait, err := l.src.Take(ctx, l.prefix+key, n, l.rate)
	if err != nil {
		return fmt.Errorf("%s limit: %w", l.name, err)
	}
	if !ok {
		return &LimitedError{Limit: l.name, RetryAfter: wait}
	}
	return nil
}

// Give returns n units charged to key and not used.
func (l *Limiter) Give(ctx context.Context, key string, n int) error {
	if l == nil || l.rate.Unlimited() || n < 1 {
		return nil
	}
	if err := l.src.Give(ctx, l.prefix+key, n, l.rate); err != nil {
		return fmt.Errorf("%s limit: %w", l.name, err)
	}
	return nil
}

// NewLocal returns a Source shared only within this process: for the
// embedded store, and for limits meant per replica.
func NewLocal() Source { return newLocal(time.Now) }

func newLocal(now func() time.Time) *local {
	return &local{now: now, tat: make(map[string]time.Time), sweepAt: 1024}
}

type local struct {
	now func() time.Time

	mu      sync.Mutex
	tat     map[string]time.Time // absent: no debt
	sweepAt int
}

func (l *local) Take(ctx context.Context, key string, n int, r Rate) (bool, time.Duration, error) {
	if err := Check(n, r); err != nil {
		return false, 0, err
	}
	if err := ctx.Err(); err != nil {
		return false, 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	next := later(l.tat[key], now).Add(time.Duration(n) * r.Interval)
	if over := next.Sub(now) - time.Duration(r.Burst)*r.Interval; over > 0 {
		return false, over, nil
	}
	l.tat[key] = next
	if len(l.tat) >= l.sweepAt {
		l.sweep(now)
	}
	return true, 0, nil
}

func (l *local) Give(_ context.Context, key string, n int, r Rate) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.tat[key]; ok {
		l.tat[key] = t.Add(-time.Duration(n) * r.Interval)
	}
	return nil
}

// sweep forgets keys whose debt is paid: they are as if never seen.
func (l *local) sweep(now time.Time) {
	for k, t := range l.tat {
		if !t.After(now) {
			delete(l.tat, k)
		}
	}
	l.sweepAt = max(1024, 2*len(l.tat))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
