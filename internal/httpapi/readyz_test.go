package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// /readyz is open to anyone: its check (a database ping) runs at most once a
// second however many ask, and its answer, failure included, is shared.
func TestReadinessIsCachedForASecond(t *testing.T) {
	t.Parallel()
	var (
		mu     sync.Mutex
		checks int
		fail   error
	)
	rd := &readiness{check: func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		checks++
		return fail
	}}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if err := rd.get(context.Background()); err != nil {
				t.Errorf("get() = %v, want nil", err)
			}
		})
	}
	wg.Wait()
	if checks != 1 {
		t.Errorf("20 readiness requests ran %d checks, want 1", checks)
	}
	mu.Lock()
	fail = errors.New("database down")
	mu.Unlock()
	rd.mu.Lock()
	rd.checked = rd.checked.Add(-readinessTTL) // a second later
	rd.mu.Unlock()
	for range 3 {
		if err := rd.get(context.Background()); err == nil {
			t.Error("get() after the database went down = nil, want its error")
		}
	}
	if checks != 2 {
		t.Errorf("checks after the cache expired = %d, want 2", checks)
	}
	// A caller that has given up still gets the shared answer.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := rd.get(ctx); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("get(canceled) = %v, want the cached failure", err)
	}
}

// A service that can serve is ready; what it serves without (a key store
// not in use yet) is said in the 200's detail, and the detail goes once the
// key store is in use.
func TestReadinessDetail(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	detail := "key store not in use yet: KMS did not answer"
	rd := &readiness{check: func(context.Context) error { return nil }, detail: func() string {
		mu.Lock()
		defer mu.Unlock()
		return detail
	}}
	answer := func() (int, map[string]string) {
		w := httptest.NewRecorder()
		if err := readyz(rd)(w, httptest.NewRequest(http.MethodGet, "/readyz", nil)); err != nil {
			t.Fatalf("readyz: %v", err)
		}
		var body map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("readyz body: %v", err)
		}
		return w.Code, body
	}
	if code, body := answer(); code != http.StatusOK || body["status"] != "ok" || body["detail"] != detail {
		t.Errorf("/readyz with the key store pending = %d %v, want 200 ok with the detail", code, body)
	}
	mu.Lock()
	detail = ""
	mu.Unlock()
	if code, body := answer(); code != http.StatusOK || len(body) != 1 || body["status"] != "ok" {
		t.Errorf("/readyz with the key store in use = %d %v, want 200 {status: ok}", code, body)
	}
}
