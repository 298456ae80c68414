package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// progress.go runs the operator's batch commands (provision, rotate-expired,
// and any later one over many shows) one show at a time: it reports their
// progress through a callback, so the domain prints nothing and imports no
// terminal, and it stops between shows when the command is interrupted.

// BatchOptions tunes a batch command's run.
type BatchOptions struct {
	// Progress, when not nil, is called before the first show and after
	// each one, on the batch's goroutine: it should return quickly.
	Progress func(Progress)
}

// Progress is where a batch command stands.
type Progress struct {
	// Total is how many shows the batch handles; Done, Kept and Failed
	// count those handled so far, as BatchResult does.
	Total, Done, Kept, Failed int
	// Last is the outcome of the show just handled; zero before the first.
	Last BatchItem
	// Elapsed is the time since the batch started, on the service's clock.
	Elapsed time.Duration
	// BudgetWait is how long the last show's IVS calls queued in the call
	// budget before their first slot (summed over its reservations): about
	// zero while the batch has IVS to itself, more while other replicas'
	// calls fill the budget.
	BudgetWait time.Duration
}

// Handled is how many shows the batch has handled, whatever came of them.
func (p Progress) Handled() int { return p.Done + p.Kept + p.Failed }

// Rate is the shows handled per second so far; 0 before any time passed.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Handled()) / p.Elapsed.Seconds()
}

// ETA estimates the time left at the rate so far; ok is false while there
// is no rate to go by (before the first show is handled).
func (p Progress) ETA() (eta time.Duration, ok bool) {
	left := p.Total - p.Handled()
	if left <= 0 {
		return 0, true
	}
	if p.Handled() == 0 || p.Elapsed <= 0 {
		return 0, false
	}
	return time.Duration(float64(p.Elapsed) / float64(p.Handled()) * float64(left)), true
}

// ErrInterrupted says a batch command stopped before its last show because
// its context ended (the operator pressed Ctrl-C, or the process was told to
// stop). The BatchResult returned with it says what was done.
var ErrInterrupted = errors.New("batch interrupted")

// runBatch runs step on each show in turn, reporting progress as opts says.
// When ctx ends it lets the show in hand finish and stops before the next,
// returning what was done and an error matching ErrInterrupted and the
// context's cause.
func (s *Service) runBatch(ctx context.Context, shows []Show, opts BatchOptions, step func(ctx context.Context, show Show, res *BatchResult)) (BatchResult, error) {
	res := BatchResult{Total: len(shows)}
	start := s.now()
	report := func(wait time.Duration) {
		if opts.Progress == nil {
			return
		}
		p := Progress{Total: res.Total, Done: res.Done, Kept: res.Kept, Failed: res.Failed,
			Elapsed: s.now().Sub(start), BudgetWait: wait}
		if n := len(res.Details); n > 0 {
			p.Last = res.Details[n-1]
		}
		opts.Progress(p)
	}
	report(0)
	for _, show := range shows {
		if ctx.Err() != nil {
			return res, fmt.Errorf("%w after %d of %d shows: %w", ErrInterrupted, res.handled(), res.Total, context.Cause(ctx))
		}
		report(s.batchStep(ctx, func(ctx context.Context) { step(ctx, show, &res) }))
	}
	return res, nil
}

// batchStep runs fn, one show's step of a batch, and returns how long the
// service's IVS reservations queued for their first slot meanwhile: the
// step's own, since a batch command runs alone in its process.
// Why detached from ctx: an interrupted batch stops between shows, not in
// the middle of one (a key deleted and its successor not yet created, an
// audit row not written); once ctx ends, the show in hand still has the
// resolve timeout to finish, and is cancelled only after it.
func (s *Service) batchStep(ctx context.Context, fn func(ctx context.Context)) time.Duration {
	sctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		grace := time.NewTimer(s.resolveTimeout)
		defer grace.Stop()
		select {
		case <-done:
		case <-grace.C:
			cancel(fmt.Errorf("interrupted, and the show in hand did not finish within %s: %w", s.resolveTimeout, context.Cause(ctx)))
		}
	}()
	before := s.ivsWait.Load()
	fn(sctx)
	return time.Duration(s.ivsWait.Load() - before)
}
