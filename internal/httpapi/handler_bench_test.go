package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/app"
	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/logging"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// BenchmarkHotRequest measures the handler end to end for a hot request (a
// show whose key the service has cached): the whole middleware chain, token
// verification against a JWKS served over HTTP, the per-user limit, the
// authorization query and the audit row on a real PostgreSQL
// (TEST_DATABASE_URL), and the JSON answer. The service is assembled by
// app.Open exactly as `serve` assembles it.
//
//   - recorder: ServeHTTP with httptest.NewRecorder, no network;
//   - loopback: a real HTTP round trip through httptest.NewServer;
//   - recorder-info-log: LOG_LEVEL=info, the default, which writes one log
//     line per request (to io.Discard here).
//
// Run: scripts/with-postgres go test -run '^$' -bench HotRequest ./internal/httpapi/
func BenchmarkHotRequest(b *testing.B) {
	env := testenv.New(b, testenv.Options{Supabase: true})
	seller := env.Seller(b, "approved")
	show := env.Show(b, seller, true)
	token := env.Token(b, seller)
	body := `{"showId":"` + show.ID + `"}`

	newHandler := func(b *testing.B, level slog.Level) http.Handler {
		cfg, err := config.Load(env.Getenv(map[string]string{
			"LOG_LEVEL": level.String(),
			// The per-user limit would refuse most of b.N requests.
			"RATE_LIMIT_REQUESTS_PER_MINUTE": "1000000",
		}))
		if err == nil {
			err = cfg.RequireServe()
		}
		if err != nil {
			b.Fatalf("config: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a, err := app.Open(ctx, cfg, logging.New(io.Discard, level))
		if err != nil {
			b.Fatalf("app.Open: %v", err)
		}
		b.Cleanup(a.Close)
		return a.Handler
	}
	serve := func(b *testing.B, h http.Handler) {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("POST %s = %d %s, want 200", path, rec.Code, rec.Body)
		}
	}
	recorder := func(level slog.Level) func(b *testing.B) {
		return func(b *testing.B) {
			h := newHandler(b, level)
			serve(b, h) // creates the key, then it is cached
			b.ReportAllocs()
			for b.Loop() {
				serve(b, h)
			}
		}
	}
	b.Run("recorder", recorder(slog.LevelWarn))
	b.Run("recorder-info-log", recorder(slog.LevelInfo))
	b.Run("loopback", func(b *testing.B) {
		srv := httptest.NewServer(newHandler(b, slog.LevelWarn))
		b.Cleanup(srv.Close)
		client := srv.Client()
		do := func() {
			req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("POST %s = %d, want 200", path, resp.StatusCode)
			}
		}
		do()
		b.ReportAllocs()
		for b.Loop() {
			do()
		}
	})
}
