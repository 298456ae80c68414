package httpapi

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// /readyz is open to anyone: its check (a database ping) runs at most once a
// second however many ask, and its answer, failure included, is shared.
func TestReadinessIsCachedForASecond(t *testing.T) {
	t.Parallel()
	var (
		mu     sync.Mutex
		checks int
		fail   error
	)
	rd := &readiness{check: func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		checks++
		return fail
	}}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if err := rd.get(context.Background()); err != nil {
				t.Errorf("get() = %v, want nil", err)
			}
		})
	}
	wg.Wait()
	if checks != 1 {
		t.Errorf("20 readiness requests ran %d checks, want 1", checks)
	}
	mu.Lock()
	fail = errors.New("database down")
	mu.Unlock()
	rd.mu.Lock()
	rd.checked = rd.checked.Add(-readinessTTL) // a second later
	rd.mu.Unlock()
	for range 3 {
		if err := rd.get(context.Background()); err == nil {
			t.Error("get() after the database went down = nil, want its error")
		}
	}
	if checks != 2 {
		t.Errorf("checks after the cache expired = %d, want 2", checks)
	}
	// A caller that has given up still gets the shared answer.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := rd.get(ctx); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("get(canceled) = %v, want the cached failure", err)
	}
}
