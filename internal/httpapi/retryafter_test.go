package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/auth"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// Every 503 the error table can answer says when to retry: a row added
// with status 503 is covered here without a new case.
func TestEvery503CarriesRetryAfter(t *testing.T) {
	t.Parallel()
	s := newServer(Config{KeySetRetry: 45 * time.Second}, nil, nil, nil)
	want := map[error]string{
		auth.ErrUnavailable: "45", // the key set's next fetch (JWKS_MIN_REFETCH_INTERVAL)
		errUnavailable:      strconv.Itoa(retryAfterSeconds(retryUnavailable)),
	}
	rows := 0
	for _, row := range errorTable {
		if row.status != http.StatusServiceUnavailable {
			continue
		}
		rows++
		for _, err := range []error{row.err, fmt.Errorf("step: %w: cause", row.err)} {
			w := httptest.NewRecorder()
			s.writeError(w, httptest.NewRequest(http.MethodPost, "/", nil), err)
			got := w.Header().Get("Retry-After")
			if n, perr := strconv.Atoi(got); w.Code != 503 || perr != nil || n < 1 {
				t.Errorf("writeError(%q) = %d with Retry-After %q, want 503 with a whole number of seconds", err, w.Code, got)
			}
			if v, ok := want[row.err]; ok && got != v {
				t.Errorf("writeError(%q): Retry-After = %q, want %q", err, got, v)
			}
		}
	}
	if rows < 3 {
		t.Fatalf("the error table has %d rows with status 503, want at least 3 (key set, unavailable, IVS busy)", rows)
	}

	// A refusal that knows its own wait says it, rounded up.
	w := httptest.NewRecorder()
	s.writeError(w, httptest.NewRequest(http.MethodPost, "/", nil), fmt.Errorf("get: %w", &ingest.BusyError{RetryAfter: 2500 * time.Millisecond}))
	if got := w.Header().Get("Retry-After"); w.Code != 503 || got != "3" {
		t.Errorf("IVS budget refusal in 2.5s = %d with Retry-After %q, want 503 with 3", w.Code, got)
	}
	// Without a configured key-set interval, the verifier's default.
	w = httptest.NewRecorder()
	newServer(Config{}, nil, nil, nil).writeError(w, httptest.NewRequest(http.MethodPost, "/", nil), auth.ErrUnavailable)
	if got := w.Header().Get("Retry-After"); got != "30" {
		t.Errorf("key set unavailable, default interval: Retry-After = %q, want 30", got)
	}
}

// /readyz's failure is a 503 like the others, GET and HEAD.
func TestReadyzFailureCarriesRetryAfter(t *testing.T) {
	t.Parallel()
	h := NewServer(Config{}, nil, nil, func(context.Context) error { return errors.New("database down") })
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, "/readyz", nil))
		want := strconv.Itoa(retryAfterSeconds(retryUnavailable))
		if got := w.Header().Get("Retry-After"); w.Code != 503 || got != want {
			t.Errorf("%s /readyz with the database down = %d with Retry-After %q, want 503 with %s", method, w.Code, got, want)
		}
	}
	// And only a 503 gets one unasked.
	h = NewServer(Config{}, nil, nil, func(context.Context) error { return nil })
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if got := w.Header().Get("Retry-After"); w.Code != 200 || got != "" {
		t.Errorf("GET /readyz with the database up = %d with Retry-After %q, want 200 without", w.Code, got)
	}
}
