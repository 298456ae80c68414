package httpapi

import (
	"net/http"
	"strconv"

	"github.com/ivs-ingest/ivs-ingest/api"
)

// openAPI serves GET /openapi.yaml: the contract the binary was built with,
// byte for byte. It needs no token, and the CORS middleware lets any allowed
// origin fetch it (Swagger UI hosted elsewhere, say).
func openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Content-Length", strconv.Itoa(len(api.Spec)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(api.Spec)
	}
	return nil
}
