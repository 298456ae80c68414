package httpapi

import "net/http"

// routes lists every route. The middleware that wraps them all (request id,
// logging, panic recovery, CORS) is applied in NewServer.
func (s *server) routes(mux *http.ServeMux) {
	const getIngest = "/functions/v1/get-ivs-ingest"
	mux.Handle("POST "+getIngest, s.handle(s.limitBody(s.getIngestDetails)))
	mux.Handle("OPTIONS "+getIngest, preflight())
	mux.Handle(getIngest, s.handle(methodNotAllowed("POST, OPTIONS")))

	mux.Handle("GET /healthz", s.handle(healthz))
	mux.Handle("/healthz", s.handle(methodNotAllowed("GET, HEAD")))
	mux.Handle("GET /readyz", s.handle(s.readyz))
	mux.Handle("/readyz", s.handle(methodNotAllowed("GET, HEAD")))

	mux.Handle("/", s.handle(notFound))
}
