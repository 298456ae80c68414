package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// WriteAudit implements ingest.Auditor. The row is committed when it returns.
func (db *DB) WriteAudit(ctx context.Context, e ingest.AuditEntry) error {
	return insertAudit(ctx, db.pool, e)
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// insertAudit inserts e with ex: the pool, or a channel section's transaction.
func insertAudit(ctx context.Context, ex execer, e ingest.AuditEntry) error {
	_, err := ex.Exec(ctx, `INSERT INTO ivs_ingest.audit_log
	(request_id, action, outcome, http_status, actor_user_id, impersonated_seller_id, seller_id, show_id,
	 stream_key_arn, client_ip, user_agent, reason)
	VALUES ($1, $2, $3, $4, $5::uuid, $6::uuid, $7::uuid, $8::uuid, $9, $10, $11, $12)`,
		e.RequestID, string(e.Action), string(e.Outcome), e.HTTPStatus, nullable(e.ActorUserID), nullable(e.ImpersonatedSellerID),
		nullable(e.SellerID), nullable(e.ShowID), nullable(e.StreamKeyARN), nullable(e.ClientIP), nullable(e.UserAgent), nullable(e.Reason))
	if err != nil {
		return fmt.Errorf("insert audit row: %w", err)
	}
	return nil
}

// ReadAudit implements ingest.Auditor.
func (db *DB) ReadAudit(ctx context.Context, q ingest.AuditQuery) ([]ingest.AuditEntry, error) {
	var since *time.Time
	if !q.Since.IsZero() {
		since = &q.Since
	}
	rows, err := db.pool.Query(ctx, `SELECT id, occurred_at, request_id, action, outcome, http_status,
	coalesce(actor_user_id::text, ''), coalesce(impersonated_seller_id::text, ''), coalesce(seller_id::text, ''),
	coalesce(show_id::text, ''), coalesce(stream_key_arn, ''), coalesce(client_ip, ''), coalesce(user_agent, ''), coalesce(reason, '')
	FROM ivs_ingest.audit_log
	WHERE ($1::uuid IS NULL OR show_id = $1::uuid) AND ($2::timestamptz IS NULL OR occurred_at >= $2)
	ORDER BY occurred_at DESC, id DESC LIMIT $3`, nullable(q.ShowID), since, q.Limit)
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
