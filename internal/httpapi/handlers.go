package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/limit"
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
	return ingest.Request{Caller: caller, ShowID: showID, ImpersonateSellerID: impersonate, Audit: s.auditEntry(r)}, nil
}

// answerIngest writes d, once its audit row is durable: no key leaves
// without one. A change (rotation, renewal) wrote the row in its own
// transaction.
func (s *server) answerIngest(w http.ResponseWriter, r *http.Request, d ingest.Details) error {
	info := infoFrom(r.Context())
	info.action, info.sellerID, info.keyARN = d.Action, d.SellerID, d.StreamKeyARN
	if d.AuditedBy == info.requestID {
		info.audited = true
	}
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
	rv, err := s.ingest.RevokeStreamKey(r.Context(), ingest.RevokeRequest{Caller: caller, ShowID: showID, Reason: reason, Audit: s.auditEntry(r)})
	if err != nil {
		return err
	}
	info.sellerID, info.keyARN = rv.SellerID, rv.StreamKeyARN
	// The revocation wrote the row with the change.
	info.audited = info.audited || rv.AuditedBy == info.requestID
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

// readAudit serves GET /functions/v1/ivs-audit?showId=<uuid>&limit=<n>&cursor=<c>&since=<t>&outcome=<o>.
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
	query := r.URL.Query()
	q := ingest.AuditQuery{Limit: defaultAuditLimit}
	if v := query.Get("showId"); v != "" {
		id, ok := ingest.ParseID(v)
		if !ok {
			return errShowIDNotUUID
		}
		q.ShowID, info.showID = id, id
	}
	if v := query.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAuditLimit {
			return errBadLimit
		}
		q.Limit = n
	}
	if v := query.Get("cursor"); v != "" {
		id, ok := parseAuditCursor(v)
		if !ok {
			return errBadCursor
		}
		q.BeforeID = id
	}
	if v := query.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return errBadSince
		}
		q.Since = t
	}
	if v := query.Get("outcome"); v != "" {
		o, ok := ingest.ParseOutcome(v)
		if !ok {
			return errBadOutcome
		}
		q.Outcome = o
	}
	page, err := s.ingest.ReadAudit(r.Context(), caller, q)
	if err != nil {
		return err
	}
	if err := s.audit(r, http.StatusOK); err != nil {
		return err
	}
	out := auditPage{Entries: page.Entries, OtherEntries: page.OtherEntries}
	if out.Entries == nil {
		out.Entries = []ingest.AuditEntry{}
	}
	if page.NextBeforeID > 0 {
		out.NextCursor = auditCursor(page.NextBeforeID)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// auditPage is ivs-audit's answer.
type auditPage struct {
	Entries []ingest.AuditEntry `json:"entries"`
	// NextCursor is absent on the last page.
	NextCursor string `json:"nextCursor,omitempty"`
	// OtherEntries is in the owner's view only.
	OtherEntries *int `json:"otherEntries,omitempty"`
}

// auditCursorPrefix versions the cursor, which clients pass back as it is.
const auditCursorPrefix = "before:"

// auditCursor is the opaque cursor of the page after the entry with id.
func auditCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(auditCursorPrefix + strconv.FormatInt(id, 10)))
}

// parseAuditCursor reads a cursor auditCursor made.
func parseAuditCursor(c string) (int64, bool) {
	if len(c) > 64 {
		return 0, false
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	digits, ok := strings.CutPrefix(string(b), auditCursorPrefix)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || id < 1 || strconv.FormatInt(id, 10) != digits {
		return 0, false
	}
	return id, true
}

// audit writes the request's audit row, once: requests that carried a valid
// token get exactly one, but for repeated refusals by the per-user limit
// (see requestLimits.auditRefusal).
func (s *server) audit(r *http.Request, status int) error {
	info := infoFrom(r.Context())
	if info == nil || info.userID == "" || info.audited {
		return nil
	}
	info.audited = true
	e := s.auditEntry(r)
	e.Action, e.HTTPStatus, e.Outcome = info.action, status, ingest.OutcomeAllowed
	switch {
	case status >= 500:
		e.Outcome = ingest.OutcomeError
	case status >= 400:
		e.Outcome = ingest.OutcomeDenied
	}
	e.SellerID, e.StreamKeyARN = info.sellerID, info.keyARN
	// Why detached: the row is owed even when the client hung up or the
	// request ran out of time.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	return s.ingest.WriteAudit(ctx, e)
}

// auditEntry is the request's audit row as far as the transport knows it:
// who asked, from where, about which show.
func (s *server) auditEntry(r *http.Request) ingest.AuditEntry {
	info := infoFrom(r.Context())
	return ingest.AuditEntry{
		RequestID:            info.requestID,
		Action:               info.action,
		ActorUserID:          info.userID,
		ImpersonatedSellerID: info.impersonated,
		ShowID:               info.showID,
		ClientIP:             clientIP(r),
		UserAgent:            truncate(r.UserAgent(), 256),
		Reason:               info.reason,
	}
}

// clientIP is the address the request came from: the socket's peer, or the
// event's source IP in AWS Lambda mode.
func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = strings.Trim(host[:i], "[]")
	}
	return host
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

// authenticate applies the per-IP request limit, verifies the request's
// bearer token and applies the per-user request limit: all before any
// database work (but for the limits' own, in AWS Lambda mode).
func (s *server) authenticate(r *http.Request) (ingest.Caller, error) {
	ctx := r.Context()
	if !s.limits.ip.Rate().Unlimited() {
		if err := s.limits.ip.Take(ctx, limitKeyOfIP(clientIP(r)), 1); err != nil {
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
	info := infoFrom(ctx)
	info.userID = c.UserID
	if err := s.limits.user.Take(ctx, c.UserID, 1); err != nil {
		if errors.Is(err, limit.ErrLimited) && !s.limits.auditRefusal(ctx, c.UserID) {
			info.audited = true // this user's refusals are on record for this minute
			s.metrics.RefusalNotAudited()
		}
		return ingest.Caller{}, err
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
	if err := s.ready.get(r.Context()); err != nil {
		return fmt.Errorf("%w: %w", errUnavailable, err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readinessTTL is how long a readiness answer is reused. Why: /readyz is
// open to anyone, and each check pings the database.
const readinessTTL = time.Second

// readiness runs the readiness check at most once a readinessTTL, however
// many callers ask; concurrent callers wait for the one check running.
type readiness struct {
	check ReadyFunc

	mu      sync.Mutex
	checked time.Time // zero: never
	err     error
}

func (rd *readiness) get(ctx context.Context) error {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if !rd.checked.IsZero() && time.Since(rd.checked) < readinessTTL {
		return rd.err
	}
	// Detached from the caller: its answer is everyone's for a second.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	rd.err, rd.checked = rd.check(cctx), time.Now()
	return rd.err
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
