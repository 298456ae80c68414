package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// progress.go runs the operator's batch commands (provision, rotate-expired,
// keys reencrypt) one item at a time: a show, or a stored value. It reports
// their progress through a callback, so the domain prints nothing and
// imports no terminal, and it stops between items when the command is
// interrupted.

// BatchOptions tunes a batch command's run.
type BatchOptions struct {
	// Progress, when not nil, is called before the first item and after
	// each one, on the batch's goroutine: it should return quickly.
	Progress func(Progress)
}

// Progress is where a batch command stands.
type Progress struct {
	// Total is how many items the batch handles; Done, Kept and Failed
	// count those handled so far, as BatchResult does for shows. For
	// Reencrypt's stored values they count ReencryptResult's Resealed,
	// Current, and Unknown plus Unreadable (left as they are); its Total
	// is counted at the start, and a value stored meanwhile may make
	// Handled pass it.
	Total, Done, Kept, Failed int
	// Last is the outcome of the show just handled; zero before the first,
	// and for Reencrypt, which lists no value.
	Last BatchItem
	// Elapsed is the time since the batch started, on the service's clock.
	Elapsed time.Duration
	// BudgetWait is how long the last item's IVS calls queued in the call
	// budget before their first slot (summed over its reservations): about
	// zero while the batch has IVS to itself, more while other replicas'
	// calls fill the budget; always zero for Reencrypt, which calls none.
	BudgetWait time.Duration
}

// Handled is how many items the batch has handled, whatever came of them.
func (p Progress) Handled() int { return p.Done + p.Kept + p.Failed }

// Rate is the items handled per second so far; 0 before any time passed.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Handled()) / p.Elapsed.Seconds()
}

// ETA estimates the time left at the rate so far; ok is false while there
// is no rate to go by (before the first item is handled).
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

// ErrInterrupted says a batch command stopped before its last item because
// its context ended (the operator pressed Ctrl-C, or the process was told to
// stop). The result returned with it (BatchResult, ReencryptResult) says
// what was done.
var ErrInterrupted = errors.New("batch interrupted")

// runBatch runs step on each show in turn, as a batchRun.
func (s *Service) runBatch(ctx context.Context, shows []Show, opts BatchOptions, step func(ctx context.Context, show Show, res *BatchResult)) (BatchResult, error) {
	res := BatchResult{Total: len(shows)}
	b := s.startBatch(ctx, opts, "shows", res.progress)
	for _, show := range shows {
		if err := b.step(func(ctx context.Context) error { step(ctx, show, &res); return nil }); err != nil {
			return res, err
		}
	}
	return res, nil
}

// batchRun is a batch command under way: it runs the batch's items one at
// a time and reports its progress as opts says. When ctx ends it lets the
// item in hand finish and starts no other.
type batchRun struct {
	s      *Service
	ctx    context.Context
	opts   BatchOptions
	items  string          // what the batch handles, in its errors: "shows"
	counts func() Progress // the batch's counts so far (Total, Done, Kept, Failed, Last)
	start  time.Time
}

// startBatch starts a batch run whose result counts says what it has done,
// and reports where it stands before its first item.
func (s *Service) startBatch(ctx context.Context, opts BatchOptions, items string, counts func() Progress) *batchRun {
	b := &batchRun{s: s, ctx: ctx, opts: opts, items: items, counts: counts, start: s.now()}
	b.report(0)
	return b
}

// step runs fn, the next item, unless the batch's context ended: then it
// returns an error matching ErrInterrupted and the context's cause, saying
// how far the batch got. fn's error (the batch cannot go on) is returned
// as it is; otherwise the progress is reported.
func (b *batchRun) step(fn func(ctx context.Context) error) error {
	if err := b.interrupted(); err != nil {
		return err
	}
	var err error
	wait := b.s.batchStep(b.ctx, func(ctx context.Context) { err = fn(ctx) })
	if err != nil {
		return err
	}
	b.report(wait)
	return nil
}

// interrupted is the error of a batch whose context ended, nil before.
func (b *batchRun) interrupted() error {
	if b.ctx.Err() == nil {
		return nil
	}
	p := b.counts()
	return fmt.Errorf("%w after %d of %d %s: %w", ErrInterrupted, p.Handled(), p.Total, b.items, context.Cause(b.ctx))
}

// report calls the batch's Progress, if any, with the counts so far and
// wait, the last item's IVS budget wait.
func (b *batchRun) report(wait time.Duration) {
	if b.opts.Progress == nil {
		return
	}
	p := b.counts()
	p.Elapsed, p.BudgetWait = b.s.now().Sub(b.start), wait
	b.opts.Progress(p)
}

// batchStep runs fn, one item's step of a batch, and returns how long the
// service's IVS reservations queued for their first slot meanwhile: the
// step's own, since a batch command runs alone in its process.
// Why detached from ctx: an interrupted batch stops between items, not in
// the middle of one (a key deleted and its successor not yet created, an
// audit row not written, a value half sealed again); once ctx ends, the
// item in hand still has the resolve timeout to finish, and is cancelled
// only after it.
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
			cancel(fmt.Errorf("interrupted, and the item in hand did not finish within %s: %w", s.resolveTimeout, context.Cause(ctx)))
		}
	}()
	before := s.ivsWait.Load()
	fn(sctx)
	return time.Duration(s.ivsWait.Load() - before)
}
