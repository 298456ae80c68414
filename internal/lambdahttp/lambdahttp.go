// Package lambdahttp serves an http.Handler to AWS Lambda function URLs and
// API Gateway HTTP APIs, whose events use the same HTTP payload format 2.0.
//
// It converts each event into an *http.Request, runs the handler on it with
// a buffering ResponseWriter, and converts what the handler wrote into the
// 2.0 response. The handler cannot tell the request from one net/http's
// server would give it, so ivs-ingest serves the same answers in Lambda as
// over HTTP.
//
// What the handler may trust: RemoteAddr is the event's
// requestContext.http.sourceIp, which AWS fills in from the connection, not
// from anything the client sent. Everything else AWS passes in headers is the
// client's to choose, so headers that claim to say where a request came from,
// or that other Lambda adapters use to carry the event's context, are removed
// (see strippedHeaders). This package passes the event's context the other
// way, through the request's context.Context (see Event), never in headers.
//
// With WithEventBridge, it also takes the events an EventBridge rule hands
// the function directly (the rule's target is the function): recognised by
// their shape, they go to the configured function, not to the HTTP handler.
// Every other event that is not an HTTP one still fails the invocation.
package lambdahttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
)

// Handler is a Lambda handler (it implements lambda.Handler) serving an
// http.Handler to HTTP payload format 2.0 events. It is safe for concurrent
// use, as Lambda's managed instances invoke it.
type Handler struct {
	next   http.Handler
	logger *slog.Logger
	// eventBridge applies an EventBridge event; nil: such events fail as
	// any other that is not an HTTP one.
	eventBridge func(ctx context.Context, raw []byte) error

	mu       sync.Mutex
	inflight sync.WaitGroup
	draining bool
}

// New returns a Handler serving next. logger receives the few lines the
// adapter writes itself (a panic, an event it cannot read); nil discards them.
func New(next http.Handler, logger *slog.Logger, opts ...Option) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{next: next, logger: logger}
	for _, opt := range opts {
		opt(h)
	}
	return h
}

// Option configures a Handler.
type Option func(*Handler)

// WithEventBridge hands apply the EventBridge events a rule gives the
// function directly, whole (raw is the event's JSON): in ivs-ingest, IVS's
// stream events, for streamstatus.Service.Receive. Such an event carries no
// token: the function's invoke permission, which only the rule is granted,
// is what authenticates it.
//
// An error of apply matching streamstatus.ErrMalformed is logged and the
// invocation succeeds: the event would fail the same way every time, and
// Lambda must not retry it (apply counts it). Any other error fails the
// invocation, so that Lambda retries the event (an asynchronous invocation
// is retried twice, then goes to the function's failure destination).
func WithEventBridge(apply func(ctx context.Context, raw []byte) error) Option {
	return func(h *Handler) { h.eventBridge = apply }
}

// Response is the HTTP payload format 2.0 response, which function URLs and
// HTTP APIs both read. Multi-valued headers are joined with commas, as the
// format requires, except Set-Cookie, whose values go in Cookies: they may
// themselves contain commas.
type Response struct {
	StatusCode      int               `json:"statusCode"`
	Headers         map[string]string `json:"headers,omitempty"`
	Cookies         []string          `json:"cookies,omitempty"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
}

// deadlineReserve is how long before the Lambda deadline a request's context
// ends. Why: when the work runs out of time the service still answers (its own
// 500 or 503) and writes the request's audit row; without the reserve Lambda
// would kill the invocation first, the client would get a bare 502 from AWS
// and the audit row would be lost. Short deadlines keep half their time.
const deadlineReserve = time.Second

// errDraining refuses invocations after Drain: the service they need is
// being closed.
var errDraining = errors.New("lambdahttp: shutting down")

// Invoke serves one event: payload is the event's JSON, and the answer is the
// 2.0 response's JSON. It returns an error, which Lambda reports as a failed
// invocation (a 502 to the client), only for a payload that is not an HTTP
// payload format 2.0 event, for a handler that panicked, and after Drain.
// The error never quotes the payload.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	h.mu.Lock()
	if h.draining {
		h.mu.Unlock()
		return nil, errDraining
	}
	h.inflight.Add(1)
	h.mu.Unlock()
	defer h.inflight.Done()

	if h.eventBridge != nil && isEventBridgeEvent(payload) {
		return h.serveEventBridge(ctx, payload)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		// Not err: a syntax error's message may quote the payload.
		h.logger.ErrorContext(ctx, "lambda event is not JSON")
		return nil, errors.New("lambdahttp: the event is not JSON")
	}
	resp, err := h.Serve(ctx, &ev)
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

// eventBridgeFields are the fields every EventBridge event has, and
// httpFields those of the HTTP events (payload formats 1.0 and 2.0).
var (
	eventBridgeFields = []string{"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
	httpFields        = []string{"requestContext", "rawPath", "routeKey", "httpMethod", "headers"}
)

// isEventBridgeEvent reports whether payload has the shape of an event an
// EventBridge rule hands a function: a JSON object with every field of an
// EventBridge event and none of an HTTP event.
func isEventBridgeEvent(payload []byte) bool {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil {
		return false
	}
	for _, f := range eventBridgeFields {
		if _, ok := fields[f]; !ok {
			return false
		}
	}
	for _, f := range httpFields {
		if _, ok := fields[f]; ok {
			return false
		}
	}
	return true
}

// serveEventBridge applies an EventBridge event (see WithEventBridge). Its
// answer is ignored by EventBridge's asynchronous invocation; what matters
// is whether it fails.
func (h *Handler) serveEventBridge(ctx context.Context, payload []byte) (_ []byte, err error) {
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, requestDeadline(time.Now(), deadline))
		defer cancel()
	}
	defer func() {
		if v := recover(); v != nil {
			h.logger.ErrorContext(ctx, "panic applying an eventbridge event",
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = errors.New("lambdahttp: applying the eventbridge event panicked")
		}
	}()
	err = h.eventBridge(ctx, payload)
	switch {
	case errors.Is(err, streamstatus.ErrMalformed):
		// The error never quotes the event (ParseEvent's promise).
		h.logger.WarnContext(ctx, "eventbridge event is malformed: dropped", "error", err.Error())
		return []byte("null"), nil
	case err != nil:
		h.logger.ErrorContext(ctx, "eventbridge event not applied: lambda retries it", "error", err.Error())
		return nil, fmt.Errorf("lambdahttp: eventbridge event not applied: %w", err)
	}
	return []byte("null"), nil
}

// Serve answers ev with the wrapped handler. ev is a function URL or HTTP API
// event in payload format 2.0 (events.LambdaFunctionURLRequest has a subset of
// the same fields). The request's context is ctx, ending deadlineReserve
// before ctx's deadline, and carries ev (see Event).
func (h *Handler) Serve(ctx context.Context, ev *events.APIGatewayV2HTTPRequest) (*Response, error) {
	if ev.Version != "2.0" || ev.RequestContext.HTTP.Method == "" {
		h.logger.ErrorContext(ctx, "lambda event is not an HTTP payload format 2.0 event",
			"version", ev.Version, "route_key", ev.RouteKey)
		return nil, fmt.Errorf("lambdahttp: event version %q is not an HTTP payload format 2.0 event (function URL, or HTTP API with payload format 2.0)", ev.Version)
	}
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, requestDeadline(time.Now(), deadline))
		defer cancel()
	}
	ctx = context.WithValue(ctx, eventKey{}, ev)

	req, err := newRequest(ctx, ev)
	if err != nil {
		// What net/http's server answers to a request line it cannot parse.
		h.logger.DebugContext(ctx, "lambda event has a malformed request", "error", err.Error())
		return &Response{
			StatusCode: http.StatusBadRequest,
			Headers:    map[string]string{"Content-Type": "text/plain; charset=utf-8"},
			Body:       "400 Bad Request",
		}, nil
	}
	w := &responseWriter{header: make(http.Header)}
	if err := h.serveHTTP(w, req); err != nil {
		return nil, err
	}
	return w.response(req.Method), nil
}

// serveHTTP runs the handler, turning a panic into an error as net/http's
// server turns one into a closed connection: the invocation fails, and the
// process goes on serving the next ones.
func (h *Handler) serveHTTP(w *responseWriter, req *http.Request) (err error) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v != http.ErrAbortHandler {
			h.logger.ErrorContext(req.Context(), "panic serving lambda event",
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
		err = errors.New("lambdahttp: the handler panicked")
	}()
	h.next.ServeHTTP(w, req)
	return nil
}

// Drain refuses new invocations and waits, until ctx ends, for those in
// flight. It is for shutdown, before closing what the handler uses.
func (h *Handler) Drain(ctx context.Context) error {
	h.mu.Lock()
	h.draining = true
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		h.inflight.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("lambdahttp: invocations still running: %w", ctx.Err())
	}
}

// requestDeadline is when a request's context ends for an invocation that
// Lambda ends at deadline.
func requestDeadline(now, deadline time.Time) time.Time {
	left := deadline.Sub(now)
	if left > 2*deadlineReserve {
		return deadline.Add(-deadlineReserve)
	}
	return now.Add(left / 2)
}

type eventKey struct{}

// Event returns the Lambda event a request was made from, for what only AWS
// knows (its request id, the API and stage, an authorizer's claims). This is
// how the adapter passes context to the handler: a client can set any
// header, but cannot reach a request's context.Context.
func Event(ctx context.Context) (*events.APIGatewayV2HTTPRequest, bool) {
	ev, ok := ctx.Value(eventKey{}).(*events.APIGatewayV2HTTPRequest)
	return ev, ok
}

// strippedHeaders are removed from every request. Why: each names the
// client's address or the request's original host or scheme (X-Forwarded-*,
// Forwarded and their non-standard cousins), or is a header other Lambda
// adapters use to carry the event's context (aws-lambda-web-adapter's
// X-Amzn-Request-Context and X-Amzn-Lambda-Context, aws-lambda-go-api-proxy's
// X-GoLambdaProxy-*). In the event they hold what the client sent (AWS
// appends to X-Forwarded-For what the client put there), so code that ever
// trusted them could be lied to; the client's address is RemoteAddr, from
// requestContext.http.sourceIp. Over HTTP, ivs-ingest believes
// X-Forwarded-For from the proxies in TRUSTED_PROXIES only; stripping it here
// keeps Lambda's client the source IP even when that variable names it.
var strippedHeaders = []string{
	"Forwarded",
	"X-Forwarded-For",
	"X-Forwarded-Host",
	"X-Forwarded-Port",
	"X-Forwarded-Proto",
	"X-Forwarded-Server",
	"X-Real-Ip",
	"X-Client-Ip",
	"True-Client-Ip",
	"X-Original-Forwarded-For",
	"X-Amzn-Request-Context",
	"X-Amzn-Lambda-Context",
}

// strippedPrefixes are header name prefixes removed like strippedHeaders.
var strippedPrefixes = []string{"X-Golambdaproxy-"}

// newRequest builds the request net/http's server would have made of the
// client's request, from what the event says of it.
func newRequest(ctx context.Context, ev *events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	// rawPath and rawQueryString are what the client sent, still escaped.
	uri := ev.RawPath
	if uri == "" {
		uri = "/"
	}
	if ev.RawQueryString != "" {
		uri += "?" + ev.RawQueryString
	}
	// The errors below do not wrap what they found wrong: it is the
	// client's, and may hold anything.
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, errors.New("rawPath and rawQueryString are not a request URI")
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, errors.New("body is not valid base64")
		}
	}
	proto := ev.RequestContext.HTTP.Protocol
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		proto, major, minor = "HTTP/1.1", 1, 1
	}

	req, err := http.NewRequestWithContext(ctx, ev.RequestContext.HTTP.Method, "/", bytes.NewReader(body))
	if err != nil {
		return nil, errors.New("the method is not a valid token")
	}
	req.URL = u
	req.RequestURI = uri
	req.Proto, req.ProtoMajor, req.ProtoMinor = proto, major, minor
	for name, value := range ev.Headers {
		// 2.0 events carry one value per name, repeated headers joined
		// with commas: Get sees what it would over HTTP.
		req.Header.Add(name, value)
	}
	for _, name := range strippedHeaders {
		req.Header.Del(name)
	}
	for name := range req.Header {
		for _, p := range strippedPrefixes {
			if strings.HasPrefix(name, p) {
				req.Header.Del(name)
			}
		}
	}
	if len(ev.Cookies) > 0 {
		// 2.0 events move the Cookie header's pairs into cookies.
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	// The body is whole: its length is known, whatever the client declared.
	// The handler's body limit sees it before reading, as it sees a
	// declared Content-Length over HTTP, and answers the same 413.
	req.Header.Del("Transfer-Encoding")
	req.Header.Del("Content-Length")
	req.ContentLength = int64(len(body))
	if len(body) == 0 {
		req.Body = http.NoBody
	}
	req.Host = req.Header.Get("Host")
	if req.Host == "" {
		req.Host = ev.RequestContext.DomainName
	}
	req.Header.Del("Host") // net/http's server moves it to req.Host too
	req.RemoteAddr = remoteAddr(ev.RequestContext.HTTP.SourceIP)
	return req, nil
}

// remoteAddr gives sourceIP the host:port form of net/http's RemoteAddr
// (port 0: the event does not say), so that code taking the host part off
// works on IPv6 addresses too. Anything that is not an IP address, like the
// placeholder of a console test event, gives "": no address rather than a
// made-up one.
func remoteAddr(sourceIP string) string {
	ip := net.ParseIP(sourceIP)
	if ip == nil {
		return ""
	}
	return net.JoinHostPort(ip.String(), "0")
}

// responseWriter buffers the handler's answer. Like net/http's, it takes the
// headers as they are at WriteHeader, and the first status written.
type responseWriter struct {
	header  http.Header
	sent    http.Header // header at WriteHeader
	status  int
	body    strings.Builder
	written bool
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.written || code < 200 {
		// Informational answers (1xx) cannot be relayed; the final one
		// follows.
		return
	}
	w.written = true
	w.status = code
	w.sent = w.header.Clone()
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	return w.body.Write(p)
}

// bodyAllowed reports whether an answer with status may have a body.
func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified && status >= 200
}

// response is the 2.0 response for what was written in answer to a request
// with method.
func (w *responseWriter) response(method string) *Response {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	body := w.body.String()
	if method == http.MethodHead {
		body = ""
	}
	header := w.sent
	if body != "" && header.Get("Content-Type") == "" {
		// As net/http's server does for a handler that did not say.
		header.Set("Content-Type", http.DetectContentType([]byte(body)))
	}
	resp := &Response{StatusCode: w.status, Body: body}
	for name, values := range header {
		if name == "Set-Cookie" {
			resp.Cookies = append(resp.Cookies, values...)
			continue
		}
		if resp.Headers == nil {
			resp.Headers = make(map[string]string, len(header))
		}
		resp.Headers[name] = strings.Join(values, ", ")
	}
	if body != "" && !isText(header.Get("Content-Type"), body) {
		resp.Body = base64.StdEncoding.EncodeToString([]byte(body))
		resp.IsBase64Encoded = true
	}
	return resp
}

// isText reports whether body, of contentType, can travel as a JSON string
// unchanged: a textual media type, and valid UTF-8 (which JSON strings must
// be; anything else would be altered in transit).
func isText(contentType, body string) bool {
	if !utf8.ValidString(body) {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	switch mt {
	case "application/json", "application/xml", "application/javascript",
		"application/x-www-form-urlencoded", "application/problem+json":
		return true
	}
	return false
}
