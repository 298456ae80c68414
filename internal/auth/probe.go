package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
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

// ErrNoDiscovery means a URL answered, but not with an OpenID discovery
// document: a 404 (Supabase Auth before it served one, many other auth
// servers), another status, or a body without an issuer.
var ErrNoDiscovery = errors.New("no OpenID discovery document")

const (
	discoveryPath = "/.well-known/openid-configuration"
	jwksPath      = "/.well-known/jwks.json"
	// maxDiscoverySize bounds a discovery document; Supabase Auth's is
	// about 1 KB.
	maxDiscoverySize = 64 << 10
)

// DiscoveryURLs lists, without repeats, where the auth server may publish
// its OpenID discovery document: under the issuer, as OpenID Connect
// Discovery puts it; under ${SUPABASE_URL}/auth/v1, where Supabase Auth
// serves it whatever the issuer says; and beside the JWKS, for a self-hosted
// server whose SUPABASE_JWKS_URL is set (the JWKS URL's query, such as an
// apikey its gateway wants, is kept). An issuer that is not an http(s) URL
// gives no URL of its own.
func DiscoveryURLs(issuer, supabaseURL, jwksURL string) []string {
	var urls []string
	add := func(u string) {
		for _, have := range urls {
			if have == u {
				return
			}
		}
		urls = append(urls, u)
	}
	if u, err := url.Parse(issuer); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		add(strings.TrimRight(issuer, "/") + discoveryPath)
	}
	if supabaseURL != "" {
		add(strings.TrimRight(supabaseURL, "/") + "/auth/v1" + discoveryPath)
	}
	if u, err := url.Parse(jwksURL); err == nil && u.Host != "" && strings.HasSuffix(u.Path, jwksPath) {
		u.Path = strings.TrimSuffix(u.Path, jwksPath) + discoveryPath
		u.RawPath = ""
		add(u.String())
	}
	return urls
}

// ProbeIssuer fetches the OpenID discovery document at discoveryURL and
// returns the issuer it publishes: the iss that the server's tokens carry.
// It is for `ivs-ingest doctor`. An answer that is not such a document wraps
// ErrNoDiscovery; other errors are the request's (connection refused, a
// timeout). Like ProbeJWKS's, no error repeats the URL. A nil client means
// one with a 5 s timeout.
func ProbeIssuer(ctx context.Context, discoveryURL string, client *http.Client) (string, error) {
	if client == nil {
		client = &http.Client{Timeout: fetchTimeout}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, discoveryURL, nil)
	if err != nil {
		return "", withoutURL(err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", withoutURL(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w: status %d", ErrNoDiscovery, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscoverySize+1))
	if err != nil {
		return "", fmt.Errorf("read body: %w", err)
	}
	var doc struct {
		Issuer *string `json:"issuer"`
	}
	switch {
	case len(body) > maxDiscoverySize:
		return "", fmt.Errorf("%w: response too large", ErrNoDiscovery)
	case json.Unmarshal(body, &doc) != nil:
		return "", fmt.Errorf("%w: not a JSON object", ErrNoDiscovery)
	case doc.Issuer == nil || *doc.Issuer == "":
		return "", fmt.Errorf("%w: no issuer in it", ErrNoDiscovery)
	}
	return *doc.Issuer, nil
}
