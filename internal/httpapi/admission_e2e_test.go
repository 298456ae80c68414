package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/auth"
	"github.com/ivs-ingest/ivs-ingest/internal/httpapi"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// activeCount counts the requests inside the real domain (their ingest
// details or their audit row) at once, and the most there were.
type activeCount struct {
	httpapi.IngestService
	now, peak atomic.Int32
}

func (c *activeCount) enter() func() {
	n := c.now.Add(1)
	for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
	return func() { c.now.Add(-1) }
}

func (c *activeCount) IngestDetails(ctx context.Context, req ingest.Request) (ingest.Details, error) {
	defer c.enter()()
	return c.IngestService.IngestDetails(ctx, req)
}

func (c *activeCount) WriteAudit(ctx context.Context, e ingest.AuditEntry) error {
	defer c.enter()()
	return c.IngestService.WriteAudit(ctx, e)
}

// serveGated serves the transport with at most gate requests admitted over
// svc (the domain serve builds from env, or a wrapper of it) and a real
// token verifier.
func serveGated(t *testing.T, env *testenv.Env, svc httpapi.IngestService, gate int) string {
	t.Helper()
	verifier, err := auth.New(context.Background(), env.Issuer.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(verifier.Close)
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Config{MaxActiveRequests: gate, Logger: newTestLogger(&logBuffer{})},
		verifier, svc, func(context.Context) error { return nil }))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestAdmissionBoundsTheWorkInTheDomain: 40 concurrent hot requests over a
// pool of 2 connections and a gate of twice that: every one is answered
// with its key, and never more than the gate's 4 are in the domain at once
// (without the gate, the other 36 would wait for a connection inside it).
func TestAdmissionBoundsTheWorkInTheDomain(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	base := start(t, env, map[string]string{"DATABASE_MAX_CONNS": "2"})
	const gate, requests = 2 * 2, 40
	counted := &activeCount{IngestService: base.app.Domain.Service}
	url := serveGated(t, env, counted, gate)

	seller := env.Seller(t, "approved")
	show := env.Show(t, seller, true)
	token := env.Token(t, seller)
	wantKey(t, "warm-up", call(t, http.MethodPost, url+path, token, `{"showId":"`+show.ID+`"}`, nil))

	statuses := make([]int, requests)
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodPost, url+path, strings.NewReader(`{"showId":"`+show.ID+`"}`))
			if err != nil {
				return
			}
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := noRedirects.Do(req)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusOK {
			t.Errorf("request %d: status %d, want 200", i, st)
		}
	}
	if p := counted.peak.Load(); p > gate || p < 1 {
		t.Errorf("at most %d requests were in the domain at once, want 1 to %d (the gate)", p, gate)
	}
}

// TestAdmissionRequestWaitingOnIVSHoldsNoPlace: a gate of 2 places, and 8
// first requests waiting on the IVS call budget (4 calls a second, about 3
// calls each): hot requests are answered while most of them still wait, so
// the first requests gave their places back while they waited on IVS (with
// the places held, each hot request would queue behind the first requests
// and be answered only once most of them were).
//
// Not parallel, as TestBurstOfFirstRequestsStaysWithinTheIVSBudget.
func TestAdmissionRequestWaitingOnIVSHoldsNoPlace(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	base := start(t, env, nil)
	url := serveGated(t, env, base.app.Domain.Service, 2)
	get := func(token, showID string) response {
		return call(t, http.MethodPost, url+path, token, `{"showId":"`+showID+`"}`, nil)
	}
	hotSeller := env.Seller(t, "approved")
	hotShow := env.Show(t, hotSeller, true)
	hotToken := env.Token(t, hotSeller)
	wantKey(t, "warm-up", get(hotToken, hotShow.ID))

	const shows = 8
	type first struct{ token, show string }
	firsts := make([]first, shows)
	for i := range firsts {
		s := env.Seller(t, "approved")
		firsts[i] = first{env.Token(t, s), env.Show(t, s, true).ID}
	}
	env.Emulator.ResetCounts()
	env.Emulator.SetRateLimit(5)

	var pending atomic.Int32
	pending.Store(shows)
	statuses := make([]int, shows)
	var wg sync.WaitGroup
	for i, f := range firsts {
		wg.Go(func() {
			defer pending.Add(-1)
			req, err := http.NewRequest(http.MethodPost, url+path, strings.NewReader(`{"showId":"`+f.show+`"}`))
			if err != nil {
				return
			}
			req.Header.Set("Authorization", "Bearer "+f.token)
			resp, err := noRedirects.Do(req)
			if err != nil {
				t.Errorf("first request %d: %v", i, err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	// Until the first requests are calling IVS.
	for deadline := time.Now().Add(30 * time.Second); env.Emulator.TotalCalls() < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first requests made no IVS call in 30s")
		}
	}
	for i := range 5 {
		wantKey(t, "hot request while first requests wait on IVS", get(hotToken, hotShow.ID))
		if n := pending.Load(); n < shows/2 {
			t.Errorf("hot request %d was answered once only %d of %d first requests still waited, want at least %d",
				i, n, shows, shows/2)
		}
	}
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusOK {
			t.Errorf("first request %d: status %d, want 200", i, st)
		}
	}
}
