package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/app"
	"github.com/ivs-ingest/ivs-ingest/internal/auth/authtest"
	"github.com/ivs-ingest/ivs-ingest/internal/sqlite"
)

// JWT_LEEWAY and JWKS_REFRESH_INTERVAL reach the verifier that the handler
// asks: a token expired 20 s ago is refused with the default leeway and
// accepted with 30 s, and a short refresh interval fetches the key set
// again without any request.
func TestAssembleHonoursJWTTiming(t *testing.T) {
	t.Parallel()
	db := sqliteStore(t)
	iss := authtest.NewIssuer(t)
	expired := iss.Token(t, "3f1c2b9e-8d4a-4c7b-9e2f-1a2b3c4d5e6f", "", authtest.WithExpiry(-20*time.Second))

	status := func(env map[string]string) int {
		t.Helper()
		env["SUPABASE_URL"] = iss.URL()
		a := assembleOver(t, db, env)
		defer a.Close()
		return getIngest(a.Handler, expired)
	}

	if code := status(map[string]string{}); code != 401 {
		t.Errorf("a token expired 20 s ago with the default JWT_LEEWAY = %d, want 401", code)
	}
	if code := status(map[string]string{"JWT_LEEWAY": "30s"}); code == 401 {
		t.Errorf("a token expired 20 s ago with JWT_LEEWAY=30s = 401, want it past authentication")
	}

	a := assembleOver(t, db, map[string]string{"SUPABASE_URL": iss.URL(), "JWKS_REFRESH_INTERVAL": "1s"})
	defer a.Close()
	start := iss.Fetches()
	deadline := time.Now().Add(20 * time.Second)
	for iss.Fetches() < start+2 { // the first fetch, then a refresh
		if time.Now().After(deadline) {
			t.Fatalf("JWKS_REFRESH_INTERVAL=1s: %d fetches in 20 s, want a refresh", iss.Fetches()-start)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// JWT_CACHE_SIZE reaches the verifier: by default a token sent again is
// found in the token cache; with 0 every request verifies it in full and
// nothing is looked up.
func TestAssembleHonoursJWTCacheSize(t *testing.T) {
	t.Parallel()
	db := sqliteStore(t)
	iss := authtest.NewIssuer(t)
	token := iss.Token(t, "3f1c2b9e-8d4a-4c7b-9e2f-1a2b3c4d5e6f", "")

	lookups := func(env map[string]string) (hits, misses float64) {
		t.Helper()
		env["SUPABASE_URL"] = iss.URL()
		a := assembleOver(t, db, env)
		defer a.Close()
		for range 3 {
			if getIngest(a.Handler, token) == 401 {
				t.Fatalf("a valid token = 401, want it past authentication")
			}
		}
		rec := httptest.NewRecorder()
		a.Handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		for line := range strings.Lines(rec.Body.String()) {
			var n float64
			if _, err := fmt.Sscanf(line, `ivs_ingest_token_cache_lookups_total{result="hit"} %g`, &n); err == nil {
				hits = n
			}
			if _, err := fmt.Sscanf(line, `ivs_ingest_token_cache_lookups_total{result="miss"} %g`, &n); err == nil {
				misses = n
			}
		}
		return hits, misses
	}

	// The first request may meet the key set still loading: its entry is
	// then verified again once.
	if hits, misses := lookups(map[string]string{}); hits < 1 || hits+misses != 3 {
		t.Errorf("default JWT_CACHE_SIZE: %g hits and %g misses for 3 requests, want 3 lookups, at least one hit", hits, misses)
	}
	if hits, misses := lookups(map[string]string{"JWT_CACHE_SIZE": "0"}); hits != 0 || misses != 0 {
		t.Errorf("JWT_CACHE_SIZE=0: %g hits and %g misses, want no lookup", hits, misses)
	}
}

// sqliteStore is an embedded store in the test's directory, closed when the
// test ends.
func sqliteStore(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := app.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// assembleOver assembles the app over db with the environment env; the
// caller closes it.
func assembleOver(t *testing.T, db *sqlite.DB, env map[string]string) *app.App {
	t.Helper()
	a, err := app.Assemble(context.Background(), load(t, func(k string) string { return env[k] }), app.SQLiteParts(db), discard)
	if err != nil {
		t.Fatalf("Assemble(%v) = %v", env, err)
	}
	return a
}

// getIngest asks h for a show's key with token and returns the status.
func getIngest(h http.Handler, token string) int {
	req := httptest.NewRequest("POST", "/functions/v1/get-ivs-ingest", strings.NewReader(`{"show_id":"9f0c2d4e-5b7a-4c1e-8f3a-2b6d9e0a1c47"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}
