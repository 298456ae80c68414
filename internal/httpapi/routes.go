package httpapi

import "net/http"

// routes lists every route. The middleware that wraps them all (request id,
// deadline, logging, panic recovery, CORS) is applied in NewServer.
func (s *server) routes(mux *http.ServeMux) {
	const (
		getIngest = "/functions/v1/get-ivs-ingest"
		rotate    = "/functions/v1/rotate-ivs-stream-key"
		revoke    = "/functions/v1/revoke-ivs-stream-key"
		auditLog  = "/functions/v1/ivs-audit"
	)
	mux.Handle("POST "+getIngest, s.handle(s.limitBody(s.getIngestDetails)))
	mux.Handle("OPTIONS "+getIngest, preflight("POST, OPTIONS"))
	mux.Handle(getIngest, s.handle(methodNotAllowed("POST, OPTIONS")))

	mux.Handle("POST "+rotate, s.handle(s.limitBody(s.rotateStreamKey)))
	mux.Handle("OPTIONS "+rotate, preflight("POST, OPTIONS"))
	mux.Handle(rotate, s.handle(methodNotAllowed("POST, OPTIONS")))

	mux.Handle("POST "+revoke, s.handle(s.limitBody(s.revokeStreamKey)))
	mux.Handle("OPTIONS "+revoke, preflight("POST, OPTIONS"))
	mux.Handle(revoke, s.handle(methodNotAllowed("POST, OPTIONS")))

	mux.Handle("GET "+auditLog, s.handle(s.readAudit))
	mux.Handle("OPTIONS "+auditLog, preflight("GET, OPTIONS"))
	mux.Handle(auditLog, s.handle(methodNotAllowed("GET, OPTIONS")))

	mux.Handle("GET /healthz", s.handle(healthz))
	mux.Handle("/healthz", s.handle(methodNotAllowed("GET, HEAD")))
	mux.Handle("GET /readyz", s.handle(s.readyz))
	mux.Handle("/readyz", s.handle(methodNotAllowed("GET, HEAD")))
	mux.Handle("GET /metrics", s.handle(s.serveMetrics))
	mux.Handle("/metrics", s.handle(methodNotAllowed("GET, HEAD")))
	mux.Handle("GET /openapi.yaml", s.handle(openAPI))
	mux.Handle("/openapi.yaml", s.handle(methodNotAllowed("GET, HEAD")))

	mux.Handle("/", s.handle(notFound))
}
