package httpapi

import (
	"net/http"
	"strings"
)

// cors implements the CORS headers Supabase functions send.
type cors struct {
	anyOrigin bool
	origins   map[string]bool
}

// The headers supabase-js and functions-js send (see docs), plus ours.
const (
	corsAllowHeaders  = "authorization, x-client-info, apikey, content-type, x-impersonate-seller-id, x-region, x-retry-count, traceparent, tracestate, baggage"
	corsExposeHeaders = "X-Request-Id, Retry-After"
)

func newCORS(origins []string) cors {
	c := cors{origins: make(map[string]bool)}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		if o == "*" {
			c.anyOrigin = true
		}
		if o != "" {
			c.origins[strings.TrimRight(o, "/")] = true
		}
	}
	if len(c.origins) == 0 {
		c.anyOrigin = true
	}
	return c
}

// middleware puts the CORS headers on every response, errors included:
// without them a browser reports any refusal as a network failure. All but
// Access-Control-Allow-Methods, which names the route's own methods and so
// is set by the route (see allowMethods); a path no route serves has none.
func (c cors) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if c.anyOrigin {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Add("Vary", "Origin")
			if origin := r.Header.Get("Origin"); c.origins[origin] {
				h.Set("Access-Control-Allow-Origin", origin)
			}
		}
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		next.ServeHTTP(w, r)
	})
}

// allowMethods names methods, a route's own, in Access-Control-Allow-Methods
// on each of the route's answers: its preflight, its answers and its errors.
func allowMethods(methods string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Methods", methods)
		next.ServeHTTP(w, r)
	})
}

// preflight answers a CORS preflight; allowMethods names the methods.
func preflight(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}
