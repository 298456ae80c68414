package httpapi

import (
	"net/http"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// routes lists every route with its middleware and authentication. What
// wraps them all (request id, deadline, log line, panic recovery, CORS,
// path cleaning) is applied in NewServer.
func (s *server) routes(mux router) {
	s.endpoint(mux, "POST", "/functions/v1/get-ivs-ingest", limitBody(s.authed(ingest.ActionGet, getIngest(s.ingest))))
	s.endpoint(mux, "POST", "/functions/v1/rotate-ivs-stream-key", limitBody(s.authed(ingest.ActionRotate, rotateKey(s.ingest))))
	s.endpoint(mux, "POST", "/functions/v1/revoke-ivs-stream-key", limitBody(s.authed(ingest.ActionRevoke, revokeKey(s.ingest))))
	s.endpoint(mux, "GET", "/functions/v1/ivs-audit", s.authed(ingest.ActionAuditRead, readAudit(s.ingest)))
	if s.streamViews != nil {
		s.endpoint(mux, "GET", "/functions/v1/ivs-stream-status", s.watched(streamStatus(s.ingest, s.streamViews)))
	}
	if s.streamEvents != nil {
		// Machine to machine (an EventBridge API destination): no
		// preflight, no request limit, its own token.
		s.machine(mux, "POST", "/functions/v1/ivs-events", limitBody(ivsEvents(s.streamEvents, s.eventsToken)))
	}

	s.readOnly(mux, "/healthz", healthz)
	s.readOnly(mux, "/readyz", readyz(s.ready))
	s.readOnly(mux, "/metrics", serveMetrics(s.metricsHandler, s.metricsToken))
	s.readOnly(mux, "/openapi.yaml", openAPI)

	mux.Handle("/", s.handle(notFound))
}

// router is where routes registers its patterns: an *http.ServeMux (or, in
// tests, a recorder of the patterns).
type router interface {
	Handle(pattern string, h http.Handler)
}

// endpoint registers an API endpoint answering method at path, the CORS
// preflight for it, and 405 for any other method. Each of them names the
// endpoint's methods in Allow (on a 405) and Access-Control-Allow-Methods.
func (s *server) endpoint(mux router, method, path string, h handlerFunc) {
	allow := method + ", OPTIONS"
	refuse := methodNotAllowed(allow)
	mux.Handle(method+" "+path, allowMethods(allow, s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if r.Method != method {
			// A GET pattern also matches HEAD, which would run the
			// endpoint (and write its audit row) for an answer without
			// a body.
			return refuse(w, r)
		}
		return h(w, r)
	})))
	mux.Handle("OPTIONS "+path, allowMethods(allow, http.HandlerFunc(preflight)))
	mux.Handle(path, allowMethods(allow, s.handle(refuse)))
}

// readOnly registers a resource for machines (probes, scrapers, tools) at
// path: GET and HEAD, no CORS preflight, 405 for any other method.
func (s *server) readOnly(mux router, path string, h handlerFunc) {
	const allow = "GET, HEAD"
	mux.Handle("GET "+path, allowMethods(allow, s.handle(h)))
	mux.Handle(path, allowMethods(allow, s.handle(methodNotAllowed(allow))))
}

// machine registers an endpoint for machines at path: method only, no CORS
// preflight (no browser is meant to call it), 405 for any other method.
func (s *server) machine(mux router, method, path string, h handlerFunc) {
	mux.Handle(method+" "+path, allowMethods(method, s.handle(h)))
	mux.Handle(path, allowMethods(method, s.handle(methodNotAllowed(method))))
}

func notFound(w http.ResponseWriter, r *http.Request) error { return errNotFound }

func methodNotAllowed(allow string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		return errMethodNotAllowed
	}
}
