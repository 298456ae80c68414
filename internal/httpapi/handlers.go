package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// streamKeyHint is the seed's fixed hint, kept for existing frontends.
const streamKeyHint = "Use this as your Stream Key in OBS or your streaming software"

type ingestResponse struct {
	IngestEndpoint string `json:"ingestEndpoint"`
	StreamKey      string `json:"streamKey"`
	ServerURL      string `json:"serverUrl"`
	StreamKeyHint  string `json:"streamKeyHint"`
	SRTURL         string `json:"srtUrl,omitempty"`
}

// getIngestDetails serves POST /functions/v1/get-ivs-ingest.
func (s *server) getIngestDetails(w http.ResponseWriter, r *http.Request) error {
	req, err := s.ingestRequest(r, ingest.ActionGet)
	if err != nil {
		return err
	}
	d, err := s.ingest.IngestDetails(r.Context(), req)
	if err != nil {
		return err
	}
	return s.answerIngest(w, r, d)
}

// rotateStreamKey serves POST /functions/v1/rotate-ivs-stream-key.
func (s *server) rotateStreamKey(w http.ResponseWriter, r *http.Request) error {
	req, err := s.ingestRequest(r, ingest.ActionRotate)
	if err != nil {
		return err
	}
	d, err := s.ingest.RotateStreamKey(r.Context(), req)
	if err != nil {
		return err
	}
	return s.answerIngest(w, r, d)
}

// ingestRequest authenticates r and reads {"showId"} and the impersonation
// header, in the order of the error table.
func (s *server) ingestRequest(r *http.Request, action ingest.Action) (ingest.Request, error) {
	info := infoFrom(r.Context())
	info.action = action
	caller, err := s.authenticate(r)
	if err != nil {
		return ingest.Request{}, err
	}
	body, err := readBody(r)
	if err != nil {
		return ingest.Request{}, err
	}
	showID, err := showIDOf(body)
	if err != nil {
		return ingest.Request{}, err
	}
	info.showID = showID
	impersonate, err := impersonatedSeller(r)
	if err != nil {
		return ingest.Request{}, err
	}
	info.impersonated = impersonate
	return ingest.Request{Caller: caller, ShowID: showID, ImpersonateSellerID: impersonate}, nil
}

// answerIngest writes d, once its audit row is durable: no key leaves
// without one.
func (s *server) answerIngest(w http.ResponseWriter, r *http.Request, d ingest.Details) error {
	info := infoFrom(r.Context())
	info.action, info.sellerID, info.keyARN = d.Action, d.SellerID, d.StreamKeyARN
	if err := s.audit(r, http.StatusOK); err != nil {
		return err
	}
	url := d.ServerURL()
	writeJSON(w, http.StatusOK, ingestResponse{
		IngestEndpoint: url,
		StreamKey:      d.StreamKey.Reveal(), // one of the places a key leaves the service, on purpose
		ServerURL:      url,
		StreamKeyHint:  streamKeyHint,
		SRTURL:         d.SRTURL(),
	})
	return nil
}

// revokeStreamKey serves POST /functions/v1/revoke-ivs-stream-key.
func (s *server) revokeStreamKey(w http.ResponseWriter, r *http.Request) error {
	info := infoFrom(r.Context())
	info.action = ingest.ActionRevoke
	caller, err := s.authenticate(r)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	showID, err := showIDOf(body)
	if err != nil {
		return err
	}
	info.showID = showID
	reason, err := reasonOf(body)
	if err != nil {
		return err
	}
	info.reason = reason
	rv, err := s.ingest.RevokeStreamKey(r.Context(), ingest.RevokeRequest{Caller: caller, ShowID: showID, Reason: reason})
	if err != nil {
		return err
	}
	info.sellerID, info.keyARN = rv.SellerID, rv.StreamKeyARN
	if err := s.audit(r, http.StatusOK); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"revoked": true})
	return nil
}

// Audit log page sizes.
const (
	defaultAuditLimit = 50
	maxAuditLimit     = 500
)

// readAudit serves GET /functions/v1/ivs-audit?showId=<uuid>&limit=<n>.
func (s *server) readAudit(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		// A GET route also matches HEAD, which would read (and audit) the
		// log for an answer without a body.
		return methodNotAllowed("GET, OPTIONS")(w, r)
	}
	info := infoFrom(r.Context())
	info.action = ingest.ActionAuditRead
	caller, err := s.authenticate(r)
	if err != nil {
		return err
	}
	q := ingest.AuditQuery{Limit: defaultAuditLimit}
	if v := r.URL.Query().Get("showId"); v != "" {
		id, ok := ingest.ParseID(v)
		if !ok {
			return errShowIDNotUUID
		}
		q.ShowID, info.showID = id, id
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAuditLimit {
			return errBadLimit
		}
		q.Limit = n
	}
	entries, err := s.ingest.ReadAudit(r.Context(), caller, q)
	if err != nil {
		return err
	}
	if err := s.audit(r, http.StatusOK); err != nil {
		return err
	}
	if entries == nil {
		entries = []ingest.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries})
	return nil
}

// audit writes the request's audit row, once: requests that carried a valid
// token get exactly one.
func (s *server) audit(r *http.Request, status int) error {
	info := infoFrom(r.Context())
	if info == nil || info.userID == "" || info.audited {
		return nil
	}
	info.audited = true
	outcome := ingest.OutcomeAllowed
	switch {
	case status >= 500:
		outcome = ingest.OutcomeError
	case status >= 400:
		outcome = ingest.OutcomeDenied
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = strings.Trim(host[:i], "[]")
	}
	// Why detached: the row is owed even when the client hung up or the
	// request ran out of time.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	return s.ingest.WriteAudit(ctx, ingest.AuditEntry{
		RequestID:            info.requestID,
		Action:               info.action,
		Outcome:              outcome,
		HTTPStatus:           status,
		ActorUserID:          info.userID,
		ImpersonatedSellerID: info.impersonated,
		SellerID:             info.sellerID,
		ShowID:               info.showID,
		StreamKeyARN:         info.keyARN,
		ClientIP:             host,
		UserAgent:            truncate(r.UserAgent(), 256),
		Reason:               info.reason,
	})
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

// authenticate verifies the request's bearer token and applies the
// per-user request limit.
func (s *server) authenticate(r *http.Request) (ingest.Caller, error) {
	token, err := bearerToken(r)
	if err != nil {
		return ingest.Caller{}, err
	}
	c, err := s.authn.Verify(r.Context(), token)
	if err != nil {
		return ingest.Caller{}, err
	}
	infoFrom(r.Context()).userID = c.UserID
	if ok, wait := s.limiter.allow(c.UserID, time.Now()); !ok {
		return ingest.Caller{}, &tooManyRequests{retryAfter: retryAfterSeconds(wait)}
	}
	return ingest.Caller{UserID: c.UserID, SessionID: c.SessionID}, nil
}

// readBody reads a JSON object body.
func readBody(r *http.Request) (map[string]json.RawMessage, error) {
	raw, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, errBodyTooLarge
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errInvalidJSON, err)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil || body == nil {
		return nil, errInvalidJSON
	}
	return body, nil
}

// showIDOf returns body's showId in canonical form.
func showIDOf(body map[string]json.RawMessage) (string, error) {
	field, ok := body["showId"]
	if !ok || bytes.Equal(field, []byte("null")) {
		return "", errShowIDRequired
	}
	var id string
	if err := json.Unmarshal(field, &id); err != nil {
		return "", errShowIDNotUUID
	}
	if id == "" {
		return "", errShowIDRequired
	}
	canonical, ok := ingest.ParseID(id)
	if !ok {
		return "", errShowIDNotUUID
	}
	return canonical, nil
}

// maxReasonLen bounds a revocation's reason, in characters.
const maxReasonLen = 500

// reasonOf returns body's optional reason.
func reasonOf(body map[string]json.RawMessage) (string, error) {
	field, ok := body["reason"]
	if !ok || bytes.Equal(field, []byte("null")) {
		return "", nil
	}
	var reason string
	if err := json.Unmarshal(field, &reason); err != nil || utf8.RuneCountInString(reason) > maxReasonLen ||
		strings.ContainsFunc(reason, unsafeInReason) {
		return "", errBadReason
	}
	return strings.TrimSpace(reason), nil
}

// unsafeInReason reports whether r may not appear in a reason. Why: the
// reason is shown to admins in the audit log, in terminals and in log
// viewers. Control characters (Cc) and the line and paragraph separators
// forge lines there; format characters (Cf: bidi overrides and isolates,
// zero-width spaces and joiners, the BOM) reorder or hide text, so that a
// reason displays as something other than what was written.
func unsafeInReason(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// impersonatedSeller reads X-Impersonate-Seller-Id; empty counts as absent.
func impersonatedSeller(r *http.Request) (string, error) {
	v := strings.TrimSpace(r.Header.Get("X-Impersonate-Seller-Id"))
	if v == "" {
		return "", nil
	}
	id, ok := ingest.ParseID(v)
	if !ok {
		return "", errImpersonateUUID
	}
	return id, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz answers 200 when the dependencies answer within two seconds.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return fmt.Errorf("%w: %w", errUnavailable, err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func notFound(w http.ResponseWriter, r *http.Request) error { return errNotFound }

func methodNotAllowed(allow string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		return errMethodNotAllowed
	}
}

// writeJSON writes v as the JSON answer with status. Headers first: they
// cannot change once WriteHeader is called.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"Internal server error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
