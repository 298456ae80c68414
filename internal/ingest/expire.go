package ingest

import (
	"context"
	"time"
)

// expired reports whether show's key is older than the maximum age.
func (s *Service) expired(show Show) bool {
	return s.maxAge > 0 && show.StreamKeyARN != "" && !show.KeyFirstSeen.IsZero() && s.now().Sub(show.KeyFirstSeen) > s.maxAge
}

// renewExpired rotates show's expired key unless its channel is live: a
// live encoder keeps its key, and the rotation waits for a later request.
// ok is false when the current key stays. The rotation is the service's own
// upkeep, not charged to the seller; audit is the row of the request that
// triggered it.
func (s *Service) renewExpired(ctx context.Context, show Show, audit AuditEntry) (d Details, ok bool) {
	live, err := s.live(ctx, show, Background)
	if err != nil {
		s.logger.WarnContext(ctx, "expired key kept: could not tell whether the channel is live", "show_id", show.ID, "error", err.Error())
		return Details{}, false
	}
	if live {
		return Details{}, false
	}
	d, err = s.rotate(ctx, show, ActionExpire, Background, audit, nil)
	if err != nil {
		// The next request tries again; a rotation that failed after its
		// delete is repaired by the ordinary path.
		s.logger.WarnContext(ctx, "expired key not rotated", "show_id", show.ID, "error", err.Error())
		return Details{}, false
	}
	return d, true
}

// live says whether the channel is broadcasting: from a "live" answer of
// IVS remembered for a little while (an expired key of a live channel is
// asked about on every request), else from the stored stream state when it
// is recent (no IVS call is reserved then), else from IVS's GetStream,
// within the call budget.
func (s *Service) live(ctx context.Context, show Show, p Priority) (bool, error) {
	s.liveMu.Lock()
	until, ok := s.liveUntil[show.ChannelARN]
	s.liveMu.Unlock()
	if ok && s.now().Before(until) {
		return true, nil
	}
	if live, ok := s.knownLive(ctx, show.ChannelARN); ok {
		return live, nil
	}
	calls, err := s.reserve(ctx, show, 1, p)
	if err != nil {
		return false, err
	}
	defer s.release(ctx, calls)
	live, err := calls.Live(ctx, show.ChannelARN)
	if err != nil {
		return false, err
	}
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	if live {
		s.liveUntil[show.ChannelARN] = s.now().Add(liveMemory)
	} else {
		delete(s.liveUntil, show.ChannelARN)
	}
	return live, nil
}

// liveMemory is how long a "live" answer is trusted.
const liveMemory = 30 * time.Second

// knownLive says the channel is live when its stored stream state, recent,
// says so; ok is false otherwise (offline, none, or not read): IVS is asked
// then, as without stored states (the read is only a shortcut). Why only
// "live" is trusted: a stored "live" that is wrong only postpones a
// rotation, but a stored "offline" that is late (a Stream Start still on
// its way) would delete the key of a stream that has just begun, and its
// encoder could not reconnect; one GetStream before a rotation's four calls
// is cheap insurance.
func (s *Service) knownLive(ctx context.Context, channelARN string) (live, ok bool) {
	if s.streamStates == nil {
		return false, false
	}
	live, ok, err := s.streamStates.Known(ctx, channelARN)
	if err != nil {
		s.logger.WarnContext(ctx, "stored stream state not read; asking IVS", "channel_arn", channelARN, "error", err.Error())
		return false, false
	}
	return live, ok && live
}
