package ingest

import (
	"context"
	"errors"
	"sync"
	"time"
)

// verify.go keeps stored keys fresh without making a seller wait: a stored
// key is served at once, and when its last check against IVS (kept in the
// store, shared by every replica) is older than the verify interval, the
// request that touched it starts a check in the background. A key IVS no
// longer has is cleared, so the next request creates one.

// checkRetry is the least time between two checks of one key by this
// process: a check that failed (IVS busy, unreachable) is tried again by a
// later request, not by every one.
const checkRetry = time.Minute

// maxChecks is how many background checks a process runs at once. Why:
// after a quiet hour every key a flash crowd touches is due; the checks
// may not crowd the database pool or the budget's row, and IVS has a few
// calls a second for them at best.
const maxChecks = 2

// checks are the keys this process checked lately, and when it started,
// the checks running, and until when the IVS budget has no slot for them.
type checks struct {
	mu        sync.Mutex
	started   map[string]time.Time // key ARN -> when its last check started
	running   int
	busyUntil time.Time
	closed    bool
}

// start reports whether a check of keyARN may start now (none of it lately,
// fewer than maxChecks running, the budget not known to be busy, the
// service open), and if so notes it and counts it in wg before any Close
// can wait for wg.
func (c *checks) start(keyARN string, now time.Time, wg *sync.WaitGroup) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.running >= maxChecks || now.Before(c.busyUntil) {
		return false
	}
	if at, ok := c.started[keyARN]; ok && now.Sub(at) < checkRetry {
		return false
	}
	if len(c.started) >= 1024 {
		for arn, at := range c.started {
			if now.Sub(at) >= checkRetry {
				delete(c.started, arn)
			}
		}
	}
	c.started[keyARN] = now
	c.running++
	wg.Add(1)
	return true
}

// end notes that keyARN's check ended; done says it settled the key (the
// store now says when, or the key is cleared), so it may be checked again
// whenever the store says it is due.
func (c *checks) end(keyARN string, done bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running--
	if done {
		delete(c.started, keyARN)
	}
}

// busy notes that the IVS budget has no slot for a check before until.
func (c *checks) busy(until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busyUntil = until
}

// close refuses every later check: Close is about to wait for the ones
// running.
func (c *checks) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
}

// verifyLater starts a background check of show's stored key when its last
// check is older than the verify interval. It never waits for the check.
func (s *Service) verifyLater(show Show) {
	if s.keyVault() == nil || s.verifyInterval <= 0 || show.StreamKeyARN == "" || show.KeyVerifiedAt.IsZero() {
		return
	}
	now := s.now()
	if now.Sub(show.KeyVerifiedAt) < s.verifyInterval || !s.checks.start(show.StreamKeyARN, now, &s.background) {
		return
	}
	go func() {
		defer s.background.Done()
		// One check per key at a time, detached, bounded, ended by Close
		// and panic-safe: a flight, which only this goroutine waits for,
		// to its end (Close waits for it).
		done := false
		defer func() { s.checks.end(show.StreamKeyARN, done) }()
		_, _ = flight(s, context.Background(), "verify|"+show.StreamKeyARN, func(ctx context.Context) (struct{}, error) {
			done = s.verify(ctx, show)
			return struct{}{}, nil
		})
	}()
}

// verify asks IVS whether show's stored key still exists: if it does, the
// store notes when; if it does not, the key is cleared from the show (unless
// the show recorded another meanwhile) with its value, so the next request
// creates one. A check that fails is tried again by a later request. done
// says whether the check settled the key.
func (s *Service) verify(ctx context.Context, show Show) (done bool) {
	calls, err := s.reserve(ctx, show, 1, Background)
	if err != nil {
		var busy *BusyError
		if errors.As(err, &busy) {
			s.checks.busy(s.now().Add(busy.RetryAfter))
		}
		s.logger.InfoContext(ctx, "stored stream key not checked: no IVS call available", "stream_key_arn", show.StreamKeyARN, "error", err.Error())
		return false
	}
	defer s.release(ctx, calls)
	key, err := calls.GetStreamKey(ctx, show.StreamKeyARN)
	switch {
	case errors.Is(err, ErrIVSNotFound):
		s.keys.forget(show.StreamKeyARN)
		n, err := s.store.ForgetStreamKey(ctx, show.StreamKeyARN)
		if err != nil {
			s.logger.WarnContext(ctx, "stored stream key gone from IVS, but not cleared", "stream_key_arn", show.StreamKeyARN, "error", err.Error())
			return false
		}
		s.logger.InfoContext(ctx, "stored stream key no longer exists in IVS: cleared, the next request creates one",
			"stream_key_arn", show.StreamKeyARN, "shows", n)
		return true
	case err != nil:
		s.logger.WarnContext(ctx, "stored stream key not checked", "stream_key_arn", show.StreamKeyARN, "error", err.Error())
		return false
	case key.ChannelARN != show.ChannelARN:
		// The stored value is bound to the show's channel and would not
		// have opened for another: nothing to clear here. The check counts
		// as made, so it is not repeated every minute.
		s.logger.WarnContext(ctx, "stored stream key belongs to another channel", "stream_key_arn", show.StreamKeyARN,
			"key_channel_arn", key.ChannelARN, "channel_arn", show.ChannelARN)
	}
	if err := s.store.KeyVerified(ctx, show.StreamKeyARN, s.now()); err != nil {
		s.logger.WarnContext(ctx, "stream key checked, but the check not recorded", "stream_key_arn", show.StreamKeyARN, "error", err.Error())
		return false
	}
	return true
}
