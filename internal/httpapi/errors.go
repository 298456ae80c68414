package httpapi

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/auth"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/limit"
	"github.com/ivs-ingest/ivs-ingest/internal/metrics"
	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
)

// Errors of the transport itself.
var (
	errMissingAuth      = errors.New("missing authorization header")
	errMalformedAuth    = errors.New("authorization header is not a bearer token")
	errBodyTooLarge     = errors.New("request body too large")
	errInvalidJSON      = errors.New("invalid json body")
	errShowIDRequired   = errors.New("showId is required")
	errShowIDNotUUID    = errors.New("showId must be a uuid")
	errImpersonateUUID  = errors.New("x-impersonate-seller-id must be a uuid")
	errNotFound         = errors.New("not found")
	errMethodNotAllowed = errors.New("method not allowed")
	errUnavailable      = errors.New("service unavailable")
	errBadLimit         = errors.New("limit out of range")
	errBadCursor        = errors.New("cursor not one the audit read returned")
	errBadSince         = errors.New("since not an rfc 3339 timestamp")
	errBadOutcome       = errors.New("outcome not allowed, denied or error")
	errBadReason        = errors.New("reason is not a short string")
	errMetricsToken     = errors.New("metrics token missing or wrong")
	errEventsToken      = errors.New("events token missing or wrong")
)

// errorTable is the one place that says which status and message each error
// answers with. Order matters: the first entry the error matches wins. An
// error that matches none is an internal error: its details are logged, never
// sent, since they may name internals.
var errorTable = []struct {
	err     error
	status  int
	message string
}{
	{errMetricsToken, http.StatusUnauthorized, "Missing or invalid metrics token"},
	{errEventsToken, http.StatusUnauthorized, "Missing or invalid events token"},
	{errMissingAuth, http.StatusUnauthorized, "Missing authorization header"},
	{errMalformedAuth, http.StatusUnauthorized, "Invalid or expired token"},
	{auth.ErrInvalidToken, http.StatusUnauthorized, "Invalid or expired token"},
	{ingest.ErrSessionEnded, http.StatusUnauthorized, "Invalid or expired token"},
	{auth.ErrUnavailable, http.StatusServiceUnavailable, "Service unavailable"},
	{ingest.ErrMFARequired, http.StatusForbidden, "Multi-factor authentication required"},
	{limit.ErrLimited, http.StatusTooManyRequests, "Too many requests"},
	{ingest.ErrRateLimited, http.StatusTooManyRequests, "Too many requests"},
	{errBodyTooLarge, http.StatusRequestEntityTooLarge, "Request body too large"},
	{errInvalidJSON, http.StatusBadRequest, "Invalid JSON body"},
	// Final: EventBridge does not retry a 400, and a body that is no event
	// would fail the same way every time.
	{streamstatus.ErrMalformed, http.StatusBadRequest, "Malformed event"},
	{errShowIDRequired, http.StatusBadRequest, "showId is required"},
	{errShowIDNotUUID, http.StatusBadRequest, "showId must be a UUID"},
	{errImpersonateUUID, http.StatusBadRequest, "X-Impersonate-Seller-Id must be a UUID"},
	{ingest.ErrImpersonationDenied, http.StatusForbidden, "Only admins can impersonate sellers"},
	{ingest.ErrSellerNotFound, http.StatusForbidden, "Seller profile not found"},
	{ingest.ErrSellerNotApproved, http.StatusForbidden, "Seller not approved"},
	{ingest.ErrShowNotFound, http.StatusNotFound, "Show not found"},
	{ingest.ErrNotShowOwner, http.StatusForbidden, "You do not own this show"},
	{ingest.ErrChannelShared, http.StatusForbidden, "Channel is shared with another seller's show"},
	{ingest.ErrNoChannel, http.StatusBadRequest, "Show does not have IVS channel configured"},
	{ingest.ErrAuditForbidden, http.StatusForbidden, "Only admins can read the audit log of every show"},
	{errBadLimit, http.StatusBadRequest, "limit must be a whole number from 1 to 500"},
	{errBadCursor, http.StatusBadRequest, "cursor must be the nextCursor of an earlier answer, unchanged"},
	{errBadSince, http.StatusBadRequest, "since must be an RFC 3339 timestamp such as 2026-12-01T00:00:00Z"},
	{errBadOutcome, http.StatusBadRequest, "outcome must be allowed, denied or error"},
	{errBadReason, http.StatusBadRequest, "reason must be a string of at most 500 characters, without control or format characters"},
	{ingest.ErrChannelUnavailable, http.StatusInternalServerError, "Failed to retrieve channel details"},
	{ingest.ErrShowChanged, http.StatusConflict, "Show changed during the request; try again"},
	{ingest.ErrStreamKeyUnavailable, http.StatusInternalServerError, "Failed to create stream key"},
	{errNotFound, http.StatusNotFound, "Not found"},
	{errMethodNotAllowed, http.StatusMethodNotAllowed, "Method not allowed"},
	{errUnavailable, http.StatusServiceUnavailable, "Service unavailable"},
	{ingest.ErrIVSBusy, http.StatusServiceUnavailable, "Service unavailable"},
}

// statusOf returns the status and client message for err.
func statusOf(err error) (status int, message string) {
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return e.status, e.message
		}
	}
	return http.StatusInternalServerError, "Internal server error"
}

// wwwAuthenticate is the challenge sent with a 401 (RFC 6750).
func wwwAuthenticate(err error) string {
	if errors.Is(err, errMissingAuth) {
		return "Bearer"
	}
	return `Bearer error="invalid_token"`
}

// handlerFunc is a handler that returns its error, so that handle writes
// every error response in one place.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts h to http.Handler, writing its error, if any.
func (s *server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// writeError answers with err's status and message from errorTable, with
// the Retry-After and the rejection metric of a refusal by a limit, and
// hands err to the request's log line. It writes no audit row: authed has
// written it before the error reaches here.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, message := statusOf(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", wwwAuthenticate(err))
	}
	body := errorBody{Error: message}
	var (
		over    *limit.LimitedError
		limited *ingest.RateLimitedError
		busy    *ingest.BusyError
	)
	switch {
	case errors.As(err, &over):
		s.metrics.Rejected(over.Limit)
		body.RetryAfter = retryAfterSeconds(over.RetryAfter)
	case errors.As(err, &limited):
		s.metrics.Rejected(metrics.LimitKeyCreations)
		body.RetryAfter = retryAfterSeconds(limited.RetryAfter)
	case errors.As(err, &busy):
		if errors.Is(err, ingest.ErrIVSThrottled) {
			s.metrics.Rejected(metrics.LimitIVSThrottled)
		} else {
			s.metrics.Rejected(metrics.LimitIVSBudget)
		}
		// 503 says only "Service unavailable"; when to retry is in the header.
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(busy.RetryAfter)))
	}
	if body.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(body.RetryAfter))
	}
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		// Every 503 says when to come back, so clients back off rather
		// than retry at once (RFC 9110, 10.2.3).
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(s.unavailableFor(err))))
	}
	logLineOf(r.Context()).err = err
	writeJSON(w, status, body)
}

type errorBody struct {
	Error      string `json:"error"`
	RetryAfter int    `json:"retryAfter,omitempty"`
}

// retryUnavailable is the Retry-After of a 503 whose cause does not say when
// to retry: the database not answering /readyz, or anything else that may
// answer 503 later. A guess, short enough not to keep clients away longer
// than an outage, long enough not to invite a stampede.
const retryUnavailable = 5 * time.Second

// unavailableFor is how long a client should wait before retrying a request
// answered 503 for err, when err carries no time of its own (an IVS budget
// refusal does, in its *ingest.BusyError).
func (s *server) unavailableFor(err error) time.Duration {
	if errors.Is(err, auth.ErrUnavailable) {
		// The key set is fetched again no sooner than this after a
		// failure; an earlier retry gets the same 503.
		return s.keySetRetry
	}
	return retryUnavailable
}

// retryAfterSeconds rounds d up to whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// outcomeOf is the audit outcome of an answer with status.
func outcomeOf(status int) ingest.Outcome {
	switch {
	case status >= 500:
		return ingest.OutcomeError
	case status >= 400:
		return ingest.OutcomeDenied
	}
	return ingest.OutcomeAllowed
}
