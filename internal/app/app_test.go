package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/app"
	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

var discard = slog.New(slog.DiscardHandler)

func load(t *testing.T, getenv func(string) string) config.Config {
	t.Helper()
	cfg, err := config.Load(getenv)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// scrape returns what the registry serves at GET /metrics.
func scrape(t *testing.T, d *app.Domain) string {
	t.Helper()
	rec := httptest.NewRecorder()
	d.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// The batch commands' domain runs the service's wiring: the store's shared
// budget and limits, and a metrics registry of its own (never a nil one).
func TestOpenDomain(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	seller := env.Seller(t, "approved")
	show := env.Show(t, seller, true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := app.OpenDomain(ctx, load(t, env.Getenv(nil)), discard)
	if err != nil {
		t.Fatalf("OpenDomain: %v", err)
	}
	defer d.Close()
	res, err := d.Service.Provision(ctx, []string{show.ID}, ingest.BatchOptions{})
	if err != nil || res.Failed != 0 {
		t.Fatalf("Provision = %+v, %v; want no failure", res, err)
	}
	if got := scrape(t, d); !strings.Contains(got, `ivs_ingest_ivs_calls_total{operation="ListStreamKeys",outcome="success"}`) {
		t.Errorf("the domain's registry did not count the IVS calls Provision made:\n%s", got)
	}
	if d.Retention.Age() != 400*24*time.Hour {
		t.Errorf("Retention.Age() = %v, want AUDIT_RETENTION's default 400 days", d.Retention.Age())
	}
}

func TestOpenRefusesAnOldSchema(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Unmigrated: true})
	cfg := load(t, env.Getenv(nil))
	if _, err := app.Open(context.Background(), cfg, discard); err == nil || !strings.Contains(err.Error(), "run `ivs-ingest migrate` first") {
		t.Errorf("Open on an unmigrated database = %v, want the schema refusal", err)
	}
	if _, err := app.OpenDomain(context.Background(), cfg, discard); err == nil || !strings.Contains(err.Error(), "run `ivs-ingest migrate` first") {
		t.Errorf("OpenDomain on an unmigrated database = %v, want the schema refusal", err)
	}
}

// The embedded store keeps no rate limits for other processes: asking for
// them there is refused at start, not ignored.
func TestAssembleOverSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := sqliteStore(t)
	env := map[string]string{"SUPABASE_URL": "http://127.0.0.1:1", "RATE_LIMIT_STORE": "database"}
	getenv := func(k string) string { return env[k] }
	_, err := app.Assemble(ctx, load(t, getenv), app.SQLiteParts(db), discard)
	if want := "RATE_LIMIT_STORE=database: the *sqlite.DB store cannot keep rate limits"; err == nil || err.Error() != want {
		t.Errorf("Assemble(SQLite, RATE_LIMIT_STORE=database) = %v, want %q", err, want)
	}
	env["RATE_LIMIT_STORE"] = "memory"
	a, err := app.Assemble(ctx, load(t, getenv), app.SQLiteParts(db), discard)
	if err != nil {
		t.Fatalf("Assemble(SQLite) = %v", err)
	}
	defer a.Close()
	rec := httptest.NewRecorder()
	a.Handler.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 200 {
		t.Errorf("GET /readyz over SQLite = %d %s, want 200", rec.Code, rec.Body)
	}
	if want := 90*time.Second + 30*time.Second; a.RequestTimeout != want {
		t.Errorf("RequestTimeout = %v, want IVS_BUDGET_WAIT + 30s = %v", a.RequestTimeout, want)
	}
}
