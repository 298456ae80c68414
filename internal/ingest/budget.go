package ingest

import (
	"context"
	"fmt"
	"time"
)

// reserve reserves n IVS calls on show, paid for as p says: a seller's
// interactive calls are charged to the seller's share.
func (s *Service) reserve(ctx context.Context, show Show, n int, p Priority) (Calls, error) {
	calls, err := s.ivs.Reserve(ctx, Claim{Calls: n, SellerID: show.SellerID, ChannelARN: show.ChannelARN, Priority: p})
	if err != nil {
		return nil, err
	}
	noteReservation(ctx, calls)
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

// reserveCreation counts a creation against show's seller's hourly limit in
// the section tx, or refuses with a *RateLimitedError; id is 0 when there
// is no limit.
func (s *Service) reserveCreation(ctx context.Context, tx ChannelTx, show Show) (id int64, err error) {
	if s.createsPerHour <= 0 {
		return 0, nil
	}
	id, retryAfter, err := tx.ReserveKeyCreation(ctx, show.SellerID, s.createsPerHour, time.Hour)
	if err != nil {
		return 0, fmt.Errorf("reserve key creation: %w", err)
	}
	if id == 0 {
		return 0, &RateLimitedError{RetryAfter: retryAfter}
	}
	return id, nil
}

// creationWait refuses, before any IVS call is reserved, a creation the
// seller's hourly limit would refuse anyway.
func (s *Service) creationWait(ctx context.Context, show Show) error {
	if s.createsPerHour <= 0 {
		return nil
	}
	wait, err := s.store.KeyCreationWait(ctx, show.SellerID, s.createsPerHour, time.Hour)
	if err != nil {
		return fmt.Errorf("check key creation limit: %w", err)
	}
	if wait > 0 {
		return &RateLimitedError{RetryAfter: wait}
	}
	return nil
}
