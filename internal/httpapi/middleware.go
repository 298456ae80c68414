package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/limit"
	"github.com/ivs-ingest/ivs-ingest/internal/logging"
	"github.com/ivs-ingest/ivs-ingest/internal/metrics"
)

// routeLabel is the metrics label of a request's route: its pattern without
// the method, or "unmatched" for a path no route serves. Never the raw path,
// which a client chooses and which could carry ids.
func routeLabel(pattern string) string {
	if _, p, ok := strings.Cut(pattern, " "); ok {
		pattern = p
	}
	if pattern == "" || pattern == "/" {
		return "unmatched"
	}
	return pattern
}

// methodLabel bounds the method label to the methods the service knows.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodOptions,
		http.MethodPut, http.MethodPatch, http.MethodDelete:
		return m
	}
	return "other"
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

// writeError answers with err's status and message from errorTable and logs
// it once: client errors at debug, server errors at error with their detail.
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
		audited *ingest.AuditedError
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
	if info := infoFrom(r.Context()); info != nil {
		info.err = err
		// A change that failed part way wrote its row with what it did.
		if errors.As(err, &audited) && audited.RequestID == info.requestID {
			info.audited = true
		}
		if aerr := s.audit(r, status); aerr != nil {
			s.logger.ErrorContext(r.Context(), "audit row not written", "error", aerr.Error())
		}
	}
	writeJSON(w, status, body)
}

type errorBody struct {
	Error      string `json:"error"`
	RetryAfter int    `json:"retryAfter,omitempty"`
}

// requestInfo is what the request log line says about a request beyond its
// method, path and status. Handlers fill it in.
type requestInfo struct {
	requestID    string
	userID       string // set once the token is verified
	showID       string
	impersonated string
	sellerID     string
	keyARN       string
	reason       string
	action       ingest.Action
	audited      bool
	err          error
}

type requestInfoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}

// requestContext gives each request its id (always generated here: an
// incoming X-Request-Id is ignored, so log lines cannot be forged or
// confused), answers with it, and logs one line when the request ends.
func (s *server) requestContext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := ingest.NewID()
		info := &requestInfo{requestID: id}
		// Every database and IVS call of the request inherits this bound.
		ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
		defer cancel()
		ctx = logging.WithRequestID(ctx, id)
		ctx = context.WithValue(ctx, requestInfoKey{}, info)

		w.Header().Set("X-Request-Id", id)
		w.Header().Set("Cache-Control", "no-store")
		rec := &statusRecorder{ResponseWriter: w}
		// The mux records the matched pattern on the request it is given.
		routed := r.WithContext(ctx)
		next.ServeHTTP(rec, routed)
		s.metrics.Request(routeLabel(routed.Pattern), methodLabel(r.Method), rec.status(), time.Since(start))

		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status()),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		}
		if info.userID != "" {
			attrs = append(attrs, slog.String("user_id", info.userID))
		}
		if info.showID != "" {
			attrs = append(attrs, slog.String("show_id", info.showID))
		}
		level := slog.LevelInfo
		if info.err != nil {
			attrs = append(attrs, slog.String("error", info.err.Error()))
			if rec.status() >= 500 {
				level = slog.LevelError
			}
		}
		s.logger.LogAttrs(ctx, level, "request", attrs...)
	})
}

// cleanPaths answers 404 to a path that is not in canonical form, which
// ServeMux would otherwise redirect with a bodiless 301/307.
func (s *server) cleanPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p != "/" && (path.Clean(p) != p || !strings.HasPrefix(p, "/")) {
			s.writeError(w, r, errNotFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into a 500 answer and a log line with the stack.
func (s *server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logger.ErrorContext(r.Context(), "panic serving request",
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if rec, ok := w.(*statusRecorder); ok && rec.code != 0 {
				return // too late for another answer
			}
			s.writeError(w, r, errors.New("panic"))
		}()
		next.ServeHTTP(w, r)
	})
}

// limitBody refuses bodies over MaxBodyBytes: early when the client declares
// the length, else while the handler reads.
func (s *server) limitBody(next handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if r.ContentLength > MaxBodyBytes {
			return errBodyTooLarge
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		return next(w, r)
	}
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// cors implements the CORS headers Supabase functions send.
type cors struct {
	anyOrigin bool
	origins   map[string]bool
}

// The headers supabase-js and functions-js send (see docs), plus ours.
const (
	corsAllowHeaders  = "authorization, x-client-info, apikey, content-type, x-impersonate-seller-id, x-region, x-retry-count, traceparent, tracestate, baggage"
	corsAllowMethods  = "POST, OPTIONS"
	corsExposeHeaders = "X-Request-Id, Retry-After"
)

func newCORS(origins []string) cors {
	c := cors{origins: make(map[string]bool)}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		if o == "*" {
			c.anyOrigin = true
		}
		if o != "" {
			c.origins[strings.TrimRight(o, "/")] = true
		}
	}
	if len(c.origins) == 0 {
		c.anyOrigin = true
	}
	return c
}

// middleware puts the CORS headers on every response, errors included:
// without them a browser reports any refusal as a network failure.
func (c cors) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if c.anyOrigin {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Add("Vary", "Origin")
			if origin := r.Header.Get("Origin"); c.origins[origin] {
				h.Set("Access-Control-Allow-Origin", origin)
			}
		}
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		next.ServeHTTP(w, r)
	})
}

// preflight answers a CORS preflight for a route serving methods.
func preflight(methods string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Methods", methods)
		w.Header().Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
	})
}
