package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/responses"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/ivs-ingest/ivs-ingest/api"
	"github.com/ivs-ingest/ivs-ingest/internal/httpapi"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// contract is api/openapi.yaml, ready to validate real exchanges with.
type contract struct {
	v     validator.Validator
	model *v3.Document
}

func newContract(t *testing.T) *contract {
	t.Helper()
	doc, err := libopenapi.NewDocument(api.Spec)
	if err != nil {
		t.Fatalf("libopenapi.NewDocument(api.Spec): %v", err)
	}
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions())
	if len(errs) > 0 {
		t.Fatalf("validator.NewValidator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		t.Fatalf("api/openapi.yaml is not a valid OpenAPI document:\n%s", describe(verrs, nil))
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("BuildV3Model: %v", err)
	}
	return &contract{v: v, model: &m.Model}
}

// exchange is one real request to the service and its answer, kept so that
// both can be read again by the validator.
type exchange struct {
	name     string
	req      *http.Request
	reqBody  []byte
	resp     *http.Response
	body     []byte
	conforms bool     // the request is one the contract describes
	secrets  []string // to redact from any failure message
}

// request returns the request with its body readable again.
func (x *exchange) request() *http.Request {
	r := x.req.Clone(x.req.Context())
	r.Body = io.NopCloser(bytes.NewReader(x.reqBody))
	return r
}

// response returns the answer with its body readable again.
func (x *exchange) response() *http.Response {
	r := *x.resp
	r.Body = io.NopCloser(bytes.NewReader(x.body))
	return &r
}

// errorMessage is the answer's {"error"}, or "" when it has none.
func (x *exchange) errorMessage() string {
	var body struct {
		Error string `json:"error"`
	}
	if !strings.HasPrefix(x.resp.Header.Get("Content-Type"), "application/json") || json.Unmarshal(x.body, &body) != nil {
		return ""
	}
	return body.Error
}

var (
	jwtPattern       = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)
	streamKeyPattern = regexp.MustCompile(`sk_[a-z0-9-]+_[A-Za-z0-9_-]+`)
	srtPattern       = regexp.MustCompile(`srt://[^"\s]+`)
)

// redact removes from s every secret the exchange carried: test output must
// carry no stream key, passphrase or token.
func (x *exchange) redact(s string) string {
	for _, secret := range x.secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[REDACTED]")
		}
	}
	s = jwtPattern.ReplaceAllString(s, "[TOKEN]")
	s = srtPattern.ReplaceAllString(s, "srt://[REDACTED]")
	return streamKeyPattern.ReplaceAllString(s, "sk_[REDACTED]")
}

func (x *exchange) String() string {
	s := x.redact(fmt.Sprintf("%s %s = %d %s", x.req.Method, x.req.URL.RequestURI(), x.resp.StatusCode, bytes.TrimSpace(x.body)))
	if len(s) > 400 { // a metrics page, a 70 KiB body
		s = s[:400] + "..."
	}
	return s
}

// describe formats the validator's errors for a failure message.
func describe(errs []*verrors.ValidationError, x *exchange) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\t%s: %s", e.Message, e.Reason)
		if e.SpecLine > 0 {
			fmt.Fprintf(&b, " (api/openapi.yaml line %d)", e.SpecLine)
		}
		b.WriteString("\n")
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\t\t%s: %s\n", f.FieldPath, f.Reason)
		}
	}
	if x != nil {
		return x.redact(b.String())
	}
	return b.String()
}

// contractClient sends the contract test's requests.
type contractClient struct {
	t         *testing.T
	exchanges []*exchange
}

// do sends a request and records the exchange. token "" sends no
// Authorization header; a header value set in header wins.
func (c *contractClient) do(name, method, rawURL, token, body string, header map[string]string, conforms bool) *exchange {
	c.t.Helper()
	req, err := http.NewRequest(method, rawURL, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	x := &exchange{name: name, reqBody: []byte(body), conforms: conforms, secrets: []string{token}}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
		if strings.EqualFold(k, "Authorization") {
			x.secrets = append(x.secrets, v)
		}
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		c.t.Fatalf("%s: %s %s: %v", name, method, req.URL.Path, err)
	}
	x.body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.t.Fatalf("%s: read body: %v", name, err)
	}
	x.req, x.resp = req, resp
	// The key and the SRT URL (which holds the key and a passphrase), as
	// sent and as decoded.
	var secret struct {
		StreamKey string `json:"streamKey"`
		SRTURL    string `json:"srtUrl"`
	}
	if json.Unmarshal(x.body, &secret) == nil {
		x.secrets = append(x.secrets, secret.StreamKey, secret.SRTURL, strings.ReplaceAll(secret.SRTURL, "&", `\u0026`))
		if u, err := url.Parse(secret.SRTURL); err == nil && secret.SRTURL != "" {
			x.secrets = append(x.secrets, u.Query().Get("passphrase"))
		}
	}
	c.exchanges = append(c.exchanges, x)
	return x
}

// want checks an exchange's status and, for an error, its message.
func (c *contractClient) want(x *exchange, status int, message string) {
	c.t.Helper()
	if x.resp.StatusCode != status || (message != "" && x.errorMessage() != message) {
		c.t.Errorf("%s: %s, want %d %q", x.name, x, status, message)
	}
}

const contractMetricsToken = "contract-test-metrics-token-0123456789"

// TestOpenAPIContract drives the running service through every row of the
// error table, every endpoint's success, preflights, probes, 404 and 405,
// and validates each real request and answer against api/openapi.yaml.
func TestOpenAPIContract(t *testing.T) {
	t.Parallel()
	spec := newContract(t)
	env := testenv.New(t, testenv.Options{Supabase: true})
	svc := start(t, env, map[string]string{"RATE_LIMIT_REQUESTS_PER_MINUTE": "0", "METRICS_TOKEN": contractMetricsToken})
	c := &contractClient{t: t}

	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	bare := env.Show(t, owner, false)
	failing := env.Show(t, owner, true)
	starved := env.Show(t, owner, true)
	gone := env.Show(t, owner, true)
	if _, err := env.IVS.DeleteChannel(context.Background(), &ivs.DeleteChannelInput{Arn: aws.String(gone.ChannelARN)}); err != nil {
		t.Fatalf("DeleteChannel: %v", err)
	}
	other := env.Seller(t, "approved")
	othersShow := env.Show(t, other, true)
	pooled := env.Show(t, owner, true)
	pgtest.Exec(t, env.DatabaseURL, `INSERT INTO public.shows (id, seller_id, ivs_channel_arn) VALUES ($1, $2, $3)`,
		testenv.NewID(t), other.SellerID, pooled.ChannelARN)
	moving := env.Show(t, owner, true)
	pending := env.Seller(t, "pending")
	pendingShow := env.Show(t, pending, true)
	admin := env.Admin(t)
	user := env.User(t)
	signedOut := env.Seller(t, "approved")
	signedOutToken := env.Token(t, signedOut)
	env.SignOut(t, signedOut)
	token := env.Token(t, owner)
	missing := testenv.NewID(t)
	showBody := func(id string) string { return `{"showId":"` + id + `"}` }

	get := svc.URL + path
	// get-ivs-ingest: successes, then every check in the table's order.
	c.want(c.do("get: first request creates the key", "POST", get, token, showBody(show.ID), nil, true), 200, "")
	c.want(c.do("get: the key again", "POST", get, token, showBody(show.ID), nil, true), 200, "")
	c.want(c.do("get: admin impersonating the owner", "POST", get, env.Token(t, admin), showBody(show.ID),
		map[string]string{"X-Impersonate-Seller-Id": owner.SellerID}, true), 200, "")
	c.want(c.do("get: no authorization header", "POST", get, "", showBody(show.ID), nil, false), 401, "Missing authorization header")
	c.want(c.do("get: basic scheme", "POST", get, "", showBody(show.ID), map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, false),
		401, "Invalid or expired token")
	c.want(c.do("get: garbage token", "POST", get, "not.a.jwt", showBody(show.ID), nil, true), 401, "Invalid or expired token")
	c.want(c.do("get: signed-out session", "POST", get, signedOutToken, showBody(show.ID), nil, true), 401, "Invalid or expired token")
	c.want(c.do("get: body over 64 KiB", "POST", get, token, `{"showId":"`+strings.Repeat("a", 70<<10)+`"}`, nil, false),
		413, "Request body too large")
	c.want(c.do("get: body not an object", "POST", get, token, `[]`, nil, false), 400, "Invalid JSON body")
	c.want(c.do("get: showId missing", "POST", get, token, `{}`, nil, false), 400, "showId is required")
	c.want(c.do("get: showId not a uuid", "POST", get, token, `{"showId":"show-1"}`, nil, false), 400, "showId must be a UUID")
	c.want(c.do("get: impersonation header not a uuid", "POST", get, token, showBody(show.ID),
		map[string]string{"X-Impersonate-Seller-Id": "seller-1"}, false), 400, "X-Impersonate-Seller-Id must be a UUID")
	c.want(c.do("get: impersonation by a non-admin", "POST", get, token, showBody(show.ID),
		map[string]string{"X-Impersonate-Seller-Id": other.SellerID}, true), 403, "Only admins can impersonate sellers")
	c.want(c.do("get: user who is not a seller", "POST", get, env.Token(t, user), showBody(show.ID), nil, true), 403, "Seller profile not found")
	c.want(c.do("get: pending seller", "POST", get, env.Token(t, pending), showBody(pendingShow.ID), nil, true), 403, "Seller not approved")
	c.want(c.do("get: no such show", "POST", get, token, showBody(missing), nil, true), 404, "Show not found")
	c.want(c.do("get: another seller's show", "POST", get, token, showBody(othersShow.ID), nil, true), 403, "You do not own this show")
	c.want(c.do("get: channel shared with another seller's show", "POST", get, token, showBody(pooled.ID), nil, true), 403,
		"Channel is shared with another seller's show")
	c.want(c.do("get: show without a channel", "POST", get, token, showBody(bare.ID), nil, true), 400, "Show does not have IVS channel configured")
	// The show is given to another seller while the request waits for IVS.
	env.Emulator.BeforeNext("GetChannel", func() {
		pgtest.Exec(t, env.DatabaseURL, `UPDATE public.shows SET seller_id = $1 WHERE id = $2`, other.SellerID, moving.ID)
	})
	c.want(c.do("get: show moved during the request", "POST", get, token, showBody(moving.ID), nil, true), 409,
		"Show changed during the request; try again")
	c.want(c.do("get: channel deleted in IVS", "POST", get, token, showBody(gone.ID), nil, true), 500, "Failed to retrieve channel details")
	env.Emulator.Fail("CreateStreamKey", "InternalServerException")
	c.want(c.do("get: CreateStreamKey fails", "POST", get, token, showBody(failing.ID), nil, true), 500, "Failed to create stream key")
	env.Emulator.ClearFailures()

	// The IVS call budget, taken by other replicas' reservations an hour ahead.
	pgtest.Exec(t, env.DatabaseURL, `UPDATE ivs_ingest.ivs_call_budget SET next_slot = clock_timestamp() + interval '1 hour'`)
	x := c.do("get: IVS call budget exhausted", "POST", get, token, showBody(starved.ID), nil, true)
	c.want(x, 503, "Service unavailable")
	if x.resp.Header.Get("Retry-After") == "" {
		t.Errorf("%s: no Retry-After", x.name)
	}
	pgtest.Exec(t, env.DatabaseURL, `UPDATE ivs_ingest.ivs_call_budget SET next_slot = clock_timestamp()`)

	// rotate-ivs-stream-key
	rotate := svc.URL + rotatePath
	c.want(c.do("rotate", "POST", rotate, token, showBody(show.ID), nil, true), 200, "")
	c.want(c.do("rotate: no authorization header", "POST", rotate, "", showBody(show.ID), nil, false), 401, "Missing authorization header")
	c.want(c.do("rotate: showId missing", "POST", rotate, token, `{}`, nil, false), 400, "showId is required")
	c.want(c.do("rotate: another seller's show", "POST", rotate, token, showBody(othersShow.ID), nil, true), 403, "You do not own this show")

	// revoke-ivs-stream-key
	revoke := svc.URL + revokePath
	c.want(c.do("revoke with a reason", "POST", revoke, token, `{"showId":"`+show.ID+`","reason":"key pasted in a public chat"}`, nil, true), 200, "")
	c.want(c.do("revoke by an admin", "POST", revoke, env.Token(t, admin), showBody(othersShow.ID), nil, true), 200, "")
	c.want(c.do("revoke: reason with a control character", "POST", revoke, token, `{"showId":"`+show.ID+`","reason":"a\nforged row"}`, nil, false),
		400, "reason must be a string of at most 500 characters, without control or format characters")
	c.want(c.do("revoke: user who is not a seller", "POST", revoke, env.Token(t, user), showBody(show.ID), nil, true), 403, "Seller profile not found")
	c.want(c.do("revoke: no such show", "POST", revoke, token, showBody(missing), nil, true), 404, "Show not found")

	// ivs-audit
	audit := svc.URL + auditPath
	x = c.do("audit of a show", "GET", audit+"?showId="+show.ID+"&limit=10", token, "", nil, true)
	c.want(x, 200, "")
	if !bytes.Contains(x.body, []byte(`"action":"revoke"`)) || !bytes.Contains(x.body, []byte(`"reason":"key pasted in a public chat"`)) {
		t.Errorf("%s: the entries lack the revocation and its reason, so the entry schema was barely exercised: %s", x.name, x)
	}
	x = c.do("audit: first page of one", "GET", audit+"?showId="+show.ID+"&limit=1&outcome=allowed&since=2026-01-01T00:00:00Z", token, "", nil, true)
	c.want(x, 200, "")
	var page struct {
		NextCursor   string
		OtherEntries *int
	}
	if err := json.Unmarshal(x.body, &page); err != nil || page.NextCursor == "" || page.OtherEntries == nil {
		t.Errorf("%s: want a nextCursor and otherEntries (the owner's view), got %s (%v)", x.name, x, err)
	}
	c.want(c.do("audit: next page", "GET", audit+"?showId="+show.ID+"&limit=1&cursor="+page.NextCursor, token, "", nil, true), 200, "")
	c.want(c.do("audit: a cursor it did not make", "GET", audit+"?showId="+show.ID+"&cursor=bm9wZQ", token, "", nil, true),
		400, "cursor must be the nextCursor of an earlier answer, unchanged")
	c.want(c.do("audit: since not a timestamp", "GET", audit+"?showId="+show.ID+"&since=yesterday", token, "", nil, false),
		400, "since must be an RFC 3339 timestamp such as 2026-12-01T00:00:00Z")
	c.want(c.do("audit: unknown outcome", "GET", audit+"?showId="+show.ID+"&outcome=ok", token, "", nil, false),
		400, "outcome must be allowed, denied or error")
	c.want(c.do("audit of every show by an admin", "GET", audit, env.Token(t, admin), "", nil, true), 200, "")
	c.want(c.do("audit: every show by a seller", "GET", audit, token, "", nil, true), 403, "Only admins can read the audit log of every show")
	c.want(c.do("audit: limit 0", "GET", audit+"?showId="+show.ID+"&limit=0", token, "", nil, false), 400, "limit must be a whole number from 1 to 500")
	c.want(c.do("audit: showId not a uuid", "GET", audit+"?showId=show-1", token, "", nil, false), 400, "showId must be a UUID")
	c.want(c.do("audit: no authorization header", "GET", audit, "", "", nil, false), 401, "Missing authorization header")

	// ivs-stream-status and ivs-events, on a transport serving both over the
	// same domain (the stream status ports a double: see streamstatus_test.go).
	streams := startStreams(t, env, nil, httpapi.Config{EventsToken: secret.New(eventsToken)})
	since := time.Date(2026, 12, 6, 10, 23, 43, 0, time.UTC)
	healthy := streamstatus.Healthy
	streams.d.mu.Lock()
	streams.d.views[show.ChannelARN] = streamstatus.View{Status: "live", Health: &healthy, Since: &since}
	streams.d.views[failing.ChannelARN] = streamstatus.View{Status: "offline", Since: &since}
	streams.d.mu.Unlock()
	status := streams.URL + statusPath
	c.want(c.do("status: live", "GET", status+"?showId="+show.ID, token, "", nil, true), 200, "")
	c.want(c.do("status: offline", "GET", status+"?showId="+failing.ID, token, "", nil, true), 200, "")
	c.want(c.do("status: never set", "GET", status+"?showId="+starved.ID, token, "", nil, true), 200, "")
	c.want(c.do("status: show without a channel", "GET", status+"?showId="+bare.ID, token, "", nil, true), 200, "")
	c.want(c.do("status: admin", "GET", status+"?showId="+othersShow.ID, env.Token(t, admin), "", nil, true), 200, "")
	c.want(c.do("status: no authorization header", "GET", status+"?showId="+show.ID, "", "", nil, false), 401, "Missing authorization header")
	c.want(c.do("status: signed-out session", "GET", status+"?showId="+show.ID, signedOutToken, "", nil, true), 401, "Invalid or expired token")
	c.want(c.do("status: showId missing", "GET", status, token, "", nil, false), 400, "showId is required")
	c.want(c.do("status: showId not a uuid", "GET", status+"?showId=show-1", token, "", nil, false), 400, "showId must be a UUID")
	c.want(c.do("status: user who is not a seller", "GET", status+"?showId="+show.ID, env.Token(t, user), "", nil, true), 403, "Seller profile not found")
	c.want(c.do("status: another seller's show", "GET", status+"?showId="+othersShow.ID, token, "", nil, true), 403, "You do not own this show")
	c.want(c.do("status: channel shared", "GET", status+"?showId="+pooled.ID, token, "", nil, true), 403, "Channel is shared with another seller's show")
	c.want(c.do("status: no such show", "GET", status+"?showId="+missing, token, "", nil, true), 404, "Show not found")
	statusLimited := startStreams(t, env, nil, httpapi.Config{StreamStatusRequestsPerMinute: 1})
	c.want(c.do("status: first read a minute", "GET", statusLimited.URL+statusPath+"?showId="+show.ID, token, "", nil, true), 200, "")
	c.want(c.do("status: second read a minute", "GET", statusLimited.URL+statusPath+"?showId="+show.ID, token, "", nil, true), 429, "Too many requests")

	events := streams.URL + eventsPath
	event := streamStartEvent(testenv.NewID(t), show.ChannelARN)
	c.want(c.do("events: applied", "POST", events, eventsToken, event, nil, true), 200, "")
	streams.d.set(streamstatus.UnknownChannel, nil)
	c.want(c.do("events: unknown channel", "POST", events, eventsToken, event, nil, true), 200, "")
	c.want(c.do("events: no authorization header", "POST", events, "", event, nil, false), 401, "Missing or invalid events token")
	c.want(c.do("events: a Supabase token", "POST", events, token, event, nil, true), 401, "Missing or invalid events token")
	c.want(c.do("events: body over 64 KiB", "POST", events, eventsToken, `{"pad":"`+strings.Repeat("a", 70<<10)+`"}`, nil, true),
		413, "Request body too large")
	streams.d.set("", fmt.Errorf("%w: not a JSON object", streamstatus.ErrMalformed))
	c.want(c.do("events: body not an object", "POST", events, eventsToken, `[]`, nil, false), 400, "Malformed event")
	streams.d.set("", errors.New("apply stream event: connection refused"))
	c.want(c.do("events: not applied", "POST", events, eventsToken, event, nil, true), 503, "Service unavailable")
	streams.d.set(streamstatus.Applied, nil)
	c.want(c.do("events: without IVS_EVENTS_TOKEN", "POST", svc.URL+eventsPath, eventsToken, event, nil, false), 404, "Not found")

	// Preflights, probes, this document, metrics.
	preflight := map[string]string{"Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "authorization, content-type, x-impersonate-seller-id"}
	for _, p := range []string{path, rotatePath, revokePath, auditPath} {
		c.want(c.do("preflight "+p, "OPTIONS", svc.URL+p, "", "", preflight, true), 204, "")
	}
	preflight["Access-Control-Request-Method"] = "GET"
	c.want(c.do("preflight "+statusPath, "OPTIONS", streams.URL+statusPath, "", "", preflight, true), 204, "")
	c.want(c.do("healthz", "GET", svc.URL+"/healthz", "", "", nil, true), 200, "")
	c.want(c.do("healthz HEAD", "HEAD", svc.URL+"/healthz", "", "", nil, true), 200, "")
	c.want(c.do("readyz", "GET", svc.URL+"/readyz", "", "", nil, true), 200, "")
	x = c.do("openapi.yaml", "GET", svc.URL+"/openapi.yaml", "", "", map[string]string{"Origin": "https://editor.example"}, true)
	c.want(x, 200, "")
	if !bytes.Equal(x.body, api.Spec) {
		t.Errorf("GET /openapi.yaml served %d bytes that are not api/openapi.yaml (%d bytes)", len(x.body), len(api.Spec))
	}
	if ct := x.resp.Header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("GET /openapi.yaml: Content-Type = %q, want application/yaml", ct)
	}
	if got := x.resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("GET /openapi.yaml: Access-Control-Allow-Origin = %q, want * (Swagger UI elsewhere must be able to fetch it)", got)
	}
	c.want(c.do("openapi.yaml HEAD", "HEAD", svc.URL+"/openapi.yaml", "", "", nil, true), 200, "")
	c.want(c.do("metrics", "GET", svc.URL+"/metrics", contractMetricsToken, "", nil, true), 200, "")
	c.want(c.do("metrics: no token", "GET", svc.URL+"/metrics", "", "", nil, true), 401, "Missing or invalid metrics token")
	c.want(c.do("metrics: a Supabase token", "GET", svc.URL+"/metrics", token, "", nil, true), 401, "Missing or invalid metrics token")

	// Paths and methods the contract does not list.
	c.want(c.do("unknown path", "GET", svc.URL+"/nope", "", "", nil, false), 404, "Not found")
	c.want(c.do("path not in canonical form", "POST", svc.URL+"/functions/v1/./get-ivs-ingest", token, `{}`, nil, false), 404, "Not found")
	for p, item := range spec.model.Paths.PathItems.FromOldest() {
		// On the transport serving every route, ivs-events included.
		x := c.do("DELETE "+p, "DELETE", streams.URL+p, "", "", nil, false)
		c.want(x, 405, "Method not allowed")
		var methods []string
		for m := range item.GetOperations().KeysFromOldest() {
			methods = append(methods, strings.ToUpper(m))
		}
		allow := strings.Split(x.resp.Header.Get("Allow"), ", ")
		sort.Strings(methods)
		sort.Strings(allow)
		if !slices.Equal(methods, allow) {
			t.Errorf("%s: Allow = %v, but the contract lists %v", p, allow, methods)
		}
	}

	// The limits, on replicas of their own.
	limited := start(t, env, map[string]string{"RATE_LIMIT_REQUESTS_PER_MINUTE": "1"})
	c.want(c.do("limited replica: first request", "POST", limited.URL+path, token, showBody(bare.ID), nil, true), 400, "Show does not have IVS channel configured")
	c.want(c.do("limited replica: second request in a minute", "POST", limited.URL+path, token, showBody(bare.ID), nil, true), 429, "Too many requests")
	c.want(c.do("limited replica: audit over the limit", "GET", limited.URL+auditPath+"?showId="+show.ID, token, "", nil, true), 429, "Too many requests")
	creator := env.Seller(t, "approved")
	creatorShow := env.Show(t, creator, true)
	oneCreation := start(t, env, map[string]string{"RATE_LIMIT_KEY_CREATES_PER_HOUR": "1"})
	c.want(c.do("one creation an hour: creation", "POST", oneCreation.URL+path, env.Token(t, creator), showBody(creatorShow.ID), nil, true), 200, "")
	c.want(c.do("one creation an hour: rotation", "POST", oneCreation.URL+rotatePath, env.Token(t, creator), showBody(creatorShow.ID), nil, true),
		429, "Too many requests")

	// The MFA gate, on a replica of its own: the issuer's tokens are aal1.
	gated := start(t, env, map[string]string{"REQUIRE_MFA": "true"})
	c.want(c.do("MFA required: get with aal1", "POST", gated.URL+path, token, showBody(show.ID), nil, true), 403, "Multi-factor authentication required")
	c.want(c.do("MFA required: rotate with aal1", "POST", gated.URL+rotatePath, token, showBody(show.ID), nil, true), 403, "Multi-factor authentication required")
	c.want(c.do("MFA required: revoke with aal1", "POST", gated.URL+revokePath, token, showBody(show.ID), nil, true), 403, "Multi-factor authentication required")
	c.want(c.do("MFA required: audit with aal1", "GET", gated.URL+auditPath+"?showId="+show.ID, token, "", nil, true), 200, "")

	// The key set down, on a replica that has not fetched it yet.
	env.Issuer.SetDown(true)
	blind := start(t, env, nil)
	c.want(c.do("JWKS down", "POST", blind.URL+path, token, showBody(show.ID), nil, true), 503, "Service unavailable")
	c.want(c.do("JWKS down: audit", "GET", blind.URL+auditPath, token, "", nil, true), 503, "Service unavailable")
	env.Issuer.SetDown(false)

	// Last: the database taken away under the running service.
	u, err := url.Parse(env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, pgtest.AdminURL(t), "DROP DATABASE "+strings.TrimPrefix(u.Path, "/")+" WITH (FORCE)")
	c.want(c.do("get: database down", "POST", get, token, showBody(show.ID), nil, true), 500, "Internal server error")
	c.want(c.do("revoke: database down", "POST", revoke, token, showBody(show.ID), nil, true), 500, "Internal server error")
	c.want(c.do("audit: database down", "GET", audit+"?showId="+show.ID, token, "", nil, true), 500, "Internal server error")
	c.want(c.do("status: database down", "GET", status+"?showId="+show.ID, token, "", nil, true), 500, "Internal server error")
	// /readyz reuses its answer for a second: wait for the cached "up" to go.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if r := call(t, http.MethodGet, svc.URL+"/readyz", "", "", nil); r.Status != 200 {
			break
		}
	}
	c.want(c.do("readyz: database down", "GET", svc.URL+"/readyz", "", "", nil, true), 503, "Service unavailable")
	c.want(c.do("readyz HEAD: database down", "HEAD", svc.URL+"/readyz", "", "", nil, true), 503, "")

	// Every exchange against the contract.
	produced := map[httpapi.ErrorTableRow]bool{}
	for _, x := range c.exchanges {
		if m := x.errorMessage(); m != "" {
			produced[httpapi.ErrorTableRow{Status: x.resp.StatusCode, Message: m}] = true
		}
		spec.validate(t, x)
		for _, secret := range x.secrets { // the redaction itself
			if secret != "" && strings.Contains(x.String(), secret) {
				t.Errorf("%s: the failure message would show a secret of the exchange", x.name)
			}
		}
	}
	if keys := bytes.Count(bytes.Join(bodies(c.exchanges), nil), []byte(`"streamKey":"sk_`)); keys < 5 {
		t.Errorf("%d answers carried a key, want at least 5: the redaction check above would be nearly empty", keys)
	}

	// A row added to the error table without a case here fails the test.
	for i, row := range append(httpapi.ErrorTableRows(), httpapi.ErrorTableRow{Status: 500, Message: "Internal server error"}) {
		if !produced[row] {
			t.Errorf("error table row %d (%d %q): no case above produces it, so its answer is not checked against the contract", i, row.Status, row.Message)
		}
	}
}

func bodies(xs []*exchange) [][]byte {
	out := make([][]byte, len(xs))
	for i, x := range xs {
		out[i] = x.body
	}
	return out
}

// validate checks x against the contract: request and answer when the
// request is one the contract describes; the answer, and that the contract
// refuses the request, when it is not. Answers to paths or methods the
// contract does not list are checked against its NotFound and
// MethodNotAllowed responses.
func (c *contract) validate(t *testing.T, x *exchange) {
	t.Helper()
	switch x.resp.StatusCode {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		if x.errorMessage() != "Show not found" {
			c.validateUnlisted(t, x)
			return
		}
	}
	if x.conforms {
		if ok, errs := c.v.ValidateHttpRequestResponse(x.request(), x.response()); !ok {
			t.Errorf("%s: %s\ndoes not match api/openapi.yaml:\n%s", x.name, x, describe(errs, x))
		}
		return
	}
	if ok, errs := c.v.ValidateHttpResponse(x.request(), x.response()); !ok {
		t.Errorf("%s: %s\nanswer does not match api/openapi.yaml:\n%s", x.name, x, describe(errs, x))
	}
	if ok, _ := c.v.ValidateHttpRequest(x.request()); ok {
		t.Errorf("%s: api/openapi.yaml accepts the request %s, which the service refuses", x.name, x)
	}
}

// validateUnlisted checks a 404 or 405 answer against the contract's
// NotFound or MethodNotAllowed response.
func (c *contract) validateUnlisted(t *testing.T, x *exchange) {
	t.Helper()
	name := map[int]string{http.StatusNotFound: "NotFound", http.StatusMethodNotAllowed: "MethodNotAllowed"}[x.resp.StatusCode]
	r := c.model.Components.Responses.GetOrZero(name)
	if r == nil {
		t.Fatalf("api/openapi.yaml has no components.responses.%s", name)
	}
	if ok, errs := responses.ValidateResponseHeaders(x.request(), x.response(), r.Headers, x.req.URL.Path,
		strconv.Itoa(x.resp.StatusCode), config.WithFormatAssertions()); !ok {
		t.Errorf("%s: %s\nheaders do not match components.responses.%s:\n%s", x.name, x, name, describe(errs, x))
	}
	mt := r.Content.GetOrZero("application/json")
	if ct := x.resp.Header.Get("Content-Type"); mt == nil || ct != "application/json" {
		t.Fatalf("%s: Content-Type %q, want the application/json of components.responses.%s", x.name, ct, name)
	}
	sv := schema_validation.NewSchemaValidator(config.WithFormatAssertions())
	if ok, errs := sv.ValidateSchemaBytes(mt.Schema.Schema(), x.body); !ok {
		t.Errorf("%s: %s\nbody does not match components.responses.%s:\n%s", x.name, x, name, describe(errs, x))
	}
}

// TestOpenAPIListsEveryRoute checks routes.go and api/openapi.yaml against
// each other: every route is in the contract, and every operation of the
// contract is a route.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	t.Parallel()
	spec := newContract(t)
	routes := registeredRoutes(t)
	if len(routes) < 10 {
		t.Fatalf("found %d routes in routes.go, want the dozen or more it registers: %v", len(routes), routes)
	}
	served := map[string]bool{}
	for _, r := range routes {
		served[r] = true
	}
	listed := map[string]bool{}
	for p, item := range spec.model.Paths.PathItems.FromOldest() {
		listed[p] = true
		for m := range item.GetOperations().KeysFromOldest() {
			m = strings.ToUpper(m)
			listed[m+" "+p] = true
			if !served[m+" "+p] && !(m == http.MethodHead && served["GET "+p]) {
				t.Errorf("api/openapi.yaml lists %s %s, which routes.go does not serve", m, p)
			}
		}
		if !served[p] {
			t.Errorf("routes.go has no method-less route for %s, so other methods would not answer 405", p)
		}
	}
	for _, r := range routes {
		if r != "/" && !listed[r] {
			t.Errorf("routes.go serves %q, which api/openapi.yaml does not list", r)
		}
	}
}

// registeredRoutes returns the patterns routes.go registers, as it registers
// them, so that a route added there without a contract fails the test.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	return httpapi.RegisteredRoutes()
}
