package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
)

// eventTimeout bounds the work for one event on POST
// /functions/v1/ivs-events, under EventBridge's 5 s wait for an answer.
const eventTimeout = 4 * time.Second

// eventAnswer is the answer of POST /functions/v1/ivs-events.
type eventAnswer struct {
	Outcome streamstatus.Outcome `json:"outcome"`
}

// ivsEvents serves POST /functions/v1/ivs-events: an EventBridge event,
// whole, as an API destination sends it, behind token. Every event it
// accepts (applied, stale, duplicate, irrelevant, of an unknown channel) is
// a 200; a body that is no event a 400, which EventBridge does not retry;
// any failure to apply it a 503, which it does. Never a 500 from bad input.
func ivsEvents(events StreamEvents, token secret.String) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := checkEventsToken(r, token); err != nil {
			return err
		}
		body, err := io.ReadAll(r.Body)
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errBodyTooLarge
		}
		if err != nil {
			// The sender hung up or stalled: it retries what it did
			// not see answered.
			return fmt.Errorf("%w: read event: %w", errUnavailable, err)
		}
		line := logLineOf(r.Context())
		line.eventKind = eventKindOf(body)
		// Why a deadline of its own: EventBridge gives up on an answer
		// after 5 s (and retries), so an event that cannot be applied
		// within eventTimeout is better answered 503 than not at all.
		ctx, cancel := context.WithTimeout(r.Context(), eventTimeout)
		defer cancel()
		outcome, err := events.Receive(ctx, body)
		switch {
		case errors.Is(err, streamstatus.ErrMalformed):
			line.eventOutcome = string(streamstatus.Malformed)
			return err
		case err != nil:
			line.eventOutcome = string(streamstatus.Failed)
			// Why 503 whatever the cause: the event was not applied, and
			// only an answer of 5xx (or 429) makes EventBridge deliver it
			// again.
			return fmt.Errorf("%w: apply event: %w", errUnavailable, err)
		}
		line.eventOutcome = string(outcome)
		writeJSON(w, http.StatusOK, eventAnswer{Outcome: outcome})
		return nil
	}
}

// checkEventsToken checks the request's bearer token against token.
func checkEventsToken(r *http.Request, token secret.String) error {
	got, err := bearerToken(r)
	if err != nil {
		return fmt.Errorf("%w: %w", errEventsToken, err)
	}
	// Why hashes: ConstantTimeCompare is constant-time only for inputs of
	// equal length; comparing digests hides the token's length too.
	gotSum, wantSum := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(token.Reveal()))
	if subtle.ConstantTimeCompare(gotSum[:], wantSum[:]) != 1 {
		return errEventsToken
	}
	return nil
}

// eventKindOf is the kind of the event body holds, for the log line only
// ("" when the body is no JSON object): streamstatus's own reading, so
// only the names of its kinds are logged, never the body's text.
func eventKindOf(body []byte) string {
	e, _ := streamstatus.ParseEvent(body)
	return string(e.Kind)
}

// watchedHandler answers an authenticated request that writes no audit row.
type watchedHandler func(r *http.Request, caller ingest.Caller) (answer any, err error)

// watched authenticates the request as authed does (the per-IP limit, the
// token verified; the handler's domain call checks the session) and applies
// the stream status reads' own per-user limit, then runs h and writes its
// answer. Why no audit row and no MFA gate: a status reveals no key, and a
// panel polls it every 10 s, which would bury the trail under reads.
func (s *server) watched(h watchedHandler) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		// Behind the admission gate as authed's routes: store work only.
		admitted, err := s.admission.enter(ctx)
		if err != nil {
			return err
		}
		defer admitted.leave()
		return onOwnStack(func() error {
			caller, err := s.authenticate(r, s.clientIPs.of(r))
			if err != nil {
				return err
			}
			logLineOf(ctx).userID = caller.UserID
			if err := s.limits.status.Take(ctx, caller.UserID, 1); err != nil {
				return err
			}
			answer, err := h(r, caller)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, answer)
			return nil
		})
	}
}

// statusAnswer is the answer of GET /functions/v1/ivs-stream-status.
type statusAnswer struct {
	// Status is "live", "offline" or "unknown".
	Status string `json:"status"`
	// Health is "healthy" or "starving" while live, null otherwise.
	Health *string `json:"health"`
	// Since is when the status began, RFC 3339 in UTC; null when unknown.
	Since *string `json:"since"`
}

// streamStatus serves GET /functions/v1/ivs-stream-status?showId=<uuid>.
func streamStatus(svc IngestService, views StreamViews) watchedHandler {
	return func(r *http.Request, caller ingest.Caller) (any, error) {
		showID, err := queryShowID(r)
		if err != nil {
			return nil, err
		}
		ctx := r.Context()
		logLineOf(ctx).showID = showID
		channelARN, err := svc.WatchShow(ctx, ingest.WatchRequest{Caller: caller, ShowID: showID})
		if err != nil {
			return nil, err
		}
		v, err := views.View(ctx, channelARN)
		if err != nil {
			return nil, fmt.Errorf("stream status: %w", err)
		}
		return statusAnswerOf(v), nil
	}
}

// queryShowID reads the query's showId, in canonical form.
func queryShowID(r *http.Request) (string, error) {
	v := r.URL.Query().Get("showId")
	if v == "" {
		return "", errShowIDRequired
	}
	id, ok := ingest.ParseID(v)
	if !ok {
		return "", errShowIDNotUUID
	}
	return id, nil
}

// statusAnswerOf is v as the endpoint answers it: a health only while live,
// a time only when the status is known.
func statusAnswerOf(v streamstatus.View) statusAnswer {
	a := statusAnswer{Status: v.Status}
	if a.Status != string(streamstatus.Live) && a.Status != string(streamstatus.Offline) {
		a.Status = "unknown"
	}
	if a.Status == string(streamstatus.Live) && v.Health != nil && *v.Health != "" {
		h := string(*v.Health)
		a.Health = &h
	}
	if a.Status != "unknown" && v.Since != nil && !v.Since.IsZero() {
		since := v.Since.UTC().Format(time.RFC3339)
		a.Since = &since
	}
	return a
}
