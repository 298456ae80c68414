package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/budget"
)

// RotateStreamKey replaces the show's key: it deletes the old one, stops the
// channel's live stream (after the delete, so the encoder cannot reconnect
// with the old key), creates a new key and records it, with the request's
// audit row. It runs under the same channel lock as the first creation, so
// it never races one. If it fails after the delete, the clearing commits
// (with an audit row saying so), and the next IngestDetails creates a key:
// nothing is left stuck.
//
// Who may rotate is who may get the key: the approved owner, or an admin
// impersonating the owner. The seller's hourly creation limit is checked
// before any IVS call is reserved.
func (s *Service) RotateStreamKey(ctx context.Context, req Request) (Details, error) {
	show, err := s.authorize(ctx, req)
	if err != nil {
		return Details{}, err
	}
	if err := s.creationWait(ctx, show); err != nil {
		return Details{}, err
	}
	q := req.authzQuery()
	check := func(ctx context.Context, tx ChannelTx) error {
		return reauthorize(ctx, tx, q, func(f AuthzFacts) (Show, error) { return mayGetKey(f, req.ImpersonateSellerID != "") }, show)
	}
	return s.rotate(ctx, show, ActionRotate, budget.Interactive, req.Audit, check)
}

// rotate replaces show's key; action says why (ActionRotate, ActionExpire)
// and p who pays for the IVS calls. audit is the row to complete and write
// with the change. check, when not nil, decides under the lock whether the
// rotation may still go ahead (a request's authorization, run again); the
// service's own rotations check that the show is still bound to its seller
// and channel.
func (s *Service) rotate(ctx context.Context, show Show, action Action, p budget.Priority, audit AuditEntry,
	check func(context.Context, ChannelTx) error) (Details, error) {
	if check == nil {
		check = func(ctx context.Context, tx ChannelTx) error { return s.checkBound(ctx, tx, show, false) }
	}
	// GetChannel, ListStreamKeys, DeleteStreamKey, StopStream, CreateStreamKey.
	ctx, release, err := s.reserveCalls(ctx, show, 5, p)
	if err != nil {
		return Details{}, err
	}
	defer release()
	channel, err := s.ivs.GetChannel(ctx, show.ChannelARN)
	if err != nil {
		return Details{}, ivsFailure(ErrChannelUnavailable, "get channel", err)
	}
	audit.Action, audit.SellerID, audit.ShowID = action, show.SellerID, show.ID
	var (
		key       StreamKey
		createErr error // a failure after the delete, which must not undo the clearing
	)
	err = s.store.WithChannelLock(ctx, show.ChannelARN, func(tx ChannelTx) (err error) {
		hold(ctx)
		if err := check(ctx, tx); err != nil {
			return err
		}
		if action == ActionExpire {
			// Concurrent requests for an expired key all come here: the
			// first rotates, the others take its key.
			if k, ok, err := s.recordedByOthers(ctx, tx, show); err != nil || ok {
				key, action = k, ActionGet
				return err
			}
		}
		// The limit is counted before anything is deleted: a refused
		// rotation leaves the current key working. Expiry is the
		// service's own doing and is not counted against the seller.
		var creation int64
		if action == ActionRotate && p == budget.Interactive {
			if creation, err = s.reserveCreation(ctx, tx, show); err != nil {
				return err
			}
		}
		// failed commits what a rotation that failed after deleting did:
		// the clearing, so that no replica keeps handing out the deleted
		// key from its cache (the recorded ARN is authoritative) and the
		// next get creates a key, with the row that says so.
		failed := func(cause error) error {
			createErr = cause
			if creation != 0 {
				if err := tx.CancelKeyCreation(ctx, creation); err != nil {
					return err
				}
			}
			if err := tx.RecordStreamKey(ctx, show.ID, "", channel.IngestEndpoint); err != nil {
				return err
			}
			row := audit
			row.Outcome, row.HTTPStatus, row.StreamKeyARN = OutcomeError, failedChangeStatus(cause), ""
			return tx.WriteAudit(ctx, row)
		}
		if _, deleted, err := s.deleteKeys(ctx, tx, show); err != nil {
			if deleted {
				return failed(err)
			}
			return err
		}
		k, err := s.ivs.CreateStreamKey(ctx, show.ChannelARN)
		if errors.Is(err, ErrIVSKeyQuota) {
			// A creator outside the lock was quicker: its key is as new.
			var ok bool
			if k, ok, err = s.keyOfChannel(ctx, show.ChannelARN); err == nil && !ok {
				err = ErrIVSKeyQuota
			}
		}
		if err != nil {
			return failed(ivsFailure(ErrStreamKeyUnavailable, "create stream key", err))
		}
		key = k
		if err := tx.RecordStreamKey(ctx, show.ID, k.ARN, channel.IngestEndpoint); err != nil {
			return err
		}
		done := audit
		done.Action, done.Outcome, done.HTTPStatus, done.StreamKeyARN = action, OutcomeAllowed, 200, k.ARN
		return tx.WriteAudit(ctx, done)
	})
	if err != nil {
		return Details{}, lockFailure(err)
	}
	if createErr != nil {
		return Details{}, &AuditedError{Err: createErr, RequestID: audit.RequestID}
	}
	s.keys.put(key, channel.SRT, s.now())
	s.noteSeen(ctx, key)
	d := Details{IngestEndpoint: channel.IngestEndpoint, StreamKey: key.Value, SRT: channel.SRT,
		Action: action, StreamKeyARN: key.ARN, SellerID: show.SellerID}
	if action != ActionGet {
		s.logger.InfoContext(ctx, "rotated stream key", "show_id", show.ID, "stream_key_arn", key.ARN, "action", string(action))
		d.AuditedBy = audit.RequestID
	}
	return d, nil
}

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
	live, err := s.live(ctx, show, budget.Background)
	if err != nil {
		s.logger.WarnContext(ctx, "expired key kept: could not tell whether the channel is live", "show_id", show.ID, "error", err.Error())
		return Details{}, false
	}
	if live {
		return Details{}, false
	}
	d, err = s.rotate(ctx, show, ActionExpire, budget.Background, audit, nil)
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
func (s *Service) live(ctx context.Context, show Show, p budget.Priority) (bool, error) {
	s.liveMu.Lock()
	until, ok := s.liveUntil[show.ChannelARN]
	s.liveMu.Unlock()
	if ok && s.now().Before(until) {
		return true, nil
	}
	ctx, release, err := s.reserveCalls(ctx, show, 1, p)
	if err != nil {
		return false, err
	}
	defer release()
	live, err := s.ivs.Live(ctx, show.ChannelARN)
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
	// Audit is the request's audit row as the transport knows it; the
	// revocation writes it, completed, in its own transaction.
	Audit AuditEntry
}

// Revoked reports a revocation.
type Revoked struct {
	SellerID     string
	StreamKeyARN string // the revoked key; "" when the show had none
	// AuditedBy is the request id whose audit row the revocation wrote.
	AuditedBy string
}

// RevokeStreamKey deletes the show's key, stops any live stream, and clears
// the recorded key, with the request's audit row; the owner's next
// IngestDetails creates a fresh one. See mayRevoke for who may. Revocation
// is limited only per show (RevokeInterval, admins exempt): the seller's
// creation limit never stands in the way of killing a leaked key.
func (s *Service) RevokeStreamKey(ctx context.Context, req RevokeRequest) (_ Revoked, err error) {
	q := AuthzQuery{UserID: req.Caller.UserID, SessionID: req.Caller.SessionID, ShowID: req.ShowID}
	facts, err := s.store.Authorize(ctx, q)
	if err != nil {
		return Revoked{}, fmt.Errorf("authorize: %w", err)
	}
	show, err := mayRevoke(facts)
	if err != nil {
		return Revoked{}, err
	}
	// An admin's revocation is an operator's act: neither limited per show
	// nor charged to the seller's share of the IVS budget.
	p := budget.Interactive
	if facts.IsAdmin {
		p = budget.Batch
	} else {
		if err := s.revocations.Take(ctx, show.ID, 1); err != nil {
			return Revoked{}, err
		}
		// A revocation that did not go through may be tried again at
		// once: the limit counts revocations, not attempts.
		defer func() {
			if err == nil {
				return
			}
			if gerr := s.revocations.Give(context.WithoutCancel(ctx), show.ID, 1); gerr != nil {
				s.logger.WarnContext(ctx, "revocation limit not given back", "error", gerr.Error())
			}
		}()
	}
	// ListStreamKeys, DeleteStreamKey, StopStream.
	ctx, release, err := s.reserveCalls(ctx, show, 3, p)
	if err != nil {
		return Revoked{}, err
	}
	defer release()
	if err := ready(ctx); err != nil {
		return Revoked{}, lockFailure(err)
	}
	audit := req.Audit
	audit.Action, audit.Outcome, audit.HTTPStatus = ActionRevoke, OutcomeAllowed, 200
	audit.SellerID, audit.ShowID, audit.Reason = show.SellerID, show.ID, req.Reason
	out := Revoked{SellerID: show.SellerID, AuditedBy: audit.RequestID}
	var partial error // a failure after a key was deleted, which must not undo the clearing
	err = s.store.WithChannelLock(ctx, show.ChannelARN, func(tx ChannelTx) error {
		hold(ctx)
		if err := reauthorize(ctx, tx, q, mayRevoke, show); err != nil {
			return err
		}
		recorded, deleted, err := s.deleteKeys(ctx, tx, show)
		out.StreamKeyARN, audit.StreamKeyARN = recorded, recorded
		if err != nil && !deleted {
			return err
		}
		if err != nil {
			partial = err
			audit.Outcome, audit.HTTPStatus = OutcomeError, failedChangeStatus(err)
		}
		if err := tx.RecordStreamKey(ctx, show.ID, "", show.IngestEndpoint); err != nil {
			return err
		}
		return tx.WriteAudit(ctx, audit)
	})
	if err != nil {
		return Revoked{}, lockFailure(err)
	}
	if partial != nil {
		return Revoked{}, &AuditedError{Err: partial, RequestID: audit.RequestID}
	}
	s.logger.InfoContext(ctx, "revoked stream key", "show_id", show.ID, "stream_key_arn", out.StreamKeyARN)
	return out, nil
}

// failedChangeStatus is the HTTP status the audit row of a change that
// failed part way records: the transport answers such errors
// (ErrStreamKeyUnavailable, or the IVS budget running out) with it.
func failedChangeStatus(err error) int {
	if errors.Is(err, budget.ErrExhausted) {
		return 503
	}
	return 500
}

// deleteKeys deletes every key of the show's channel, the recorded one
// included, then stops the channel's live stream, and returns the key ARN the
// show had recorded ("" for none). deleted says whether a key may be gone
// (a delete was attempted), which a failure must then commit. The caller
// holds the channel's lock.
func (s *Service) deleteKeys(ctx context.Context, tx ChannelTx, show Show) (recorded string, deleted bool, err error) {
	recorded, err = tx.StreamKeyARN(ctx, show.ID)
	if err != nil {
		return "", false, fmt.Errorf("read recorded key: %w", err)
	}
	arns, err := s.ivs.ListStreamKeys(ctx, show.ChannelARN)
	if err != nil && !errors.Is(err, ErrIVSNotFound) {
		return recorded, false, ivsFailure(ErrStreamKeyUnavailable, "list stream keys", err)
	}
	if recorded != "" && !slices.Contains(arns, recorded) {
		arns = append(arns, recorded)
	}
	for _, arn := range arns {
		s.keys.forget(arn)
		deleted = true
		if err := s.ivs.DeleteStreamKey(ctx, arn); err != nil && !errors.Is(err, ErrIVSNotFound) {
			return recorded, deleted, ivsFailure(ErrStreamKeyUnavailable, "delete stream key", err)
		}
	}
	// After the delete, so the encoder cannot reconnect with the old key.
	if err := s.ivs.StopStream(ctx, show.ChannelARN); err != nil &&
		!errors.Is(err, ErrIVSNotBroadcasting) && !errors.Is(err, ErrIVSNotFound) {
		return recorded, deleted, ivsFailure(ErrStreamKeyUnavailable, "stop stream", err)
	}
	return recorded, deleted, nil
}

// lockFailure names a section that ran out of time waiting for the lock or
// for IVS as what it is to the caller: the key could not be had.
func lockFailure(err error) error {
	if errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrStreamKeyUnavailable) {
		return fmt.Errorf("%w: %w", ErrStreamKeyUnavailable, err)
	}
	return err
}
