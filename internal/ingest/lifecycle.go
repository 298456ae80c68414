package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	// GetChannel, ListStreamKeys, DeleteStreamKey, StopStream, CreateStreamKey.
	ctx, err = s.reserveCalls(ctx, 5)
	if err != nil {
		return Details{}, err
	}
	channel, err := s.ivs.GetChannel(ctx, show.ChannelARN)
	if err != nil {
		return Details{}, ivsFailure(ErrChannelUnavailable, "get channel", err)
	}
	var key StreamKey
	err = s.store.WithChannelLock(ctx, show.ChannelARN, func(tx ChannelTx) (err error) {
		// The limit is checked before anything is deleted: a refused
		// rotation leaves the current key working.
		done, err := s.reserveCreation(ctx, show)
		if err != nil {
			return err
		}
		created := false
		defer func() { done(created) }()
		if err := s.deleteKeys(ctx, tx, show); err != nil {
			return err
		}
		k, created, err := s.createReserved(ctx, show, func() (StreamKey, bool, error) {
			// A creator outside the lock was quicker: its key is as new.
			return s.firstKey(ctx, show.ChannelARN)
		})
		if err != nil {
			return err
		}
		key = k
		return tx.RecordStreamKey(ctx, show.ID, k.ARN, channel.IngestEndpoint)
	})
	if err != nil {
		return Details{}, lockFailure(err)
	}
	s.keys.put(key, channel.SRT, s.now())
	s.logger.InfoContext(ctx, "rotated stream key", "show_id", show.ID, "stream_key_arn", key.ARN)
	return Details{IngestEndpoint: channel.IngestEndpoint, StreamKey: key.Value, SRT: channel.SRT,
		Action: ActionRotate, StreamKeyARN: key.ARN, SellerID: show.SellerID}, nil
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

// ReadAudit returns the audit trail of showID (every show when "", for
// admins only), newest first. Admins may read any show's; sellers their own
// shows', whatever their status.
func (s *Service) ReadAudit(ctx context.Context, caller Caller, q AuditQuery) ([]AuditEntry, error) {
	showID := q.ShowID
	if showID == "" {
		// Any id that matches no show: the facts still say who the caller is.
		showID = "00000000-0000-0000-0000-000000000000"
	}
	facts, err := s.store.Authorize(ctx, AuthzQuery{UserID: caller.UserID, SessionID: caller.SessionID, ShowID: showID})
	if err != nil {
		return nil, fmt.Errorf("authorize: %w", err)
	}
	switch {
	case !facts.SessionActive:
		return nil, ErrSessionEnded
	case facts.IsAdmin:
	case q.ShowID == "":
		return nil, ErrAuditForbidden
	case facts.Seller == nil:
		return nil, ErrSellerNotFound
	case facts.Show == nil:
		return nil, ErrShowNotFound
	case facts.Show.SellerID != facts.Seller.ID:
		return nil, ErrNotShowOwner
	}
	entries, err := s.store.ReadAudit(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	return entries, nil
}

// WriteAudit records e in the audit trail, durably, before it returns.
func (s *Service) WriteAudit(ctx context.Context, e AuditEntry) error {
	if err := s.store.WriteAudit(ctx, e); err != nil {
		return fmt.Errorf("write audit: %w", err)
	}
	return nil
}

// lockFailure names a section that ran out of time waiting for the lock or
// for IVS as what it is to the caller: the key could not be had.
func lockFailure(err error) error {
	if errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrStreamKeyUnavailable) {
		return fmt.Errorf("%w: %w", ErrStreamKeyUnavailable, err)
	}
	return err
}
