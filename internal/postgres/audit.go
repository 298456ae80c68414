package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// WriteAudit implements ingest.Auditor. The row is committed when it
// returns: in one statement with the rows of other requests written at the
// same time (group commit, see auditBatcher), or on its own when there are
// none.
func (db *DB) WriteAudit(ctx context.Context, e ingest.AuditEntry) error {
	return db.audit.write(ctx, e)
}

// ObserveAuditBatches tells o of each statement of the audit rows' group
// commit from now on.
func (db *DB) ObserveAuditBatches(o AuditBatchObserver) { db.audit.setObserver(o) }

// AuditRowsQueued is how many audit rows wait for their statement now.
func (db *DB) AuditRowsQueued() int { return db.audit.queued() }

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// insertAudit inserts e with ex: the pool, or a channel section's transaction.
func insertAudit(ctx context.Context, ex execer, e ingest.AuditEntry) error {
	e = cleanAuditEntry(e)
	var at *time.Time
	if !e.OccurredAt.IsZero() {
		at = &e.OccurredAt
	}
	_, err := ex.Exec(ctx, `INSERT INTO ivs_ingest.audit_log
	(occurred_at, request_id, action, outcome, http_status, actor_user_id, impersonated_seller_id, seller_id, show_id,
	 stream_key_arn, client_ip, user_agent, reason)
	VALUES (coalesce($13::timestamptz, now()), $1, $2, $3, $4, $5::uuid, $6::uuid, $7::uuid, $8::uuid, $9, $10, $11, $12)`,
		e.RequestID, string(e.Action), string(e.Outcome), e.HTTPStatus, nullable(e.ActorUserID), nullable(e.ImpersonatedSellerID),
		nullable(e.SellerID), nullable(e.ShowID), nullable(e.StreamKeyARN), nullable(e.ClientIP), nullable(e.UserAgent), nullable(e.Reason), at)
	if err != nil {
		return fmt.Errorf("insert audit row: %w", err)
	}
	return nil
}

// auditWhere is the filter of ReadAudit and CountAudit, over audit_log a:
// $1 show, $2 since, $3 outcome, $4 before id (0: none), $5 the actor
// filter's user (NULL: every entry), $6 the filter's Others.
const auditWhere = `($1::uuid IS NULL OR a.show_id = $1::uuid)
	AND ($2::timestamptz IS NULL OR a.occurred_at >= $2)
	AND ($3::text IS NULL OR a.outcome = $3)
	AND ($4::bigint = 0 OR a.id < $4)
	AND ($5::uuid IS NULL OR (a.actor_user_id IS NULL OR a.actor_user_id = $5::uuid
		OR EXISTS (SELECT 1 FROM public.user_roles r WHERE r.user_id = a.actor_user_id AND r.role::text = 'admin')) <> $6::boolean)`

// auditArgs are auditWhere's arguments for q.
func auditArgs(q ingest.AuditQuery) []any {
	var since *time.Time
	if !q.Since.IsZero() {
		since = &q.Since
	}
	return []any{nullable(q.ShowID), since, nullable(string(q.Outcome)), q.BeforeID, nullable(q.Actors.UserID), q.Actors.Others}
}

// ReadAudit implements ingest.Auditor.
func (db *DB) ReadAudit(ctx context.Context, q ingest.AuditQuery) ([]ingest.AuditEntry, error) {
	rows, err := db.pool.Query(ctx, `SELECT a.id, a.occurred_at, a.request_id, a.action, a.outcome, a.http_status,
	coalesce(a.actor_user_id::text, ''), coalesce(a.impersonated_seller_id::text, ''), coalesce(a.seller_id::text, ''),
	coalesce(a.show_id::text, ''), coalesce(a.stream_key_arn, ''), coalesce(a.client_ip, ''), coalesce(a.user_agent, ''), coalesce(a.reason, '')
	FROM ivs_ingest.audit_log a
	WHERE `+auditWhere+`
	ORDER BY a.id DESC LIMIT $7`, append(auditArgs(q), q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ingest.AuditEntry, error) {
		var e ingest.AuditEntry
		var action, outcome string
		err := r.Scan(&e.ID, &e.OccurredAt, &e.RequestID, &action, &outcome, &e.HTTPStatus, &e.ActorUserID,
			&e.ImpersonatedSellerID, &e.SellerID, &e.ShowID, &e.StreamKeyARN, &e.ClientIP, &e.UserAgent, &e.Reason)
		e.Action, e.Outcome = ingest.Action(action), ingest.Outcome(outcome)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	return entries, nil
}

// CountAudit implements ingest.Auditor.
func (db *DB) CountAudit(ctx context.Context, q ingest.AuditQuery) (int, error) {
	q.BeforeID = 0
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM ivs_ingest.audit_log a WHERE `+auditWhere+` LIMIT $7) c`,
		append(auditArgs(q), q.Limit)...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count audit: %w", err)
	}
	return n, nil
}

// DeleteAuditBefore implements ingest.AuditPruner: one short statement,
// through audit_log_occurred_at_idx.
func (db *DB) DeleteAuditBefore(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM ivs_ingest.audit_log WHERE id IN (
	SELECT id FROM ivs_ingest.audit_log WHERE occurred_at < $1 ORDER BY occurred_at LIMIT $2)`, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("delete old audit rows: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// WriteAudit implements ingest.ChannelTx: the row commits with the section.
func (c channelTx) WriteAudit(ctx context.Context, e ingest.AuditEntry) error {
	return insertAudit(ctx, c.tx, e)
}
