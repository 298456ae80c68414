// Package limittest is the contract every limit.Source keeps, run by the
// tests of each implementation.
package limittest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/limit"
)

// Run checks src against the contract. Keys are prefixed with prefix so that
// several runs may share a source. The rates are an hour a unit, so that the
// test's own duration does not change what is due.
func Run(t *testing.T, src limit.Source, prefix string) {
	ctx := context.Background()
	hourly := limit.Rate{Interval: time.Hour, Burst: 3}

	t.Run("burst then refusal", func(t *testing.T) {
		key := prefix + "burst"
		for i, n := range []int{2, 1} {
			if ok, _, err := src.Take(ctx, key, n, hourly); err != nil || !ok {
				t.Fatalf("Take %d (n=%d) = %v, %v; want allowed", i, n, ok, err)
			}
		}
		ok, wait, err := src.Take(ctx, key, 1, hourly)
		if err != nil || ok {
			t.Fatalf("Take past the burst = %v, %v; want refused", ok, err)
		}
		if wait <= 55*time.Minute || wait > time.Hour {
			t.Errorf("Take past the burst: retry after %s, want about an hour", wait)
		}
		// A refusal charges nothing: two units still need two hours.
		if _, wait2, _ := src.Take(ctx, key, 2, hourly); wait2 <= wait+55*time.Minute {
			t.Errorf("retry after for 2 units = %s, want an hour more than for 1 (%s)", wait2, wait)
		}
	})
	t.Run("give back", func(t *testing.T) {
		key := prefix + "give"
		if ok, _, err := src.Take(ctx, key, 3, hourly); err != nil || !ok {
			t.Fatalf("Take(3) = %v, %v; want allowed", ok, err)
		}
		if err := src.Give(ctx, key, 2, hourly); err != nil {
			t.Fatalf("Give(2) = %v", err)
		}
		if ok, _, err := src.Take(ctx, key, 2, hourly); err != nil || !ok {
			t.Fatalf("Take(2) after giving 2 back = %v, %v; want allowed", ok, err)
		}
		if ok, _, err := src.Take(ctx, key, 1, hourly); err != nil || ok {
			t.Fatalf("Take(1) with the burst used = %v, %v; want refused", ok, err)
		}
	})
	t.Run("keys are independent", func(t *testing.T) {
		if ok, _, err := src.Take(ctx, prefix+"a", 3, hourly); err != nil || !ok {
			t.Fatalf("Take(a, 3) = %v, %v", ok, err)
		}
		if ok, _, err := src.Take(ctx, prefix+"b", 3, hourly); err != nil || !ok {
			t.Fatalf("Take(b, 3) after a's burst = %v, %v; want allowed", ok, err)
		}
	})
	t.Run("bad arguments", func(t *testing.T) {
		for _, c := range []struct {
			n int
			r limit.Rate
		}{{4, hourly}, {0, hourly}, {1, limit.Rate{}}, {1, limit.Rate{Interval: time.Second}}} {
			if _, _, err := src.Take(ctx, prefix+"bad", c.n, c.r); err == nil {
				t.Errorf("Take(n=%d, %+v) = nil error, want one", c.n, c.r)
			}
		}
	})
	t.Run("concurrent takes are exact", func(t *testing.T) {
		key := prefix + "race"
		r := limit.Rate{Interval: time.Hour, Burst: 5}
		var allowed atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				ok, _, err := src.Take(ctx, key, 1, r)
				if err != nil {
					t.Errorf("Take: %v", err)
				}
				if ok {
					allowed.Add(1)
				}
			})
		}
		wg.Wait()
		if got := allowed.Load(); got != 5 {
			t.Errorf("20 concurrent takes with a burst of 5: %d allowed, want 5", got)
		}
	})
}
