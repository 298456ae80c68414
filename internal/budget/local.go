package budget

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// NewLocal returns a SlotSource shared only within this process: for the
// embedded store and single-replica use.
func NewLocal() SlotSource { return newLocal(time.Now) }

func newLocal(now func() time.Time) *local { return &local{now: now} }

type local struct {
	now func() time.Time

	mu   sync.Mutex
	next time.Time // the earliest free slot; zero: free now
}

func (l *local) ReserveSlots(ctx context.Context, n int, interval, maxWait time.Duration) (Slots, error) {
	if n < 1 || interval <= 0 {
		return Slots{}, fmt.Errorf("reserve %d slots %s apart: need at least one slot and a positive interval", n, interval)
	}
	if err := ctx.Err(); err != nil {
		return Slots{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	first := now
	if l.next.After(now) {
		first = l.next
	}
	wait := first.Sub(now)
	if wait > maxWait {
		return Slots{}, &ExhaustedError{RetryAfter: wait - maxWait}
	}
	l.next = first.Add(time.Duration(n) * interval)
	return Slots{Wait: wait, End: l.next}, nil
}

func (l *local) ReturnSlots(_ context.Context, s Slots, n int, interval time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.next.Equal(s.End) {
		l.next = l.next.Add(-time.Duration(n) * interval)
	}
	return nil
}
