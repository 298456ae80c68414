package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/limit"
	"github.com/ivs-ingest/ivs-ingest/internal/limit/limittest"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
)

// The rate limits shared by replicas keep the same contract as one
// process's.
func TestRateLimitsContract(t *testing.T) {
	t.Parallel()
	_, db := migrated(t)
	limittest.Run(t, db, "")
}

// Two pools on one database are two replicas: their charges add up.
func TestRateLimitsAcrossReplicas(t *testing.T) {
	t.Parallel()
	url, a := migrated(t)
	b := open(t, url)
	ctx := context.Background()
	r := limit.Rate{Interval: time.Hour, Burst: 2}
	for i, db := range []limit.Source{a, b} {
		if ok, _, err := db.Take(ctx, "k", 1, r); err != nil || !ok {
			t.Fatalf("replica %d: Take = %v, %v; want allowed", i, ok, err)
		}
	}
	if ok, _, err := a.Take(ctx, "k", 1, r); err != nil || ok {
		t.Fatalf("third Take across replicas = %v, %v; want refused", ok, err)
	}
	n, err := a.PruneRateLimits(ctx)
	if err != nil || n != 0 {
		t.Errorf("PruneRateLimits with a key in debt = %d, %v; want 0", n, err)
	}
	// A paid-off key is as if never seen: the sweep deletes its row.
	pgtest.Exec(t, url, `INSERT INTO ivs_ingest.rate_limits (key, tat) VALUES ('paid', now() - interval '1 second')`)
	if n, err := a.PruneRateLimits(ctx); err != nil || n != 1 {
		t.Errorf("PruneRateLimits with a paid-off key = %d, %v; want 1", n, err)
	}
}
