package postgres

import (
	"context"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// AuditBatchStats returns how many statements the audit rows' group commit
// sent, the rows they held, and how many were retried row by row.
func (db *DB) AuditBatchStats() (statements, rows, retried int64) {
	b := db.audit
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.statements, b.rows, b.retried
}

// WriteAuditAlone writes e in a statement of its own, as WriteAudit did
// before the group commit: the benchmark's comparison.
func (db *DB) WriteAuditAlone(ctx context.Context, e ingest.AuditEntry) error {
	return insertAudit(ctx, db.pool, e)
}

// AuditQueueRows is the bound of the group commit's queue.
const AuditQueueRows = auditQueueRows

// AuditClosing reports whether Close has begun draining the audit queue.
func (db *DB) AuditClosing() bool {
	b := db.audit
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}
