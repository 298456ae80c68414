package auth

import (
	"context"
	"log/slog"
	"net/http"
)

// ProbeJWKS fetches the key set at jwksURL once and counts the keys a
// Verifier would use and those it would skip, judging them with the
// Verifier's own download and parser. It is for `ivs-ingest doctor`; the
// service itself never calls it. A nil client means one with a 5 s timeout.
//
// The error says what went wrong (connection refused, status 503, not a key
// set) without repeating the URL, which may carry credentials: the caller
// names the URL, redacted, itself.
func ProbeJWKS(ctx context.Context, jwksURL string, client *http.Client) (usable, skipped int, err error) {
	if client == nil {
		client = &http.Client{Timeout: fetchTimeout}
	}
	s := &keySet{url: jwksURL, client: client, log: slog.New(slog.DiscardHandler)}
	keys, skipped, err := s.download(ctx)
	if err != nil {
		return 0, 0, err
	}
	return len(keys), skipped, nil
}
