package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// The retention's work per run: batches of pruneBatch entries (one short
// statement each, so no long lock on the table), at most pruneBatches of
// them and at most pruneRunTime; a backlog larger than that is left to the
// next run.
const (
	pruneBatch   = 5000
	pruneBatches = 200
	pruneRunTime = 10 * time.Minute
	// pruneLeaseTTL outlasts a run, so that no second replica starts while
	// one still deletes; a holder that died frees it when it expires.
	pruneLeaseTTL = pruneRunTime + 5*time.Minute
	pruneLease    = "audit-retention"
)

// RetentionOptions tunes a Retention.
type RetentionOptions struct {
	// Age is how long entries are kept; 0 keeps them for ever.
	Age time.Duration
	// Leases makes one replica at a time prune; nil when the store has
	// one process (the embedded store).
	Leases Leaser
	// Sweep, when not nil, runs with each prune under its lease: it deletes
	// what other tables keep only for a while (the store's paid-off rate
	// limits) and returns how many rows.
	Sweep  func(ctx context.Context) (int64, error)
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Retention deletes audit entries older than its age.
type Retention struct {
	store  AuditPruner
	leases Leaser
	sweep  func(ctx context.Context) (int64, error)
	age    time.Duration
	holder string // this process, in the lease
	logger *slog.Logger
	now    func() time.Time
}

// NewRetention returns the retention of store's audit trail.
func NewRetention(store AuditPruner, opts RetentionOptions) *Retention {
	r := &Retention{store: store, leases: opts.Leases, sweep: opts.Sweep, age: opts.Age, holder: NewID(), logger: opts.Logger, now: opts.Now}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r
}

// Age is how long entries are kept; 0 is for ever.
func (r *Retention) Age() time.Duration { return r.age }

// PruneResult reports one run.
type PruneResult struct {
	Deleted int
	// Skipped is true when another replica held the lease, so this run
	// did nothing.
	Skipped bool
	// More is true when the run stopped at its bound with entries left.
	More bool
}

// Prune deletes the entries older than the retention age, in batches, when
// no other replica is doing so. With an age of 0 it does nothing.
func (r *Retention) Prune(ctx context.Context) (PruneResult, error) {
	if r.age <= 0 {
		return PruneResult{}, nil
	}
	if r.leases != nil {
		ok, err := r.leases.TakeLease(ctx, pruneLease, r.holder, pruneLeaseTTL)
		if err != nil {
			return PruneResult{}, fmt.Errorf("take the retention lease: %w", err)
		}
		if !ok {
			return PruneResult{Skipped: true}, nil
		}
		defer func() {
			// Released even when ctx ended; the lease expires anyway.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := r.leases.ReleaseLease(rctx, pruneLease, r.holder); err != nil {
				r.logger.WarnContext(ctx, "retention lease not released; it expires by itself", "error", err.Error())
			}
		}()
	}
	ctx, cancel := context.WithTimeout(ctx, pruneRunTime)
	defer cancel()
	if r.sweep != nil {
		if n, err := r.sweep(ctx); err != nil {
			r.logger.WarnContext(ctx, "sweep of expired rows failed; the next run tries again", "error", err.Error())
		} else if n > 0 {
			r.logger.DebugContext(ctx, "expired rows swept", "rows", n)
		}
	}
	cutoff := r.now().Add(-r.age)
	var res PruneResult
	for range pruneBatches {
		n, err := r.store.DeleteAuditBefore(ctx, cutoff, pruneBatch)
		res.Deleted += n
		if err != nil {
			return res, fmt.Errorf("delete old audit entries: %w", err)
		}
		if n < pruneBatch {
			return res, nil
		}
	}
	res.More = true
	return res, nil
}

// Run prunes at once, then about every interval (give or take a tenth, so
// that replicas started together spread out), until ctx ends. With an age
// of 0 it returns at once.
func (r *Retention) Run(ctx context.Context, every time.Duration) {
	if r.age <= 0 || every <= 0 {
		return
	}
	for {
		res, err := r.Prune(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.logger.WarnContext(ctx, "audit retention failed; the next run tries again", "deleted", res.Deleted, "error", err.Error())
		case res.Deleted > 0 || res.More:
			r.logger.InfoContext(ctx, "old audit entries deleted", "deleted", res.Deleted, "more_left", res.More, "retention", r.age.String())
		}
		wait := every - every/10 + rand.N(every/5+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
