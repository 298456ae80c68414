package httpapi

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// userLimiter limits requests per user, in this process. Why in memory: an
// exact limit across replicas would add a database write to every request's
// hot path; per replica, the limit is N times looser with N replicas, which
// is what a flood guard needs.
type userLimiter struct {
	perMinute int // 0 disables the limit

	mu       sync.Mutex
	limiters map[string]*userBucket
	sweepAt  int
}

type userBucket struct {
	lim      *rate.Limiter
	lastSeen time.Time
}

func newUserLimiter(perMinute int) *userLimiter {
	return &userLimiter{perMinute: perMinute, limiters: make(map[string]*userBucket), sweepAt: 1024}
}

// allow takes one request of userID's allowance at now. When none is left it
// returns false and how long until one is.
func (l *userLimiter) allow(userID string, now time.Time) (bool, time.Duration) {
	if l.perMinute <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.limiters[userID]
	if !ok {
		b = &userBucket{lim: rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), l.perMinute)}
		l.limiters[userID] = b
		if len(l.limiters) >= l.sweepAt {
			l.sweep(now)
		}
	}
	b.lastSeen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep forgets users idle long enough for their bucket to be full again.
func (l *userLimiter) sweep(now time.Time) {
	for id, b := range l.limiters {
		if now.Sub(b.lastSeen) > time.Minute {
			delete(l.limiters, id)
		}
	}
	l.sweepAt = max(1024, 2*len(l.limiters))
}

// retryAfterSeconds rounds d up to whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
