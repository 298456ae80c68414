package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestAdmissionWaitingGivesThePlaceBack: a request that waits gives its
// place to the next one, takes it back after, and a request whose time runs
// out while taking it back holds nothing (the gate does not grow or shrink).
func TestAdmissionWaitingGivesThePlaceBack(t *testing.T) {
	t.Parallel()
	a := newAdmission(1)
	ctx := context.Background()
	first, err := a.enter(ctx)
	if err != nil {
		t.Fatalf("enter on an empty gate: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := a.enter(short); err == nil {
		t.Fatal("enter on a full gate succeeded, want it to wait until its ctx ends")
	}

	done := first.Waiting()
	second, err := a.enter(ctx) // the place first gave back
	if err != nil {
		t.Fatalf("enter while the only admitted request waits: %v", err)
	}
	back := make(chan struct{})
	go func() { done(); close(back) }()
	select {
	case <-back:
		t.Fatal("the waiting request took its place back while another held the only one")
	case <-time.After(50 * time.Millisecond):
	}
	second.leave()
	<-back
	if !first.held || len(a.slots) != 1 {
		t.Fatalf("after taking its place back: held %v, %d places taken; want true, 1", first.held, len(a.slots))
	}
	first.leave()
	first.leave() // a second leave gives back nothing
	if len(a.slots) != 0 {
		t.Fatalf("%d places taken after every request left, want 0", len(a.slots))
	}

	// Taking the place back fails when the request's time is up: nothing
	// held, nothing given back on leave.
	ended, end := context.WithCancel(ctx)
	third, err := a.enter(ended)
	if err != nil {
		t.Fatal(err)
	}
	done = third.Waiting()
	other, _ := a.enter(ctx)
	end()
	done()
	third.leave()
	if third.held || len(a.slots) != 1 {
		t.Fatalf("a request whose time ran out while taking its place back: held %v, %d places taken; want false, 1 (the other's)", third.held, len(a.slots))
	}
	other.leave()

	// Nested waits give back once.
	fourth, _ := a.enter(ctx)
	d1 := fourth.Waiting()
	d2 := fourth.Waiting()
	d2()
	d1()
	fourth.leave()
	if len(a.slots) != 0 {
		t.Fatalf("%d places taken after nested waits and leave, want 0", len(a.slots))
	}
}

// TestAdmissionFullGate: with every place taken, an API request waits at the
// gate and, when its time runs out, answers 503 with Retry-After before any
// token is looked at; probes, metrics, the OpenAPI document and CORS
// preflights are not held back.
func TestAdmissionFullGate(t *testing.T) {
	t.Parallel()
	// No authenticator and no domain: a request that got past the gate
	// would panic, and answer 500.
	s := newServer(Config{MaxActiveRequests: 2, MetricsHandler: http.NotFoundHandler()}, nil, nil, func(context.Context) error { return nil })
	mux := http.NewServeMux()
	s.routes(mux)
	h := s.requestContext(s.recoverPanics(s.cors.middleware(s.cleanPaths(mux))))
	for range 2 {
		if _, err := s.admission.enter(context.Background()); err != nil {
			t.Fatal(err)
		}
	}

	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/healthz", nil),
		httptest.NewRequest(http.MethodGet, "/readyz", nil),
		httptest.NewRequest(http.MethodGet, "/metrics", nil),
		httptest.NewRequest(http.MethodGet, "/openapi.yaml", nil),
		httptest.NewRequest(http.MethodOptions, "/functions/v1/get-ivs-ingest", nil),
	} {
		rec := httptest.NewRecorder()
		answered := make(chan struct{})
		go func() { h.ServeHTTP(rec, r); close(answered) }()
		select {
		case <-answered:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s %s waited at a full gate, want it not held back", r.Method, r.URL.Path)
		}
		if rec.Code >= 500 {
			t.Errorf("%s %s at a full gate = %d, want it served", r.Method, r.URL.Path, rec.Code)
		}
	}

	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodPost, "/functions/v1/get-ivs-ingest", nil),
		httptest.NewRequest(http.MethodPost, "/functions/v1/revoke-ivs-stream-key", nil),
		httptest.NewRequest(http.MethodGet, "/functions/v1/ivs-audit", nil),
	} {
		ctx, cancel := context.WithTimeout(r.Context(), 20*time.Millisecond)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r.WithContext(ctx))
		cancel()
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s whose time ran out at a full gate = %d, Retry-After %q; want 503 with Retry-After",
				r.Method, r.URL.Path, rec.Code, rec.Header().Get("Retry-After"))
		}
	}
}

// TestOnOwnStack: the work's error comes back; its panic is raised again on
// the caller's goroutine (where recoverPanics can answer it) with the stack
// where it happened, and http.ErrAbortHandler as itself.
func TestOnOwnStack(t *testing.T) {
	t.Parallel()
	want := errors.New("the work's error")
	if err := onOwnStack(func() error { return want }); err != want {
		t.Errorf("onOwnStack(work returning %v) = %v", want, err)
	}
	raised := func(work func() error) (v any) {
		defer func() { v = recover() }()
		_ = onOwnStack(work)
		return nil
	}
	v := raised(func() error { panic("boom") })
	p, ok := v.(workPanic)
	if !ok || !strings.HasPrefix(p.String(), "boom\n") || !strings.Contains(p.String(), "TestOnOwnStack") {
		t.Errorf("a panic in the work raised %#v on the caller, want a workPanic saying boom and where", v)
	}
	if v := raised(func() error { panic(http.ErrAbortHandler) }); v != http.ErrAbortHandler {
		t.Errorf("http.ErrAbortHandler in the work raised %v on the caller, want it as is", v)
	}
}
