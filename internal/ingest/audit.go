package ingest

import (
	"context"
	"time"
)

// Action names what a request did, as the audit trail records it.
type Action string

// The audited actions.
const (
	ActionGet       Action = "get"    // ingest details of an existing key
	ActionCreate    Action = "create" // ingest details of a key created for the request
	ActionRotate    Action = "rotate"
	ActionRevoke    Action = "revoke"
	ActionExpire    Action = "expire" // a key rotated because it was too old
	ActionAuditRead Action = "audit_read"
)

// Outcome says how a request ended.
type Outcome string

// The audited outcomes.
const (
	OutcomeAllowed Outcome = "allowed"
	OutcomeDenied  Outcome = "denied"
	OutcomeError   Outcome = "error"
)

// AuditEntry is one row of the audit trail: who asked for what, and how it
// ended. It never holds a key value or a token.
type AuditEntry struct {
	ID                   int64     `json:"id"`
	OccurredAt           time.Time `json:"occurredAt"`
	RequestID            string    `json:"requestId"`
	Action               Action    `json:"action"`
	Outcome              Outcome   `json:"outcome"`
	HTTPStatus           int       `json:"httpStatus"`
	ActorUserID          string    `json:"actorUserId,omitempty"`
	ImpersonatedSellerID string    `json:"impersonatedSellerId,omitempty"`
	SellerID             string    `json:"sellerId,omitempty"`
	ShowID               string    `json:"showId,omitempty"`
	StreamKeyARN         string    `json:"streamKeyArn,omitempty"`
	ClientIP             string    `json:"clientIp,omitempty"`
	UserAgent            string    `json:"userAgent,omitempty"`
	Reason               string    `json:"reason,omitempty"`
}

// AuditQuery selects audit entries, newest first.
type AuditQuery struct {
	ShowID string    // "" for every show
	Since  time.Time // zero for no lower bound
	Limit  int
}

// Auditor is the store's audit trail.
type Auditor interface {
	// WriteAudit records e durably before it returns.
	WriteAudit(ctx context.Context, e AuditEntry) error
	// ReadAudit returns the entries q selects, newest first.
	ReadAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
}
