package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// auditCounts returns how many audit rows are older than 30 days, and how
// many are newer.
func auditCounts(t *testing.T, dbURL string) (old, recent int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE occurred_at < now() - interval '30 days'),
	count(*) FILTER (WHERE occurred_at >= now() - interval '30 days') FROM ivs_ingest.audit_log`).Scan(&old, &recent)
	if err != nil {
		t.Fatalf("count audit rows: %v", err)
	}
	return old, recent
}

// addAuditRows adds n rows that occurred ago.
func addAuditRows(t *testing.T, dbURL string, n int, ago string) {
	t.Helper()
	pgtest.Exec(t, dbURL, `INSERT INTO ivs_ingest.audit_log (occurred_at, request_id, action, outcome, http_status)
	SELECT now() - $1::interval, 'test-' || i, 'get', 'allowed', 200 FROM generate_series(1, $2::int) i`, ago, n)
}

func TestPruneAudit(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	addAuditRows(t, env.DatabaseURL, 7, "500 days")
	addAuditRows(t, env.DatabaseURL, 3, "1 day")

	// Another process holds the lease: nothing is deleted.
	pgtest.Exec(t, env.DatabaseURL, `INSERT INTO ivs_ingest.leases (name, holder, expires_at) VALUES ('audit-retention', 'elsewhere', now() + interval '1 hour')`)
	out, err := runCmd(t, env.Getenv(nil), "prune-audit")
	if err != nil || !strings.Contains(out, "holds the lease") {
		t.Errorf("prune-audit while the lease is held = %q, %v; want it to say so", out, err)
	}
	if old, _ := auditCounts(t, env.DatabaseURL); old != 7 {
		t.Errorf("%d old rows after prune-audit without the lease, want 7", old)
	}

	// Expired, the lease is taken; the default 400 days deletes the old rows only.
	pgtest.Exec(t, env.DatabaseURL, `UPDATE ivs_ingest.leases SET expires_at = now() - interval '1 second'`)
	out, err = runCmd(t, env.Getenv(nil), "prune-audit")
	if err != nil || !strings.Contains(out, "7 deleted (older than 9600h0m0s)") {
		t.Errorf("prune-audit = %q, %v; want 7 deleted", out, err)
	}
	if old, recent := auditCounts(t, env.DatabaseURL); old != 0 || recent != 3 {
		t.Errorf("after prune-audit: %d old and %d recent rows, want 0 and 3", old, recent)
	}

	out, err = runCmd(t, env.Getenv(map[string]string{"AUDIT_RETENTION": "0"}), "prune-audit")
	if err != nil || !strings.Contains(out, "kept for ever") {
		t.Errorf("prune-audit with AUDIT_RETENTION=0 = %q, %v; want nothing done", out, err)
	}
	out, err = runCmd(t, env.Getenv(map[string]string{"AUDIT_RETENTION": "12h"}), "prune-audit")
	if err != nil || !strings.Contains(out, "3 deleted") {
		t.Errorf("prune-audit with AUDIT_RETENTION=12h = %q, %v; want the 3 day-old rows deleted", out, err)
	}
}

// serve prunes in the background from its start.
func TestServePrunesTheAuditLog(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	addAuditRows(t, env.DatabaseURL, 4, "500 days")
	addAuditRows(t, env.DatabaseURL, 2, "1 day")
	s := serve(t, env.Getenv(nil))
	// The log line comes after the delete: wait for both.
	deadline := time.Now().Add(20 * time.Second)
	for {
		old, recent := auditCounts(t, env.DatabaseURL)
		logged := strings.Contains(s.stderr.String(), "old audit entries deleted")
		if old == 0 && logged {
			if recent != 2 {
				t.Errorf("serve's pruning left %d recent rows, want 2", recent)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("20s after serve started: %d old audit rows left, pruning logged: %v\n%s", old, logged, s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	if err := s.wait(t); err != nil {
		t.Errorf("serve returned %v after SIGTERM, want nil", err)
	}
}
