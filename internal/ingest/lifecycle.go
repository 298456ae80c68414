package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// RotateStreamKey replaces the show's key: it deletes the old one, stops the
// channel's live stream (after the delete, so the encoder cannot reconnect
// with the old key), creates a new key and records it. It runs under the
// same channel lock as the first creation, so it never races one. If it
// fails after the delete, the recorded ARN names a deleted key, which the
// next IngestDetails notices and replaces: nothing is left stuck.
//
// Who may rotate is who may get the key: the approved owner, or an admin
// impersonating the owner.
func (s *Service) RotateStreamKey(ctx context.Context, req Request) (Details, error) {
	show, err := s.authorize(ctx, req)
	if err != nil {
		return Details{}, err
	}
	return s.rotate(ctx, show, ActionRotate)
}

// rotate replaces show's key; action says why (ActionRotate, ActionExpire).
func (s *Service) rotate(ctx context.Context, show Show, action Action) (Details, error) {
	// GetChannel, ListStreamKeys, DeleteStreamKey, StopStream, CreateStreamKey.
	ctx, err := s.reserveCalls(ctx, 5)
	if err != nil {
		return Details{}, err
	}
	channel, err := s.ivs.GetChannel(ctx, show.ChannelARN)
	if err != nil {
		return Details{}, ivsFailure(ErrChannelUnavailable, "get channel", err)
	}
	var (
		key       StreamKey
		createErr error // a failure after the delete, which must not undo the clearing
	)
	err = s.store.WithChannelLock(ctx, show.ChannelARN, func(tx ChannelTx) (err error) {
		if action == ActionExpire {
			// Concurrent requests for an expired key all come here: the
			// first rotates, the others take its key.
			recorded, err := tx.StreamKeyARN(ctx, show.ID)
			if err != nil {
				return fmt.Errorf("read recorded key: %w", err)
			}
			if recorded != "" && recorded != show.StreamKeyARN {
				k, ok, err := s.readKey(ctx, recorded, show.ChannelARN)
				if err != nil || ok {
					key, action = k, ActionGet
					return err
				}
			}
		}
		// The limit is checked before anything is deleted: a refused
		// rotation leaves the current key working. Expiry is the
		// service's own doing and is not counted against the seller.
		done := func(bool) {}
		if action != ActionExpire {
			if done, err = s.reserveCreation(ctx, show); err != nil {
				return err
			}
		}
		created := false
		defer func() { done(created) }()
		if err := s.deleteKeys(ctx, tx, show); err != nil {
			return err
		}
		// Why record the clearing now: if the creation below fails, the
		// section still commits it, so no replica keeps handing out the
		// deleted key from its cache (the recorded ARN is authoritative),
		// and the next get creates a key.
		if err := tx.RecordStreamKey(ctx, show.ID, "", channel.IngestEndpoint); err != nil {
			return err
		}
		k, created, err := s.createReserved(ctx, show, func() (StreamKey, bool, error) {
			// A creator outside the lock was quicker: its key is as new.
			return s.firstKey(ctx, show.ChannelARN)
		})
		if err != nil {
			createErr = err
			return nil
		}
		key = k
		return tx.RecordStreamKey(ctx, show.ID, k.ARN, channel.IngestEndpoint)
	})
	if err == nil {
		err = createErr
	}
	if err != nil {
		return Details{}, lockFailure(err)
	}
	s.keys.put(key, channel.SRT, s.now())
	s.noteSeen(ctx, key)
	s.logger.InfoContext(ctx, "rotated stream key", "show_id", show.ID, "stream_key_arn", key.ARN, "action", string(action))
	return Details{IngestEndpoint: channel.IngestEndpoint, StreamKey: key.Value, SRT: channel.SRT,
		Action: action, StreamKeyARN: key.ARN, SellerID: show.SellerID}, nil
}

// expired reports whether show's key is older than the maximum age.
func (s *Service) expired(show Show) bool {
	return s.maxAge > 0 && show.StreamKeyARN != "" && !show.KeyFirstSeen.IsZero() && s.now().Sub(show.KeyFirstSeen) > s.maxAge
}

// renewExpired rotates show's expired key unless its channel is live: a
// live encoder keeps its key, and the rotation waits for a later request.
// ok is false when the current key stays.
func (s *Service) renewExpired(ctx context.Context, show Show) (d Details, ok bool) {
	live, err := s.live(ctx, show.ChannelARN)
	if err != nil {
		s.logger.WarnContext(ctx, "expired key kept: could not tell whether the channel is live", "show_id", show.ID, "error", err.Error())
		return Details{}, false
	}
	if live {
		return Details{}, false
	}
	d, err = s.rotate(ctx, show, ActionExpire)
	if err != nil {
		// The next request tries again; a rotation that failed after its
		// delete is repaired by the ordinary path.
		s.logger.WarnContext(ctx, "expired key not rotated", "show_id", show.ID, "error", err.Error())
		return Details{}, false
	}
	return d, true
}

// live asks IVS whether the channel is broadcasting, remembering a "live"
// answer for a little while: an expired key of a live channel is asked
// about on every request, within the call budget.
func (s *Service) live(ctx context.Context, channelARN string) (bool, error) {
	s.liveMu.Lock()
	until, ok := s.liveUntil[channelARN]
	s.liveMu.Unlock()
	if ok && s.now().Before(until) {
		return true, nil
	}
	ctx, err := s.reserveCalls(ctx, 1)
	if err != nil {
		return false, err
	}
	live, err := s.ivs.Live(ctx, channelARN)
	if err != nil {
		return false, err
	}
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	if live {
		s.liveUntil[channelARN] = s.now().Add(liveMemory)
	} else {
		delete(s.liveUntil, channelARN)
	}
	return live, nil
}

// liveMemory is how long a "live" answer is trusted.
const liveMemory = 30 * time.Second

// noteSeen records when key was first seen, for its age. A failure only
// delays the ageing, so it is logged, not returned.
func (s *Service) noteSeen(ctx context.Context, key StreamKey) {
	if err := s.store.NoteKeySeen(ctx, key.ARN, key.ChannelARN); err != nil {
		s.logger.WarnContext(ctx, "could not record when a key was first seen", "stream_key_arn", key.ARN, "error", err.Error())
	}
}

// RevokeRequest asks to revoke a show's key.
type RevokeRequest struct {
	Caller Caller
	ShowID string
	Reason string
}

// Revoked reports a revocation.
type Revoked struct {
	SellerID     string
	StreamKeyARN string // the revoked key; "" when the show had none
}

// RevokeStreamKey deletes the show's key, stops any live stream, and clears
// the recorded key; the owner's next IngestDetails creates a fresh one.
// Revocation kills a leaked key; keeping a seller out is what the seller's
// status is for. So the owner may revoke whatever their status, and an
// admin may revoke any show's key without impersonating.
func (s *Service) RevokeStreamKey(ctx context.Context, req RevokeRequest) (Revoked, error) {
	facts, err := s.store.Authorize(ctx, AuthzQuery{UserID: req.Caller.UserID, SessionID: req.Caller.SessionID, ShowID: req.ShowID})
	if err != nil {
		return Revoked{}, fmt.Errorf("authorize: %w", err)
	}
	switch {
	case !facts.SessionActive:
		return Revoked{}, ErrSessionEnded
	case !facts.IsAdmin && facts.Seller == nil:
		return Revoked{}, ErrSellerNotFound
	case facts.Show == nil:
		return Revoked{}, ErrShowNotFound
	case !facts.IsAdmin && facts.Show.SellerID != facts.Seller.ID:
		return Revoked{}, ErrNotShowOwner
	case facts.Show.ChannelARN == "":
		return Revoked{}, ErrNoChannel
	}
	show := *facts.Show
	out := Revoked{SellerID: show.SellerID, StreamKeyARN: show.StreamKeyARN}
	// ListStreamKeys, DeleteStreamKey, StopStream.
	ctx, err = s.reserveCalls(ctx, 3)
	if err != nil {
		return Revoked{}, err
	}
	err = s.store.WithChannelLock(ctx, show.ChannelARN, func(tx ChannelTx) error {
		if err := s.deleteKeys(ctx, tx, show); err != nil {
			return err
		}
		return tx.RecordStreamKey(ctx, show.ID, "", show.IngestEndpoint)
	})
	if err != nil {
		return Revoked{}, lockFailure(err)
	}
	s.logger.InfoContext(ctx, "revoked stream key", "show_id", show.ID, "stream_key_arn", show.StreamKeyARN)
	return out, nil
}

// deleteKeys deletes every key of the show's channel, the recorded one
// included, then stops the channel's live stream. The caller holds the
// channel's lock.
func (s *Service) deleteKeys(ctx context.Context, tx ChannelTx, show Show) error {
	recorded, err := tx.StreamKeyARN(ctx, show.ID)
	if err != nil {
		return fmt.Errorf("read recorded key: %w", err)
	}
	arns, err := s.ivs.ListStreamKeys(ctx, show.ChannelARN)
	if err != nil && !errors.Is(err, ErrIVSNotFound) {
		return ivsFailure(ErrStreamKeyUnavailable, "list stream keys", err)
	}
	if recorded != "" && !slices.Contains(arns, recorded) {
		arns = append(arns, recorded)
	}
	for _, arn := range arns {
		s.keys.forget(arn)
		if err := s.ivs.DeleteStreamKey(ctx, arn); err != nil && !errors.Is(err, ErrIVSNotFound) {
			return ivsFailure(ErrStreamKeyUnavailable, "delete stream key", err)
		}
	}
	// After the delete, so the encoder cannot reconnect with the old key.
	if err := s.ivs.StopStream(ctx, show.ChannelARN); err != nil &&
		!errors.Is(err, ErrIVSNotBroadcasting) && !errors.Is(err, ErrIVSNotFound) {
		return ivsFailure(ErrStreamKeyUnavailable, "stop stream", err)
	}
	return nil
}

// firstKey reads the channel's first listed key.
func (s *Service) firstKey(ctx context.Context, channelARN string) (StreamKey, bool, error) {
	arns, err := s.ivs.ListStreamKeys(ctx, channelARN)
	if err != nil {
		return StreamKey{}, false, ivsFailure(ErrStreamKeyUnavailable, "list stream keys", err)
	}
	for _, arn := range arns {
		if k, ok, err := s.readKey(ctx, arn, channelARN); err != nil || ok {
			return k, ok, err
		}
	}
	return StreamKey{}, false, nil
}

// lockFailure names a section that ran out of time waiting for the lock or
// for IVS as what it is to the caller: the key could not be had.
func lockFailure(err error) error {
	if errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrStreamKeyUnavailable) {
		return fmt.Errorf("%w: %w", ErrStreamKeyUnavailable, err)
	}
	return err
}
