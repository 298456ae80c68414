package streamstatus_test

import (
	"context"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/metrics"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
)

// openPostgres is a migrated, seeded PostgreSQL store: the stream state
// and the leases of a deployment with replicas.
func openPostgres(t *testing.T) *postgres.DB {
	t.Helper()
	url := pgtest.NewDatabase(t)
	if err := postgres.Migrate(context.Background(), url, slogDiscard); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	db, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(db.Close)
	seeded(t, db)
	return db
}

// eventually waits for cond, failing the test after a generous while (a
// liveness bound, not a timing assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 20 s for %s", what)
		}
	}
}

// Run reconciles only while this replica holds the lease, counts the runs
// it skips, and returns when its context ends.
func TestRunTakesTheLease(t *testing.T) {
	t.Parallel()
	db := openPostgres(t)
	ctx := context.Background()
	if ok, err := db.TakeLease(ctx, streamstatus.ReconcileLease, "another-replica", time.Hour); err != nil || !ok {
		t.Fatalf("TakeLease(another replica) = %v, %v", ok, err)
	}
	if _, err := db.ApplyStreamEvent(ctx, event(streamstatus.KindStreamStart, "s", "2026-12-06T11:00:00Z")); err != nil {
		t.Fatal(err)
	}
	st := &streams{listedC: make(chan string, 1)}
	m := metrics.New("test")
	svc := streamstatus.New(streamstatus.Options{Store: db, Streams: st, Leases: db, Metrics: m})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.Run(runCtx, 20*time.Millisecond)
	}()
	eventually(t, "two skipped runs", func() bool {
		return counter(t, m, "ivs_ingest_stream_reconciliations_total", map[string]string{"outcome": "skipped"}) >= 2
	})
	st.mu.Lock()
	listed := len(st.listed)
	st.mu.Unlock()
	if listed != 0 {
		t.Errorf("Run listed streams %d times while another replica held the lease", listed)
	}
	if err := db.ReleaseLease(ctx, streamstatus.ReconcileLease, "another-replica"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a run", func() bool {
		return counter(t, m, "ivs_ingest_stream_reconciliations_total", map[string]string{"outcome": "done"}) >= 2
	})
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	// Stopped, it gave the lease up: the next replica takes it at once.
	if ok, err := db.TakeLease(ctx, streamstatus.ReconcileLease, "next-replica", time.Hour); err != nil || !ok {
		t.Errorf("TakeLease(next replica) after Run stopped = %v, %v; want the lease released", ok, err)
	}
	if got, _, err := db.StreamState(ctx, sampleChannel); err != nil || got.State != streamstatus.Offline {
		t.Errorf("after Run: state %q, %v; want offline (no live stream listed)", got.State, err)
	}
}

func TestRunOff(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		streamstatus.New(streamstatus.Options{}).Run(context.Background(), 0)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run(interval 0) did not return")
	}
}
