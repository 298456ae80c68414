package postgres_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
)

// BenchmarkWriteAudit compares the audit rows written one statement each
// (as before the group commit) with DB.WriteAudit's group commit, alone and
// from 50 and 200 goroutines over a pool of 20 connections (run it with
// scripts/with-postgres go test -run '^$' -bench WriteAudit ./internal/postgres/).
func BenchmarkWriteAudit(b *testing.B) {
	ctx := context.Background()
	url := pgtest.NewDatabase(b)
	if err := postgres.Migrate(ctx, url, discard); err != nil {
		b.Fatalf("Migrate: %v", err)
	}
	db, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 20})
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(db.Close)
	e := ingest.AuditEntry{
		RequestID: "0123456789abcdef", Action: ingest.ActionGet, Outcome: ingest.OutcomeAllowed, HTTPStatus: 200,
		ActorUserID: "6f1c1f8e-2a4b-4d3c-9e8f-0a1b2c3d4e5f", SellerID: "7a2d2e9f-3b5c-4e4d-8f90-1b2c3d4e5f60",
		ShowID: "8b3e3fa0-4c6d-4f5e-9a01-2c3d4e5f6071", StreamKeyARN: "arn:aws:ivs:us-east-1:123456789012:stream-key/abcdEFGH1234",
		ClientIP: "203.0.113.7", UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15",
	}
	ways := []struct {
		name  string
		write func(context.Context, ingest.AuditEntry) error
	}{
		{"alone", db.WriteAuditAlone},
		{"grouped", db.WriteAudit},
	}
	// Each write on a context with a deadline, as httpapi's authed writes
	// its rows.
	for i, w := range ways {
		write := w.write
		ways[i].write = func(ctx context.Context, e ingest.AuditEntry) error {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return write(ctx, e)
		}
	}
	for _, w := range ways {
		b.Run(w.name+"/serial", func(b *testing.B) {
			for b.Loop() {
				if err := w.write(ctx, e); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, g := range []int{50, 200} {
			b.Run(fmt.Sprintf("%s/goroutines-%d", w.name, g), func(b *testing.B) {
				statements0, rows0, _ := db.AuditBatchStats()
				b.SetParallelism(max(1, g/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := w.write(ctx, e); err != nil {
							b.Error(err)
							return
						}
					}
				})
				if statements, rows, _ := db.AuditBatchStats(); statements > statements0 {
					b.ReportMetric(float64(rows-rows0)/float64(statements-statements0), "rows/stmt")
				}
			})
		}
	}
}
