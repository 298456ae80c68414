package limit

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLocalRefillsWithTime(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	l := newLocal(func() time.Time { return now })
	r := Rate{Interval: time.Second, Burst: 2}
	ctx := context.Background()
	for i := range 2 {
		if ok, _, _ := l.Take(ctx, "k", 1, r); !ok {
			t.Fatalf("Take %d within the burst refused", i)
		}
	}
	if ok, wait, _ := l.Take(ctx, "k", 1, r); ok || wait != time.Second {
		t.Fatalf("Take past the burst = %v, retry after %s; want refused, 1s", ok, wait)
	}
	now = now.Add(1500 * time.Millisecond)
	if ok, _, _ := l.Take(ctx, "k", 1, r); !ok {
		t.Fatal("Take after 1.5 intervals refused, want allowed")
	}
	if ok, wait, _ := l.Take(ctx, "k", 1, r); ok || wait != 500*time.Millisecond {
		t.Fatalf("second Take after 1.5 intervals = %v, retry after %s; want refused, 500ms", ok, wait)
	}
}

func TestLocalSweepForgetsPaidKeys(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	l := newLocal(func() time.Time { return now })
	r := Rate{Interval: time.Second, Burst: 1}
	for i := range 1024 {
		if ok, _, _ := l.Take(context.Background(), string(rune('a'+i%26))+time.Duration(i).String(), 1, r); !ok {
			t.Fatal("Take on a new key refused")
		}
		now = now.Add(10 * time.Millisecond)
	}
	if n := len(l.tat); n > 150 {
		t.Errorf("after the sweep %d keys remain, want only those still in debt (about 100)", n)
	}
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var nilLimiter *Limiter
	if err := nilLimiter.Take(ctx, "k", 1); err != nil {
		t.Errorf("nil Limiter Take = %v, want nil", err)
	}
	l := New(NewLocal(), "revocations", Rate{Interval: time.Hour, Burst: 1})
	if err := l.Take(ctx, "show", 1); err != nil {
		t.Fatalf("first Take = %v", err)
	}
	err := l.Take(ctx, "show", 1)
	var le *LimitedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLimited) || le.Limit != "revocations" || le.RetryAfter <= 0 {
		t.Fatalf("second Take = %v, want a *LimitedError for revocations with a retry after", err)
	}
	if err := l.Take(ctx, "other", 1); err != nil {
		t.Errorf("Take on another key = %v, want nil", err)
	}
	if err := l.Give(ctx, "show", 1); err != nil {
		t.Fatal(err)
	}
	if err := l.Take(ctx, "show", 1); err != nil {
		t.Errorf("Take after Give = %v, want nil", err)
	}
}

func TestRates(t *testing.T) {
	t.Parallel()
	if r := PerMinute(120, 10); r.Interval != 500*time.Millisecond || r.Burst != 10 {
		t.Errorf("PerMinute(120, 10) = %+v", r)
	}
	if r := PerMinute(0, 10); !r.Unlimited() {
		t.Errorf("PerMinute(0) = %+v, want unlimited", r)
	}
	if r := PerSecond(4, 5); r.Interval != 250*time.Millisecond || r.Burst != 5 {
		t.Errorf("PerSecond(4, 5) = %+v", r)
	}
}
