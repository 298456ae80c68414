package ingest

import (
	"context"
	"fmt"
	"time"
)

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
