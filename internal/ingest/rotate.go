package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	if err := mayUseKeys(req.Caller, s.requireMFA); err != nil {
		return Details{}, err
	}
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
	// Waits for IVS and the channel's lock as a revocation does (see
	// RevokeStreamKey).
	done := waiting(req.Wait)
	defer done()
	return s.rotate(ctx, show, ActionRotate, Interactive, req.Audit, check)
}

// rotate replaces show's key; action says why (ActionRotate, ActionExpire)
// and p who pays for the IVS calls. audit is the row to complete and write
// with the change. check, when not nil, decides under the lock whether the
// rotation may still go ahead (a request's authorization, run again); the
// service's own rotations check that the show is still bound to its seller
// and channel.
func (s *Service) rotate(ctx context.Context, show Show, action Action, p Priority, audit AuditEntry,
	check func(context.Context, ChannelTx) error) (Details, error) {
	if check == nil {
		check = func(ctx context.Context, tx ChannelTx) error { return checkBound(ctx, tx, show, false) }
	}
	// GetChannel, ListStreamKeys, DeleteStreamKey, StopStream, CreateStreamKey;
	// an expiry stops no stream (see rotation.run).
	n := 5
	if action == ActionExpire {
		n = 4
	}
	calls, err := s.reserve(ctx, show, n, p)
	if err != nil {
		return Details{}, err
	}
	defer s.release(ctx, calls)
	channel, err := calls.GetChannel(ctx, show.ChannelARN)
	if err != nil {
		return Details{}, ivsFailure(ErrChannelUnavailable, "get channel", err)
	}
	audit.Action, audit.SellerID, audit.ShowID = action, show.SellerID, show.ID
	// Expiry is the service's own doing and is not counted against the
	// seller.
	r := &rotation{s: s, calls: calls, show: show, channel: channel, audit: audit, action: action,
		count: action == ActionRotate && p == Interactive}
	err = s.store.WithChannelLock(ctx, show.ChannelARN, func(tx ChannelTx) error {
		calls.Hold(lockedSlotWait)
		if err := check(ctx, tx); err != nil {
			return err
		}
		return r.run(ctx, tx)
	})
	if err != nil {
		return Details{}, lockFailure(err)
	}
	if r.failure != nil {
		return Details{}, &AuditedError{Err: r.failure, RequestID: audit.RequestID}
	}
	d := s.handOut(ctx, show, channel, r.key, r.action)
	if r.action != ActionGet {
		s.logger.InfoContext(ctx, "rotated stream key", "show_id", show.ID, "stream_key_arn", r.key.ARN, "action", string(r.action))
		d.AuditedBy = audit.RequestID
	}
	return d, nil
}

// rotation is a rotation's section under its channel's lock.
type rotation struct {
	s       *Service
	calls   Calls
	show    Show
	channel Channel
	audit   AuditEntry // the row to complete and write with the change
	count   bool       // count the creation against the seller's hourly limit
	// action is the rotation's, or ActionGet when another section renewed
	// an expired key first.
	action   Action
	key      StreamKey // the new key
	creation int64     // the creation counted; 0 for none
	failure  error     // a failure after the delete, which must not undo the clearing
}

func (r *rotation) run(ctx context.Context, tx ChannelTx) (err error) {
	if r.action == ActionExpire {
		// Concurrent requests for an expired key all come here: the
		// first rotates, the others take its key.
		if k, ok, err := r.s.recordedByOthers(ctx, r.calls, tx, r.show); err != nil || ok {
			r.key, r.action = k, ActionGet
			return err
		}
	}
	// The limit is counted before anything is deleted: a refused rotation
	// leaves the current key working.
	if r.count {
		if r.creation, err = r.s.reserveCreation(ctx, tx, r.show); err != nil {
			return err
		}
	}
	// Why an expiry stops no stream: it runs only for a channel believed
	// offline, and a belief (a stored stream state, a GetStream answer)
	// can be late by the time the key is deleted; a stream that started
	// meanwhile goes on, as a live encoder keeps its expired key. The
	// deleted key cannot start another.
	if _, deleted, err := r.s.deleteKeys(ctx, r.calls, tx, r.show, r.action != ActionExpire); err != nil {
		if deleted {
			return r.failed(ctx, tx, err)
		}
		return err
	}
	// A key a creator outside the lock made meanwhile is as new: adopted.
	k, _, err := r.s.createOrAdopt(ctx, r.calls, r.show.ChannelARN)
	if err != nil {
		return r.failed(ctx, tx, err)
	}
	r.key = k
	if err := tx.RecordStreamKey(ctx, r.show.ID, k.ARN, r.channel.IngestEndpoint); err != nil {
		return err
	}
	// Stored with its record, before the new key leaves.
	if err := r.s.keep(ctx, tx, &k, &r.channel); err != nil {
		return err
	}
	done := r.audit
	done.Action, done.Outcome, done.HTTPStatus, done.StreamKeyARN = r.action, OutcomeAllowed, 200, k.ARN
	return tx.WriteAudit(ctx, done)
}

// failed commits what a rotation that failed after deleting did: the
// clearing, so that no replica keeps handing out the deleted key from its
// cache (the recorded ARN is authoritative) and the next get creates a key,
// with the row that says so.
func (r *rotation) failed(ctx context.Context, tx ChannelTx, cause error) error {
	r.failure = cause
	if r.creation != 0 {
		if err := tx.CancelKeyCreation(ctx, r.creation); err != nil {
			return err
		}
	}
	if err := tx.RecordStreamKey(ctx, r.show.ID, "", r.channel.IngestEndpoint); err != nil {
		return err
	}
	row := r.audit
	row.Outcome, row.HTTPStatus, row.StreamKeyARN = OutcomeError, failedChangeStatus(cause), ""
	return tx.WriteAudit(ctx, row)
}

// deleteKeys deletes every key of the show's channel, the recorded one
// included, then, when stop, stops the channel's live stream, and returns the
// key ARN the show had recorded ("" for none). deleted says whether a key may
// be gone (a delete was attempted), which a failure must then commit. The
// caller holds the channel's lock.
func (s *Service) deleteKeys(ctx context.Context, calls Calls, tx ChannelTx, show Show, stop bool) (recorded string, deleted bool, err error) {
	recorded, err = tx.StreamKeyARN(ctx, show.ID)
	if err != nil {
		return "", false, fmt.Errorf("read recorded key: %w", err)
	}
	arns, err := calls.ListStreamKeys(ctx, show.ChannelARN)
	if err != nil && !errors.Is(err, ErrIVSNotFound) {
		return recorded, false, ivsFailure(ErrStreamKeyUnavailable, "list stream keys", err)
	}
	if recorded != "" && !slices.Contains(arns, recorded) {
		arns = append(arns, recorded)
	}
	for _, arn := range arns {
		s.keys.forget(arn)
		deleted = true
		if err := calls.DeleteStreamKey(ctx, arn); err != nil && !errors.Is(err, ErrIVSNotFound) {
			return recorded, deleted, ivsFailure(ErrStreamKeyUnavailable, "delete stream key", err)
		}
	}
	if !stop {
		return recorded, deleted, nil
	}
	// After the delete, so the encoder cannot reconnect with the old key.
	if err := calls.StopStream(ctx, show.ChannelARN); err != nil &&
		!errors.Is(err, ErrIVSNotBroadcasting) && !errors.Is(err, ErrIVSNotFound) {
		return recorded, deleted, ivsFailure(ErrStreamKeyUnavailable, "stop stream", err)
	}
	return recorded, deleted, nil
}
