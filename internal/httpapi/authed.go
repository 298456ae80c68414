package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/limit"
	"github.com/ivs-ingest/ivs-ingest/internal/logging"
)

// exchange is what one authenticated request did: the makings of its one
// audit row. authed makes it and writes the row; the handler, which is
// passed it, says what the request was about and what came of it.
type exchange struct {
	requestID string
	caller    ingest.Caller
	clientIP  string
	userAgent string

	// action is the one asked for, until the handler names the one done
	// (a get that created the key is a create).
	action       ingest.Action
	showID       string
	impersonated string // the seller an admin acts as
	sellerID     string // the show's seller, once known
	keyARN       string
	reason       string // a revocation's
	// auditedBy is the request id of the row the domain wrote with its
	// change (a rotation, a renewal, a revocation): when it is this
	// request's, the row is written and authed writes no second one.
	auditedBy string
	// refusalOnRecord marks a refusal by the per-user request limit that
	// writes no row: the user's first refusal this minute did.
	refusalOnRecord bool
	// admitted is the request's place past the admission gate, given to
	// the domain as its ingest.Waiter.
	admitted *admitted
}

// entry is the exchange's audit row as far as it is known: the domain
// completes it when it writes the row with its change.
func (x *exchange) entry() ingest.AuditEntry {
	return ingest.AuditEntry{
		RequestID:            x.requestID,
		Action:               x.action,
		ActorUserID:          x.caller.UserID,
		ImpersonatedSellerID: x.impersonated,
		SellerID:             x.sellerID,
		ShowID:               x.showID,
		StreamKeyARN:         x.keyARN,
		ClientIP:             x.clientIP,
		UserAgent:            x.userAgent,
		Reason:               x.reason,
	}
}

// userHandler answers an authenticated request with the value authed
// writes as its JSON answer, filling in x as it learns what the request did.
type userHandler func(r *http.Request, x *exchange) (answer any, err error)

// authed waits for a place past the admission gate, authenticates the
// request and runs h, then writes the request's one audit row (its outcome
// from h's error), and only once the row is durable the answer: no stream
// key leaves without its row. A request whose token does not verify, or
// that found no place in time, gets no row (it names no one), and its error
// is answered as it is.
func (s *server) authed(action ingest.Action, h userHandler) handlerFunc {
	work := s.authedWork(action, h)
	return func(w http.ResponseWriter, r *http.Request) error {
		admitted, err := s.admission.enter(r.Context())
		if err != nil {
			return err
		}
		defer admitted.leave()
		return onOwnStack(func() error { return work(w, r, admitted) })
	}
}

// authedWork is what authed does once admitted.
func (s *server) authedWork(action ingest.Action, h userHandler) func(http.ResponseWriter, *http.Request, *admitted) error {
	return func(w http.ResponseWriter, r *http.Request, admitted *admitted) error {
		ctx := r.Context()
		ip := s.clientIPs.of(r)
		caller, err := s.authenticate(r, ip)
		if err != nil {
			return err
		}
		x := &exchange{
			requestID: logging.RequestID(ctx),
			caller:    caller,
			clientIP:  ip,
			userAgent: truncate(r.UserAgent(), 256),
			action:    action,
			admitted:  admitted,
		}
		line := logLineOf(ctx)
		line.userID = caller.UserID
		returned := false
		defer func() {
			line.showID = x.showID
			if returned {
				return
			}
			// h panicked: recoverPanics answers 500, and the row is owed
			// all the same (but for an abort, which answers nothing).
			v := recover()
			if v == nil {
				return // runtime.Goexit
			}
			if v != http.ErrAbortHandler {
				s.auditFailure(ctx, x, http.StatusInternalServerError)
			}
			panic(v)
		}()

		var answer any
		err = s.admit(ctx, x)
		if err == nil {
			answer, err = h(r, x)
		}
		returned = true
		if err != nil {
			// A change that failed part way wrote its row with what it did.
			var audited *ingest.AuditedError
			if errors.As(err, &audited) {
				x.auditedBy = audited.RequestID
			}
			// A refusal about someone else's show names the show's seller.
			if seller, ok := ingest.DeniedSeller(err); ok && x.sellerID == "" {
				x.sellerID = seller
			}
			status, _ := statusOf(err)
			s.auditFailure(ctx, x, status)
			return err
		}
		if err := s.audit(ctx, x, http.StatusOK); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, answer)
		return nil
	}
}

// auditFailure writes the row of an exchange answered with an error status.
// The answer is the error whatever happens to the row, so a failure to
// write it is logged, not answered.
func (s *server) auditFailure(ctx context.Context, x *exchange, status int) {
	if err := s.audit(ctx, x, status); err != nil {
		s.logger.ErrorContext(ctx, "audit row not written", "error", err.Error())
	}
}

// audit writes x's audit row with the answer's status, unless the row is
// not owed: the domain wrote it, or it is a repeated refusal by the per-user
// limit (see requestLimits.auditRefusal).
func (s *server) audit(ctx context.Context, x *exchange, status int) error {
	if (x.auditedBy != "" && x.auditedBy == x.requestID) || x.refusalOnRecord {
		return nil
	}
	e := x.entry()
	e.HTTPStatus, e.Outcome = status, outcomeOf(status)
	// Why detached: the row is owed even when the client hung up or the
	// request ran out of time.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return s.ingest.WriteAudit(ctx, e)
}

// authenticate applies the per-IP request limit to the client's address ip
// and verifies the request's bearer token: both before any database work
// (but for the limit's own, in AWS Lambda mode).
func (s *server) authenticate(r *http.Request, ip string) (ingest.Caller, error) {
	ctx := r.Context()
	if !s.limits.ip.Rate().Unlimited() {
		if err := s.limits.ip.Take(ctx, limitKeyOfIP(ip), 1); err != nil {
			return ingest.Caller{}, err
		}
	}
	token, err := bearerToken(r)
	if err != nil {
		return ingest.Caller{}, err
	}
	c, err := s.authn.Verify(ctx, token)
	if err != nil {
		return ingest.Caller{}, err
	}
	return ingest.Caller{UserID: c.UserID, SessionID: c.SessionID, AAL: ingest.AssuranceLevel(c.AAL)}, nil
}

// admit asks the domain what x's caller's token alone allows (the MFA
// gate), then applies the per-user request limit: in the error table's
// order, so a caller without the second factor is told so, not to slow
// down. Why a refused caller is still counted against the limit: the
// refusal costs an audit row, and a flood of them must not cost a write per
// request; over the limit, such refusals are on record once a minute, as
// the limit's own are, and answer the gate's 403 all the same.
func (s *server) admit(ctx context.Context, x *exchange) error {
	if err := s.ingest.Admit(x.caller, x.action); err != nil {
		_ = s.limitUser(ctx, x)
		return err
	}
	return s.limitUser(ctx, x)
}

// limitUser applies the per-user request limit to x's caller, before any
// database work but the limit's own. Its refusal is audited like any other,
// but only once a minute per user.
func (s *server) limitUser(ctx context.Context, x *exchange) error {
	err := s.limits.user.Take(ctx, x.caller.UserID, 1)
	if errors.Is(err, limit.ErrLimited) && !s.limits.auditRefusal(ctx, x.caller.UserID) {
		x.refusalOnRecord = true
		s.metrics.RefusalNotAudited()
	}
	return err
}

// bearerToken returns the request's bearer token (the scheme in any case).
func bearerToken(r *http.Request) (string, error) {
	header := strings.TrimSpace(r.Header.Get("Authorization"))
	if header == "" {
		return "", errMissingAuth
	}
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", errMalformedAuth
	}
	return token, nil
}
