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
