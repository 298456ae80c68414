package ingest

import (
	"context"
	"fmt"
)

// IngestDetails returns the RTMPS endpoint and stream key of the show in req,
// creating the key on first use. The checks run in the order of the error
// rows (see mayGetKey), so the first failing one decides the answer.
//
// A show whose key is cached, or stored with its channel, costs one store
// round trip and no IVS call.
func (s *Service) IngestDetails(ctx context.Context, req Request) (Details, error) {
	if err := mayUseKeys(req.Caller, s.requireMFA); err != nil {
		return Details{}, err
	}
	show, err := s.authorize(ctx, req)
	if err != nil {
		return Details{}, err
	}
	if s.expired(show) {
		if d, renewed, err := s.getRenewed(ctx, req, show); err != nil || renewed {
			return d, err
		}
	}
	if endpoint := NormalizeEndpoint(show.IngestEndpoint); endpoint != "" {
		if v, srt, ok := s.keys.get(show.StreamKeyARN, show.ChannelARN, s.now()); ok {
			s.metrics.KeyCacheLookup(true)
			s.verifyLater(show)
			key := StreamKey{ARN: show.StreamKeyARN, ChannelARN: show.ChannelARN, Value: v}
			return details(show, Channel{IngestEndpoint: endpoint, SRT: srt}, key, ActionGet), nil
		}
	}
	s.metrics.KeyCacheLookup(false)
	// The store's copy, read by the authorization query: no IVS call when
	// both the key and its channel are stored.
	st := s.openStored(ctx, show)
	if st.hasKey && st.hasChannel {
		s.reseal(ctx, show, st)
		s.keys.put(st.key, st.channel.SRT, s.now())
		s.verifyLater(show)
		return details(show, st.channel, st.key, ActionGet), nil
	}
	// The resolution runs in a flight of its own (see flight), which waits
	// for IVS and the channel's lock; this request only waits for it, then
	// authorizes again (store work: its place is taken back first).
	done := waiting(req.Wait)
	d, err := s.resolve(ctx, show, Interactive, st)
	done()
	if err != nil {
		return Details{}, err
	}
	return s.answerAfterWait(ctx, req, show, d)
}

// renewal is the result of renewExpired shared by a flight.
type renewal struct {
	d  Details
	ok bool
}

// getRenewed renews show's expired key, once per show at a time: a burst of
// requests for one expired key asks IVS once. The request that starts the
// renewal writes the rotation's audit row. renewed is false when the current
// key stays (a live channel, or a renewal that failed).
func (s *Service) getRenewed(ctx context.Context, req Request, show Show) (d Details, renewed bool, err error) {
	audit := req.Audit
	done := waiting(req.Wait)
	rn, err := flight(s, ctx, "expire|"+show.ID+"|"+show.StreamKeyARN, func(fctx context.Context) (renewal, error) {
		d, ok := s.renewExpired(fctx, show, audit)
		return renewal{d, ok}, nil
	})
	done()
	if err != nil || !rn.ok {
		return Details{}, false, err
	}
	d, starter := rn.d, rn.d.AuditedBy == req.Audit.RequestID
	if !starter {
		// The renewal is the starter's, on record once; this request got
		// the new key.
		d.Action, d.AuditedBy = ActionGet, ""
	}
	d, err = s.answerAfterWait(ctx, req, show, d)
	if err != nil && starter {
		// The renewal's row is written: no second one.
		return Details{}, true, &AuditedError{Err: err, RequestID: req.Audit.RequestID}
	}
	return d, true, err
}

// authzQuery names the facts authorizing req needs.
func (req Request) authzQuery() AuthzQuery {
	return AuthzQuery{
		UserID:               req.Caller.UserID,
		SessionID:            req.Caller.SessionID,
		ShowID:               req.ShowID,
		ImpersonatedSellerID: req.ImpersonateSellerID,
	}
}

// authorize decides whether req may see the show's key, from facts read in
// one round trip.
func (s *Service) authorize(ctx context.Context, req Request) (Show, error) {
	facts, err := s.store.Authorize(ctx, req.authzQuery())
	if err != nil {
		return Show{}, fmt.Errorf("authorize: %w", err)
	}
	return mayGetKey(facts, req.ImpersonateSellerID != "")
}

// answerAfterWait authorizes req again before details read from IVS leave:
// the request may have waited for the budget, the lock and IVS for long
// enough that the seller was suspended or the show moved meanwhile.
func (s *Service) answerAfterWait(ctx context.Context, req Request, was Show, d Details) (Details, error) {
	now, err := s.authorize(ctx, req)
	if err != nil {
		return Details{}, err
	}
	if !sameBinding(was, now) {
		return Details{}, fmt.Errorf("%w: %w", ErrStreamKeyUnavailable, ErrShowChanged)
	}
	return d, nil
}
