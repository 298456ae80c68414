package ingest

import (
	"context"
	"errors"
	"fmt"
)

// resolve reads or creates the show's key through IVS, asking only what st,
// the store's copy, lacks. Concurrent requests for the same show share one
// resolution; the result does not depend on who asked, since every asker
// was authorized before (and each is authorized again before it answers).
func (s *Service) resolve(ctx context.Context, show Show, p Priority, st stored) (Details, error) {
	// The recorded key is part of the flight: a request that already saw a
	// rotated (or revoked) key must not share a flight that started from
	// the old one. So is the priority: it decides who pays for the calls
	// and whether a creation counts against the seller's hourly limit, so
	// a seller's request and an operator's provision never share a flight
	// (whoever started it would decide for both).
	key := fmt.Sprintf("resolve|%d|%s|%s|%s", p, show.ID, show.ChannelARN, show.StreamKeyARN)
	return flight(s, ctx, key, func(fctx context.Context) (Details, error) {
		return s.resolveOnce(fctx, show, p, st)
	})
}

func (s *Service) resolveOnce(ctx context.Context, show Show, p Priority, st stored) (Details, error) {
	// GetChannel unless the channel is stored; then GetStreamKey of the
	// recorded key unless its value is stored, or the creation under the
	// lock: ListStreamKeys and CreateStreamKey after a GetChannel, or
	// CreateStreamKey alone (adopting on the quota error) without one.
	n := 0
	if !st.hasChannel {
		n++
	}
	switch {
	case show.StreamKeyARN != "" && st.hasKey:
	case show.StreamKeyARN != "":
		n++
	case st.hasChannel:
		n++
	default:
		n += 2
	}
	calls, err := s.reserve(ctx, show, n, p)
	if err != nil {
		return Details{}, err
	}
	defer s.release(ctx, calls)
	channel := st.channel
	if !st.hasChannel {
		// GetChannel first, outside the lock: it waits for the
		// reservation's first slot, proves the channel exists and
		// refreshes the ingest endpoint, which may have changed since it
		// was stored.
		if channel, err = calls.GetChannel(ctx, show.ChannelARN); err != nil {
			return Details{}, ivsFailure(ErrChannelUnavailable, "get channel", err)
		}
	} else if err := calls.Ready(ctx); err != nil {
		return Details{}, lockFailure(err)
	}
	if show.StreamKeyARN != "" {
		key, ok := st.key, st.hasKey
		if !ok {
			if key, ok, err = s.readKey(ctx, calls, show.StreamKeyARN, show.ChannelARN); err != nil {
				return Details{}, err
			}
		}
		if ok {
			if err := s.keepRead(ctx, show, key, !st.hasKey, channel, !st.hasChannel); err != nil {
				return Details{}, err
			}
			return s.handOut(ctx, show, channel, key, ActionGet), nil
		}
		// The recorded key is gone: the creation follows, reserved
		// before the lock.
		if calls, err = s.reserveSection(ctx, calls, show, p, !st.hasChannel); err != nil {
			return Details{}, err
		}
		defer s.release(ctx, calls)
	}
	// Only a seller's own request counts its creation against the seller's
	// hourly limit: the service's renewals and operators' commands do not.
	exempt := p != Interactive
	key, action, err := s.keyUnderLock(ctx, calls, show, channel, !st.hasChannel, exempt, true)
	for i := 1; errors.Is(err, errSlotMissed); i++ {
		if calls, err = s.requeue(ctx, calls); err != nil {
			return Details{}, err
		}
		defer s.release(ctx, calls)
		key, action, err = s.keyUnderLock(ctx, calls, show, channel, !st.hasChannel, exempt, i < slotRequeues)
	}
	if err != nil {
		return Details{}, lockFailure(err)
	}
	return s.handOut(ctx, show, channel, key, action), nil
}

// keepRead stores, before the answer that carries it leaves, what a
// resolution read from IVS for a show whose key is recorded: the key's value
// when it was read, the channel (and the show's ingest endpoint) when it
// was.
func (s *Service) keepRead(ctx context.Context, show Show, key StreamKey, keyRead bool, ch Channel, chRead bool) error {
	if chRead && show.IngestEndpoint != ch.IngestEndpoint {
		if err := s.store.SetIngestEndpoint(ctx, show.ID, ch.IngestEndpoint); err != nil {
			return fmt.Errorf("record ingest endpoint: %w", err)
		}
	}
	var k *StreamKey
	var c *Channel
	if keyRead {
		k = &key
	}
	if chRead {
		c = &ch
	}
	return s.keep(ctx, s.store, k, c)
}

// reserveSection gives back what is left of calls and reserves the calls of
// a creation section: CreateStreamKey, after ListStreamKeys when the channel
// was fresh (read by GetChannel just now, not stored). It waits for the
// first slot outside any lock. The caller releases the calls it returns.
func (s *Service) reserveSection(ctx context.Context, calls Calls, show Show, p Priority, fresh bool) (Calls, error) {
	s.release(ctx, calls)
	n := 1
	if fresh {
		n = 2
	}
	next, err := s.reserve(ctx, show, n, p)
	if err != nil {
		return nil, err
	}
	if err := next.Ready(ctx); err != nil {
		s.release(ctx, next)
		return nil, lockFailure(err)
	}
	return next, nil
}

// errSlotMissed ends a channel section that got the lock after the slot of
// its first IVS call had passed (it waited for the lock, a connection): it
// gives the lock back, makes no call, and its step queues again for slots
// outside the lock. Why: under the lock the call could only wait
// lockedSlotWait for another slot, and in a burst the budget is booked
// further ahead than that, so the seller would get a 503 for a delay of a
// few milliseconds (the bench's burst of first fetches lost one request of
// 100 this way).
var errSlotMissed = errors.New("the IVS call slot passed while waiting for the channel lock")

// slotRequeues bounds how often one step queues again after missing its
// slot; the last attempt makes its calls whatever happens.
const slotRequeues = 3

// keyUnderLock finds the show's key, or creates it (exempt from the seller's
// hourly limit when exempt), under its channel's lock, and records it with
// the channel's ingest endpoint, and stores its value (and the channel when
// fresh, read by GetChannel just now) in the same transaction. action is
// ActionCreate when it created the key, ActionGet otherwise. With requeue,
// a section whose first call's slot has passed when it gets the lock ends
// with errSlotMissed, having done nothing.
func (s *Service) keyUnderLock(ctx context.Context, calls Calls, show Show, channel Channel, fresh, exempt, requeue bool) (key StreamKey, action Action, err error) {
	action = ActionGet
	err = s.store.WithChannelLock(ctx, show.ChannelARN, func(tx ChannelTx) error {
		calls.Hold(lockedSlotWait)
		if err := checkBound(ctx, tx, show, false); err != nil {
			return err
		}
		if requeue && calls.Missed() {
			return errSlotMissed
		}
		// Another request, maybe on another replica, may have recorded a
		// key while this one waited for the lock.
		k, ok, err := s.recordedByOthers(ctx, calls, tx, show)
		if err == nil && !ok && fresh {
			// The channel's key made elsewhere is looked for first: the
			// GetChannel just made says the channel exists.
			k, ok, err = s.keyOfChannel(ctx, calls, show.ChannelARN)
		}
		if err == nil && !ok {
			var created bool
			if k, created, err = s.createKey(ctx, calls, tx, show, exempt); created {
				action = ActionCreate
			}
		}
		if err != nil {
			return err
		}
		key = k
		if err := tx.RecordStreamKey(ctx, show.ID, k.ARN, channel.IngestEndpoint); err != nil {
			return err
		}
		var ch *Channel
		if fresh {
			ch = &channel
		}
		return s.keep(ctx, tx, &k, ch)
	})
	return key, action, err
}

// recordedByOthers returns the key another section recorded for the show
// since it was read (ok false when there is none, or it no longer exists).
func (s *Service) recordedByOthers(ctx context.Context, calls Calls, tx ChannelTx, show Show) (StreamKey, bool, error) {
	recorded, err := tx.StreamKeyARN(ctx, show.ID)
	if err != nil {
		return StreamKey{}, false, fmt.Errorf("read recorded key: %w", err)
	}
	if recorded == "" || recorded == show.StreamKeyARN {
		return StreamKey{}, false, nil
	}
	return s.readKey(ctx, calls, recorded, show.ChannelARN)
}

// readKey reads a key by ARN. ok is false when the key no longer exists or
// belongs to another channel than channelARN.
func (s *Service) readKey(ctx context.Context, calls Calls, keyARN, channelARN string) (StreamKey, bool, error) {
	key, err := calls.GetStreamKey(ctx, keyARN)
	switch {
	case errors.Is(err, ErrIVSNotFound):
		s.keys.forget(keyARN)
		s.logger.InfoContext(ctx, "stored stream key no longer exists in IVS", "stream_key_arn", keyARN)
		return StreamKey{}, false, nil
	case err != nil:
		return StreamKey{}, false, ivsFailure(ErrStreamKeyUnavailable, "get stream key", err)
	case key.ChannelARN != channelARN:
		s.logger.InfoContext(ctx, "stored stream key belongs to another channel",
			"stream_key_arn", keyARN, "key_channel_arn", key.ChannelARN, "channel_arn", channelARN)
		return StreamKey{}, false, nil
	}
	return key, true, nil
}

// keyOfChannel returns the channel's first readable key; ok is false when it
// has none.
func (s *Service) keyOfChannel(ctx context.Context, calls Calls, channelARN string) (StreamKey, bool, error) {
	arns, err := calls.ListStreamKeys(ctx, channelARN)
	if err != nil {
		return StreamKey{}, false, ivsFailure(ErrStreamKeyUnavailable, "list stream keys", err)
	}
	for _, arn := range arns {
		if k, ok, err := s.readKey(ctx, calls, arn, channelARN); err != nil || ok {
			return k, ok, err
		}
	}
	return StreamKey{}, false, nil
}

// createKey creates the key of show's channel, within the seller's hourly
// limit unless exempt (the service's own renewals and operators' commands),
// counted in the section tx so that it commits with the key's record. The
// caller holds the channel's lock, so within the replicas sharing the store
// this is the only creator; a creator outside them (the console, a script)
// shows up as a quota error, and its key is then adopted instead: created is
// false then.
func (s *Service) createKey(ctx context.Context, calls Calls, tx ChannelTx, show Show, exempt bool) (StreamKey, bool, error) {
	var creation int64
	if !exempt {
		var err error
		if creation, err = s.reserveCreation(ctx, tx, show); err != nil {
			return StreamKey{}, false, err
		}
	}
	key, created, err := s.createOrAdopt(ctx, calls, show.ChannelARN)
	if err != nil {
		return StreamKey{}, false, err // the section rolls back, and the count with it
	}
	if !created && creation != 0 {
		// The key was adopted: the seller made no creation.
		if err := tx.CancelKeyCreation(ctx, creation); err != nil {
			return StreamKey{}, false, fmt.Errorf("cancel key creation: %w", err)
		}
	}
	return key, created, nil
}

// createOrAdopt creates a key on channelARN, or adopts the one a creator
// outside the lock (the console, a script) made first, which IVS reports as
// its key quota: created is false then.
func (s *Service) createOrAdopt(ctx context.Context, calls Calls, channelARN string) (key StreamKey, created bool, err error) {
	k, err := calls.CreateStreamKey(ctx, channelARN)
	if errors.Is(err, ErrIVSKeyQuota) {
		s.logger.InfoContext(ctx, "channel got a key from elsewhere; reading it", "channel_arn", channelARN)
		k, ok, err := s.keyOfChannel(ctx, calls, channelARN)
		if err == nil && !ok {
			err = ivsFailure(ErrStreamKeyUnavailable, "create stream key", ErrIVSKeyQuota)
		}
		return k, false, err
	}
	if errors.Is(err, ErrIVSNotFound) {
		// The channel is gone: the answer a GetChannel would have given.
		return StreamKey{}, false, ivsFailure(ErrChannelUnavailable, "create stream key", err)
	}
	if err != nil {
		return StreamKey{}, false, ivsFailure(ErrStreamKeyUnavailable, "create stream key", err)
	}
	s.logger.InfoContext(ctx, "created stream key", "channel_arn", channelARN, "stream_key_arn", k.ARN)
	return k, true, nil
}

// details is what a seller gets for show: its channel's ingest and key.
func details(show Show, ch Channel, key StreamKey, action Action) Details {
	return Details{IngestEndpoint: ch.IngestEndpoint, StreamKey: key.Value, SRT: ch.SRT, Action: action,
		StreamKeyARN: key.ARN, SellerID: show.SellerID}
}

// handOut caches key read or made through IVS, notes when it was first seen,
// and returns show's details with it.
func (s *Service) handOut(ctx context.Context, show Show, ch Channel, key StreamKey, action Action) Details {
	s.keys.put(key, ch.SRT, s.now())
	s.noteSeen(ctx, key)
	return details(show, ch, key, action)
}

// noteSeen records when key was first seen, for its age. A failure only
// delays the ageing, so it is logged, not returned.
func (s *Service) noteSeen(ctx context.Context, key StreamKey) {
	if err := s.store.NoteKeySeen(ctx, key.ARN, key.ChannelARN); err != nil {
		s.logger.WarnContext(ctx, "could not record when a key was first seen", "stream_key_arn", key.ARN, "error", err.Error())
	}
}
