package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
)

// countingPruner is the real store, with each delete's count noted.
type countingPruner struct {
	*postgres.DB
	mu      sync.Mutex
	batches []int
}

func (c *countingPruner) DeleteAuditBefore(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	n, err := c.DB.DeleteAuditBefore(ctx, cutoff, limit)
	c.mu.Lock()
	c.batches = append(c.batches, n)
	c.mu.Unlock()
	return n, err
}

// One holder at a time, across pools (replicas); the holder extends it, an
// expired or released lease is taken by another.
func TestLeaseExclusivity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, a := migrated(t)
	b := open(t, url)

	// Twenty takers on two pools race for it: exactly one wins.
	var (
		mu      sync.Mutex
		winners []string
		wg      sync.WaitGroup
	)
	for i := range 20 {
		db := a
		if i%2 == 1 {
			db = b
		}
		holder := fmt.Sprintf("holder-%d", i)
		wg.Go(func() {
			ok, err := db.TakeLease(ctx, "job", holder, time.Hour)
			if err != nil {
				t.Errorf("TakeLease(%s): %v", holder, err)
			}
			if ok {
				mu.Lock()
				winners = append(winners, holder)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d holders took the lease at once (%v), want 1", len(winners), winners)
	}
	winner := winners[0]
	if ok, err := b.TakeLease(ctx, "job", winner, time.Hour); err != nil || !ok {
		t.Errorf("TakeLease by its holder = %v, %v; want it extended", ok, err)
	}
	if ok, err := a.TakeLease(ctx, "other-job", "late", time.Hour); err != nil || !ok {
		t.Errorf("TakeLease of another name = %v, %v; want it taken", ok, err)
	}
	if ok, err := a.TakeLease(ctx, "job", "late", time.Hour); err != nil || ok {
		t.Errorf("TakeLease of a held lease = %v, %v; want refused", ok, err)
	}

	// Release by someone else changes nothing; by the holder, frees it.
	if err := a.ReleaseLease(ctx, "job", "late"); err != nil {
		t.Fatalf("ReleaseLease by a non-holder: %v", err)
	}
	if ok, _ := a.TakeLease(ctx, "job", "late", time.Hour); ok {
		t.Error("a release by a non-holder freed the lease")
	}
	if err := a.ReleaseLease(ctx, "job", winner); err != nil {
		t.Fatalf("ReleaseLease: %v", err)
	}
	if ok, err := a.TakeLease(ctx, "job", "late", time.Hour); err != nil || !ok {
		t.Errorf("TakeLease after release = %v, %v; want taken", ok, err)
	}

	// An expired lease (a holder that died) is taken.
	pgtest.Exec(t, url, `UPDATE ivs_ingest.leases SET expires_at = now() - interval '1 second' WHERE name = 'job'`)
	if ok, err := b.TakeLease(ctx, "job", "survivor", time.Hour); err != nil || !ok {
		t.Errorf("TakeLease of an expired lease = %v, %v; want taken", ok, err)
	}
}

// The retention prunes only with the lease, in batches of 5000, only the
// old rows, and gives the lease back.
func TestRetentionTakesTheLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, db := migrated(t)
	pgtest.Exec(t, url, `INSERT INTO ivs_ingest.audit_log (occurred_at, request_id, action, outcome, http_status)
	SELECT now() - interval '500 days' + i * interval '1 second', 'old-' || i, 'get', 'allowed', 200 FROM generate_series(1, 12000) i;
INSERT INTO ivs_ingest.audit_log (request_id, action, outcome, http_status) VALUES ('recent', 'get', 'allowed', 200)`)
	if ok, err := db.TakeLease(ctx, "audit-retention", "another-replica", time.Hour); err != nil || !ok {
		t.Fatalf("TakeLease: %v, %v", ok, err)
	}
	pruner := &countingPruner{DB: db}
	r := ingest.NewRetention(pruner, ingest.RetentionOptions{Age: 400 * 24 * time.Hour, Leases: db})
	if res, err := r.Prune(ctx); err != nil || !res.Skipped || res.Deleted != 0 {
		t.Errorf("Prune() while another replica holds the lease = %+v, %v; want skipped", res, err)
	}
	if err := db.ReleaseLease(ctx, "audit-retention", "another-replica"); err != nil {
		t.Fatal(err)
	}
	if res, err := r.Prune(ctx); err != nil || res.Skipped || res.Deleted != 12000 {
		t.Errorf("Prune() = %+v, %v; want 12000 deleted", res, err)
	}
	if fmt.Sprint(pruner.batches) != "[5000 5000 2000]" {
		t.Errorf("Prune() deleted in batches of %v, want [5000 5000 2000]", pruner.batches)
	}
	if rows := queryRows(t, url, `SELECT request_id FROM ivs_ingest.audit_log`); len(rows) != 1 || rows[0][0] != "recent" {
		t.Errorf("rows left = %v, want the recent one", rows)
	}
	// It gave the lease back: another replica may take it at once.
	if ok, err := db.TakeLease(ctx, "audit-retention", "another-replica", time.Hour); err != nil || !ok {
		t.Errorf("TakeLease after a run = %v, %v; want free", ok, err)
	}
}
