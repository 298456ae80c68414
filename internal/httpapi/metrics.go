package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"

	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// serveMetrics serves registry (nil: 404), behind token when one is set.
func serveMetrics(registry http.Handler, token secret.String) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if registry == nil {
			return errNotFound
		}
		if !token.IsZero() {
			got, err := bearerToken(r)
			if err != nil {
				return fmt.Errorf("%w: %w", errMetricsToken, err)
			}
			// Why hashes: ConstantTimeCompare is constant-time only for inputs
			// of equal length; comparing digests hides the token's length too.
			gotSum, wantSum := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(token.Reveal()))
			if subtle.ConstantTimeCompare(gotSum[:], wantSum[:]) != 1 {
				return errMetricsToken
			}
		}
		registry.ServeHTTP(w, r)
		return nil
	}
}
