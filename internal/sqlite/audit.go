package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// WriteAudit implements ingest.Auditor. The row is committed when it returns.
func (db *DB) WriteAudit(ctx context.Context, e ingest.AuditEntry) error {
	return insertAudit(ctx, db.write, e, db.Now())
}

// execer is the writing connection or a channel section's transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertAudit inserts e with ex, dated now unless e has a time.
func insertAudit(ctx context.Context, ex execer, e ingest.AuditEntry, now time.Time) error {
	at := e.OccurredAt
	if at.IsZero() {
		at = now
	}
	_, err := ex.ExecContext(ctx, `INSERT INTO audit_log
	(occurred_at, request_id, action, outcome, http_status, actor_user_id, impersonated_seller_id, seller_id, show_id,
	 stream_key_arn, client_ip, user_agent, reason)
	VALUES (?1, ?2, ?3, ?4, ?5, NULLIF(?6, ''), NULLIF(?7, ''), NULLIF(?8, ''), NULLIF(?9, ''), NULLIF(?10, ''),
	 NULLIF(?11, ''), NULLIF(?12, ''), NULLIF(?13, ''))`,
		at.UTC().Format(timeLayout), e.RequestID, string(e.Action), string(e.Outcome), e.HTTPStatus,
		strings.ToLower(e.ActorUserID), strings.ToLower(e.ImpersonatedSellerID), strings.ToLower(e.SellerID),
		strings.ToLower(e.ShowID), e.StreamKeyARN, e.ClientIP, e.UserAgent, e.Reason)
	if err != nil {
		return fmt.Errorf("insert audit row: %w", err)
	}
	return nil
}

// auditWhere is the filter of ReadAudit and CountAudit, over audit_log a:
// ?1 show, ?2 since, ?3 outcome, ?4 before id (0: none), ?5 the actor
// filter's user (empty: every entry), ?6 the filter's Others (0 or 1).
const auditWhere = `(?1 = '' OR a.show_id = ?1)
	AND (?2 = '' OR a.occurred_at >= ?2)
	AND (?3 = '' OR a.outcome = ?3)
	AND (?4 = 0 OR a.id < ?4)
	AND (?5 = '' OR (a.actor_user_id IS NULL OR a.actor_user_id = ?5
		OR EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = a.actor_user_id AND r.role = 'admin')) <> ?6)`

// auditArgs are auditWhere's arguments for q, then limit.
func auditArgs(q ingest.AuditQuery, limit int) []any {
	since := ""
	if !q.Since.IsZero() {
		since = q.Since.UTC().Format(timeLayout)
	}
	return []any{strings.ToLower(q.ShowID), since, string(q.Outcome), q.BeforeID, strings.ToLower(q.Actors.UserID), q.Actors.Others, limit}
}

// ReadAudit implements ingest.Auditor.
func (db *DB) ReadAudit(ctx context.Context, q ingest.AuditQuery) ([]ingest.AuditEntry, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT a.id, a.occurred_at, a.request_id, a.action, a.outcome, a.http_status,
	coalesce(a.actor_user_id, ''), coalesce(a.impersonated_seller_id, ''), coalesce(a.seller_id, ''), coalesce(a.show_id, ''),
	coalesce(a.stream_key_arn, ''), coalesce(a.client_ip, ''), coalesce(a.user_agent, ''), coalesce(a.reason, '')
	FROM audit_log a
	WHERE `+auditWhere+`
	ORDER BY a.id DESC LIMIT ?7`, auditArgs(q, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	defer rows.Close()
	var out []ingest.AuditEntry
	for rows.Next() {
		var e ingest.AuditEntry
		var at, action, outcome string
		if err := rows.Scan(&e.ID, &at, &e.RequestID, &action, &outcome, &e.HTTPStatus, &e.ActorUserID,
			&e.ImpersonatedSellerID, &e.SellerID, &e.ShowID, &e.StreamKeyARN, &e.ClientIP, &e.UserAgent, &e.Reason); err != nil {
			return nil, fmt.Errorf("read audit: %w", err)
		}
		if e.OccurredAt, err = time.Parse(timeLayout, at); err != nil {
			return nil, fmt.Errorf("read audit: occurred_at %q: %w", at, err)
		}
		e.Action, e.Outcome = ingest.Action(action), ingest.Outcome(outcome)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	return out, nil
}

// CountAudit implements ingest.Auditor.
func (db *DB) CountAudit(ctx context.Context, q ingest.AuditQuery) (int, error) {
	q.BeforeID = 0
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM audit_log a WHERE `+auditWhere+` LIMIT ?7)`,
		auditArgs(q, q.Limit)...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count audit: %w", err)
	}
	return n, nil
}

// DeleteAuditBefore implements ingest.AuditPruner. One process uses the
// file, so no lease is needed.
func (db *DB) DeleteAuditBefore(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM audit_log WHERE id IN (
	SELECT id FROM audit_log WHERE occurred_at < ?1 ORDER BY occurred_at LIMIT ?2)`, cutoff.UTC().Format(timeLayout), limit)
	if err != nil {
		return 0, fmt.Errorf("delete old audit rows: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete old audit rows: %w", err)
	}
	return int(n), nil
}

// WriteAudit implements ingest.ChannelTx: the row commits with the section.
func (c *channelTx) WriteAudit(ctx context.Context, e ingest.AuditEntry) error {
	tx, err := c.begin(ctx)
	if err != nil {
		return fmt.Errorf("write audit row: %w", err)
	}
	return insertAudit(ctx, tx, e, c.db.Now())
}
