package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/auth"
	"github.com/ivs-ingest/ivs-ingest/internal/auth/authtest"
	"github.com/ivs-ingest/ivs-ingest/internal/httpapi"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// panicking is an IngestService that panics, to exercise the recovery
// middleware; everything else in the request path is real.
type panicking struct{ httpapi.IngestService }

func (panicking) IngestDetails(context.Context, ingest.Request) (ingest.Details, error) {
	panic("boom")
}

func (panicking) Admit(ingest.Caller, ingest.Action) error { return nil }

func (panicking) WriteAudit(context.Context, ingest.AuditEntry) error { return nil }

func TestPanicBecomesA500(t *testing.T) {
	t.Parallel()
	issuer := authtest.NewIssuer(t)
	verifier, err := auth.New(context.Background(), issuer.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(verifier.Close)
	logs := &logBuffer{}
	h := httpapi.NewServer(httpapi.Config{Logger: newTestLogger(logs)}, verifier, panicking{}, func(context.Context) error { return nil })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	r := call(t, http.MethodPost, srv.URL+path, issuer.Token(t, "e0000000-0000-4000-8000-000000000001", ""),
		`{"showId":"d0000000-0000-4000-8000-000000000001"}`, nil)
	wantError(t, "request whose handler panics", r, 500, "Internal server error")
	if r.Header.Get("X-Request-Id") == "" || r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("the 500 lacks the standard headers: %v", r.Header)
	}
	// The server survives.
	if r := call(t, http.MethodGet, srv.URL+"/healthz", "", "", nil); r.Status != 200 {
		t.Errorf("GET /healthz after a panic = %s, want 200", r)
	}
	if !strings.Contains(logs.String(), `"msg":"panic serving request"`) {
		t.Error("the panic was not logged")
	}
}

// auditedPanic panics like panicking, and keeps the audit rows written.
type auditedPanic struct {
	panicking
	mu   sync.Mutex
	rows []ingest.AuditEntry
}

func (p *auditedPanic) WriteAudit(_ context.Context, e ingest.AuditEntry) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rows = append(p.rows, e)
	return nil
}

// A request with a verified token whose handler panics still gets its one
// audit row, saying it failed.
func TestPanicIsAudited(t *testing.T) {
	t.Parallel()
	issuer := authtest.NewIssuer(t)
	verifier, err := auth.New(context.Background(), issuer.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(verifier.Close)
	svc := &auditedPanic{}
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Config{}, verifier, svc, func(context.Context) error { return nil }))
	t.Cleanup(srv.Close)

	const user, show = "e0000000-0000-4000-8000-000000000002", "d0000000-0000-4000-8000-000000000002"
	r := call(t, http.MethodPost, srv.URL+path, issuer.Token(t, user, ""), `{"showId":"`+show+`"}`, nil)
	wantError(t, "request whose handler panics", r, 500, "Internal server error")
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if len(svc.rows) != 1 {
		t.Fatalf("audit rows = %+v, want 1", svc.rows)
	}
	got := svc.rows[0]
	if got.RequestID != r.Header.Get("X-Request-Id") || got.ActorUserID != user || got.ShowID != show ||
		got.Action != ingest.ActionGet || got.HTTPStatus != 500 || got.Outcome != ingest.OutcomeError {
		t.Errorf("audit row = %+v, want request %s's get of show %s by %s, 500, error", got, r.Header.Get("X-Request-Id"), show, user)
	}
}
