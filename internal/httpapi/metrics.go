package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
)

// serveMetrics serves the Prometheus registry, behind METRICS_TOKEN when one
// is set.
func (s *server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	if s.scrape == nil {
		return errNotFound
	}
	if !s.scrapeToken.IsZero() {
		token, err := bearerToken(r)
		if err != nil {
			return fmt.Errorf("%w: %w", errMetricsToken, err)
		}
		// Why hashes: ConstantTimeCompare is constant-time only for inputs
		// of equal length; comparing digests hides the token's length too.
		got, want := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(s.scrapeToken.Reveal()))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return errMetricsToken
		}
	}
	s.scrape.ServeHTTP(w, r)
	return nil
}
