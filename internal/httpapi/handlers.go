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

// getIngest serves POST /functions/v1/get-ivs-ingest.
func getIngest(svc IngestService) userHandler {
	return func(r *http.Request, x *exchange) (any, error) {
		req, err := ingestRequest(r, x)
		if err != nil {
			return nil, err
		}
		d, err := svc.IngestDetails(r.Context(), req)
		if err != nil {
			return nil, err
		}
		return ingestAnswer(x, d), nil
	}
}

// rotateKey serves POST /functions/v1/rotate-ivs-stream-key.
func rotateKey(svc IngestService) userHandler {
	return func(r *http.Request, x *exchange) (any, error) {
		req, err := ingestRequest(r, x)
		if err != nil {
			return nil, err
		}
		d, err := svc.RotateStreamKey(r.Context(), req)
		if err != nil {
			return nil, err
		}
		return ingestAnswer(x, d), nil
	}
}

// ingestRequest reads {"showId"} and the impersonation header, in the order
// of the error table.
func ingestRequest(r *http.Request, x *exchange) (ingest.Request, error) {
	body, err := readBody(r)
	if err != nil {
		return ingest.Request{}, err
	}
	x.showID, err = showIDOf(body)
	if err != nil {
		return ingest.Request{}, err
	}
	x.impersonated, err = impersonatedSeller(r)
	if err != nil {
		return ingest.Request{}, err
	}
	return ingest.Request{Caller: x.caller, ShowID: x.showID, ImpersonateSellerID: x.impersonated, Audit: x.entry(), Wait: x.admitted}, nil
}

// ingestAnswer notes in x what d's request did and returns d's answer. A
// change (rotation, renewal) wrote the audit row in its own transaction.
func ingestAnswer(x *exchange, d ingest.Details) keyAnswer {
	x.action, x.sellerID, x.keyARN, x.auditedBy = d.Action, d.SellerID, d.StreamKeyARN, d.AuditedBy
	return keyAnswer{d}
}

// keyAnswer is the answer of get-ivs-ingest and rotate-ivs-stream-key. The
// key is revealed only as the answer is encoded, which authed does once the
// audit row is durable.
type keyAnswer struct{ d ingest.Details }

func (a keyAnswer) MarshalJSON() ([]byte, error) {
	url := a.d.ServerURL()
	return json.Marshal(ingestResponse{
		IngestEndpoint: url,
		StreamKey:      a.d.StreamKey.Reveal(), // one of the places a key leaves the service, on purpose
		ServerURL:      url,
		StreamKeyHint:  streamKeyHint,
		SRTURL:         a.d.SRTURL(),
	})
}

// revokeKey serves POST /functions/v1/revoke-ivs-stream-key.
func revokeKey(svc IngestService) userHandler {
	return func(r *http.Request, x *exchange) (any, error) {
		body, err := readBody(r)
		if err != nil {
			return nil, err
		}
		x.showID, err = showIDOf(body)
		if err != nil {
			return nil, err
		}
		x.reason, err = reasonOf(body)
		if err != nil {
			return nil, err
		}
		rv, err := svc.RevokeStreamKey(r.Context(), ingest.RevokeRequest{Caller: x.caller, ShowID: x.showID, Reason: x.reason, Audit: x.entry(), Wait: x.admitted})
		if err != nil {
			return nil, err
		}
		// The revocation wrote the row with the change.
		x.sellerID, x.keyARN, x.auditedBy = rv.SellerID, rv.StreamKeyARN, rv.AuditedBy
		return map[string]bool{"revoked": true}, nil
	}
}

// Audit log page sizes.
const (
	defaultAuditLimit = 50
	maxAuditLimit     = 500
)

// readAudit serves GET /functions/v1/ivs-audit?showId=<uuid>&limit=<n>&cursor=<c>&since=<t>&outcome=<o>.
func readAudit(svc IngestService) userHandler {
	return func(r *http.Request, x *exchange) (any, error) {
		q, err := auditQuery(r, x)
		if err != nil {
			return nil, err
		}
		page, err := svc.ReadAudit(r.Context(), x.caller, q)
		if err != nil {
			return nil, err
		}
		out := auditPage{Entries: page.Entries, OtherEntries: page.OtherEntries}
		if out.Entries == nil {
			out.Entries = []ingest.AuditEntry{}
		}
		if page.NextBeforeID > 0 {
			out.NextCursor = auditCursor(page.NextBeforeID)
		}
		return out, nil
	}
}

// auditQuery reads the audit read's query parameters, noting its show in x.
func auditQuery(r *http.Request, x *exchange) (ingest.AuditQuery, error) {
	query := r.URL.Query()
	q := ingest.AuditQuery{Limit: defaultAuditLimit}
	if v := query.Get("showId"); v != "" {
		id, ok := ingest.ParseID(v)
		if !ok {
			return q, errShowIDNotUUID
		}
		q.ShowID, x.showID = id, id
	}
	if v := query.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAuditLimit {
			return q, errBadLimit
		}
		q.Limit = n
	}
	if v := query.Get("cursor"); v != "" {
		id, ok := parseAuditCursor(v)
		if !ok {
			return q, errBadCursor
		}
		q.BeforeID = id
	}
	if v := query.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return q, errBadSince
		}
		q.Since = t
	}
	if v := query.Get("outcome"); v != "" {
		o, ok := ingest.ParseOutcome(v)
		if !ok {
			return q, errBadOutcome
		}
		q.Outcome = o
	}
	return q, nil
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

// limitBody refuses bodies over MaxBodyBytes: early when the client declares
// the length, else while the handler reads.
func limitBody(next handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if r.ContentLength > MaxBodyBytes {
			return errBodyTooLarge
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		return next(w, r)
	}
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

// readyz answers 200 when the dependencies answer within two seconds,
// with a detail when the service serves without something it is
// configured with (a key store not in use yet): it can serve, so it is
// ready, but an operator should know.
func readyz(ready *readiness) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := ready.get(r.Context()); err != nil {
			return fmt.Errorf("%w: %w", errUnavailable, err)
		}
		body := map[string]string{"status": "ok"}
		if ready.detail != nil {
			if d := ready.detail(); d != "" {
				body["detail"] = d
			}
		}
		writeJSON(w, http.StatusOK, body)
		return nil
	}
}

// readinessTTL is how long a readiness answer is reused. Why: /readyz is
// open to anyone, and each check pings the database.
const readinessTTL = time.Second

// readiness runs the readiness check at most once a readinessTTL, however
// many callers ask; concurrent callers wait for the one check running.
type readiness struct {
	check  ReadyFunc
	detail func() string // read on each answer; nil for none

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
