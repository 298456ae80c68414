package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// timeLayout stores times as sortable UTC text.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// WriteAudit implements ingest.Auditor. The row is committed when it returns.
func (db *DB) WriteAudit(ctx context.Context, e ingest.AuditEntry) error {
	return insertAudit(ctx, db.write, e)
}

// execer is the writing connection or a channel section's transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func insertAudit(ctx context.Context, ex execer, e ingest.AuditEntry) error {
	at := e.OccurredAt
	if at.IsZero() {
		at = time.Now()
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

// ReadAudit implements ingest.Auditor.
func (db *DB) ReadAudit(ctx context.Context, q ingest.AuditQuery) ([]ingest.AuditEntry, error) {
	since := ""
	if !q.Since.IsZero() {
		since = q.Since.UTC().Format(timeLayout)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT id, occurred_at, request_id, action, outcome, http_status,
	coalesce(actor_user_id, ''), coalesce(impersonated_seller_id, ''), coalesce(seller_id, ''), coalesce(show_id, ''),
	coalesce(stream_key_arn, ''), coalesce(client_ip, ''), coalesce(user_agent, ''), coalesce(reason, '')
	FROM audit_log
	WHERE (?1 = '' OR show_id = ?1) AND (?2 = '' OR occurred_at >= ?2)
	ORDER BY occurred_at DESC, id DESC LIMIT ?3`, strings.ToLower(q.ShowID), since, q.Limit)
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
