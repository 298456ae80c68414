package ingest

import (
	"context"
	"time"
)

// reserve reserves n IVS calls on show, paid for as p says: a seller's
// interactive calls are charged to the seller's share.
func (s *Service) reserve(ctx context.Context, show Show, n int, p Priority) (Calls, error) {
	// The wait is measured on the real clock: a batch claim waits inside
	// Reserve for a free slot, an interactive one after it (Delay).
	began := time.Now()
	calls, err := s.ivs.Reserve(ctx, Claim{Calls: n, SellerID: show.SellerID, ChannelARN: show.ChannelARN, Priority: p})
	if err != nil {
		return nil, err
	}
	s.ivsWait.Add(int64(time.Since(began) + calls.Delay()))
	return calls, nil
}

// requeue moves the calls not made to the end of the budget's queue (see
// Calls.Requeue) and waits for their first slot, outside any lock. It
// refuses with a *BusyError, having given them back, when that slot would
// come too late for ctx's deadline: the request would otherwise fail at its
// deadline with a 500 instead of a 503 that says when to come back.
func (s *Service) requeue(ctx context.Context, calls Calls) (Calls, error) {
	began := time.Now()
	next, err := calls.Requeue(ctx)
	if err != nil {
		return nil, err
	}
	s.ivsWait.Add(int64(time.Since(began) + next.Delay()))
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < next.Delay()+requeueMargin {
		s.release(ctx, next)
		return nil, &BusyError{RetryAfter: next.Delay(), Err: errSlotMissed}
	}
	if err := next.Ready(ctx); err != nil {
		s.release(ctx, next)
		return nil, lockFailure(err)
	}
	return next, nil
}

// requeueMargin is the time a requeued section needs after its first slot
// (the lock, its calls, the answer) for requeue to let it wait.
const requeueMargin = 10 * time.Second

// release gives back the calls a step did not make. A failure only leaves
// slots unused a little longer, so it is logged, not returned.
func (s *Service) release(ctx context.Context, calls Calls) {
	if err := calls.Release(ctx); err != nil {
		s.logger.WarnContext(ctx, "unused IVS call slots not returned", "error", err.Error())
	}
}

// lockedSlotWait bounds how long a call made under a channel's lock waits
// for a slot beyond its step's own (a call that starts late, after waiting
// for the lock; a retry): longer, and the step fails rather than hold the
// lock, a transaction and a connection while queueing.
const lockedSlotWait = 5 * time.Second
