package ivsemu

import (
	"fmt"
	"net/http"
	"strings"
)

// Region is the region the emulator serves; requests must be signed for it.
func (e *Emulator) Region() string { return e.region }

// Regions serves several emulated regions at one endpoint, as one
// AWS_ENDPOINT_URL_IVS reaches every region of a client that signs for
// each: a request goes to the emulator of the region its SigV4 credential
// scope names, which verifies the signature itself. Each region keeps its
// own channels, keys, counters and rate limit, as AWS's quotas are per
// region. A request that names none of them goes to the first emulator,
// whose signature check refuses it as AWS refuses a wrong region.
func Regions(emulators ...*Emulator) (http.Handler, error) {
	if len(emulators) == 0 {
		return nil, fmt.Errorf("ivsemu: Regions needs at least one emulator")
	}
	byRegion := make(map[string]*Emulator, len(emulators))
	for _, e := range emulators {
		if _, dup := byRegion[e.region]; dup {
			return nil, fmt.Errorf("ivsemu: two emulators for region %s", e.region)
		}
		byRegion[e.region] = e
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, ok := byRegion[scopeRegion(r.Header.Get("Authorization"))]
		if !ok {
			e = emulators[0]
		}
		e.ServeHTTP(w, r)
	}), nil
}

// scopeRegion returns the region of a SigV4 Authorization header's
// credential scope (Credential=<key id>/<date>/<region>/<service>/aws4_request);
// "" when there is none.
func scopeRegion(authorization string) string {
	_, params, ok := strings.Cut(authorization, " ")
	if !ok {
		return ""
	}
	for part := range strings.SplitSeq(params, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if k != "Credential" {
			continue
		}
		if scope := strings.Split(v, "/"); len(scope) == 5 {
			return scope[2]
		}
	}
	return ""
}
