package ingest

import (
	"context"
	"fmt"
	"time"
)

// RevokeRequest asks to revoke a show's key.
type RevokeRequest struct {
	Caller Caller
	ShowID string
	Reason string
	// Audit is the request's audit row as the transport knows it; the
	// revocation writes it, completed, in its own transaction.
	Audit AuditEntry
	// Wait is told when the revocation waits for IVS or its channel's
	// lock; nil for none.
	Wait Waiter
}

// Revoked reports a revocation.
type Revoked struct {
	SellerID     string
	StreamKeyARN string // the revoked key; "" when the show had none
	// AuditedBy is the request id whose audit row the revocation wrote.
	AuditedBy string
}

// RevokeInterval is the least time between two revocations of one show by
// its owner. Why: each revocation costs three IVS calls and stops the stream;
// an owner has no reason to revoke more often, and admins are exempt.
const RevokeInterval = 10 * time.Second

// LimitRevocations names the per-show revocation limit in its refusals.
const LimitRevocations = "revocations"

// RevokeStreamKey deletes the show's key, stops any live stream, and clears
// the recorded key, with the request's audit row; the owner's next
// IngestDetails creates a fresh one. See mayRevoke for who may. Revocation
// is limited only per show (RevokeInterval, admins exempt): the
// seller's creation limit never stands in the way of killing a leaked key.
func (s *Service) RevokeStreamKey(ctx context.Context, req RevokeRequest) (_ Revoked, err error) {
	if err := mayUseKeys(req.Caller, s.requireMFA); err != nil {
		return Revoked{}, err
	}
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
	// nor charged to the seller's share of the IVS budget. Both wait for
	// IVS as a seller does: someone is waiting for a leaked key to die.
	charged := show.SellerID
	if facts.IsAdmin {
		charged = ""
	} else {
		give, terr := s.takeRevocation(ctx, show)
		if terr != nil {
			return Revoked{}, terr
		}
		// err is the named result: what the revocation returns.
		defer func() {
			if err != nil {
				give()
			}
		}()
	}
	// From the reservation on, the revocation waits for the IVS call
	// budget, then its channel's lock, then IVS, with the lock held: not
	// the work the admission bounds (the lock's transaction holds a pool
	// connection, which the pool bounds). Taken back for the audit row the
	// transport writes when the revocation fails before its own.
	done := waiting(req.Wait)
	defer done()
	return s.revoke(ctx, req, q, show, charged)
}

// takeRevocation counts a revocation of show against its per-show limit,
// and returns give, which gives it back: a revocation that did not go
// through may be tried again at once (the limit counts revocations, not
// attempts).
func (s *Service) takeRevocation(ctx context.Context, show Show) (give func(), err error) {
	if s.revocations == nil {
		return func() {}, nil
	}
	if err := s.revocations.Take(ctx, show.ID, 1); err != nil {
		return nil, err
	}
	return func() {
		if err := s.revocations.Give(context.WithoutCancel(ctx), show.ID, 1); err != nil {
			s.logger.WarnContext(ctx, "revocation limit not given back", "error", err.Error())
		}
	}, nil
}

// revoke runs an authorized revocation: its calls reserved, charged to
// the share of the seller charged ("" for none), and
// their first slot awaited before the lock; under the lock, req's
// authorization q again, then the delete and the clearing with the row.
func (s *Service) revoke(ctx context.Context, req RevokeRequest, q AuthzQuery, show Show, charged string) (Revoked, error) {
	// ListStreamKeys, DeleteStreamKey, StopStream.
	payer := show
	payer.SellerID = charged
	calls, err := s.reserve(ctx, payer, 3, Interactive)
	if err != nil {
		return Revoked{}, err
	}
	defer s.release(ctx, calls)
	if err := calls.Ready(ctx); err != nil {
		return Revoked{}, lockFailure(err)
	}
	audit := req.Audit
	audit.Action, audit.Outcome, audit.HTTPStatus = ActionRevoke, OutcomeAllowed, 200
	audit.SellerID, audit.ShowID, audit.Reason = show.SellerID, show.ID, req.Reason
	out := Revoked{SellerID: show.SellerID, AuditedBy: audit.RequestID}
	var partial error // a failure after a key was deleted, which must not undo the clearing
	err = s.store.WithChannelLock(ctx, show.ChannelARN, func(tx ChannelTx) error {
		calls.Hold(lockedSlotWait)
		if err := reauthorize(ctx, tx, q, mayRevoke, show); err != nil {
			return err
		}
		recorded, deleted, err := s.deleteKeys(ctx, calls, tx, show, true)
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
