package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/logging"
)

// logLine is what a request's log line says beyond its method, path and
// status. Why it rides the context: the line is written by requestContext,
// the outermost middleware, once the answer is out, but what it reports is
// learned deep inside (the user once authed verifies the token, the show
// once the handler reads it, the error once writeError answers it), past
// the mux and middleware that take only an http.Handler. The log is its
// only reader; the audit row is never built from it (see exchange).
type logLine struct {
	userID string
	showID string
	// eventKind and eventOutcome say what an IVS event was and what
	// applying it did (POST /functions/v1/ivs-events); never its body.
	eventKind    string
	eventOutcome string
	err          error
}

type logLineKey struct{}

// logLineOf returns the log line of the request ctx belongs to; outside
// requestContext, one nobody reads.
func logLineOf(ctx context.Context) *logLine {
	if l, ok := ctx.Value(logLineKey{}).(*logLine); ok {
		return l
	}
	return &logLine{}
}

// requestContext gives each request its id (always generated here: an
// incoming X-Request-Id is ignored, so log lines cannot be forged or
// confused), answers with it, and logs one line when the request ends.
func (s *server) requestContext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := ingest.NewID()
		line := &logLine{}
		// Every database and IVS call of the request inherits this bound.
		ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
		defer cancel()
		ctx = logging.WithRequestID(ctx, id)
		ctx = context.WithValue(ctx, logLineKey{}, line)

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
			slog.String("client_ip", s.clientIPs.of(r)),
		}
		if line.userID != "" {
			attrs = append(attrs, slog.String("user_id", line.userID))
		}
		if line.showID != "" {
			attrs = append(attrs, slog.String("show_id", line.showID))
		}
		if line.eventKind != "" {
			attrs = append(attrs, slog.String("event_kind", line.eventKind))
		}
		if line.eventOutcome != "" {
			attrs = append(attrs, slog.String("event_outcome", line.eventOutcome))
		}
		level := slog.LevelInfo
		if line.err != nil {
			attrs = append(attrs, slog.String("error", line.err.Error()))
			if rec.status() >= 500 {
				level = slog.LevelError
			}
		}
		s.logger.LogAttrs(ctx, level, "request", attrs...)
	})
}

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
