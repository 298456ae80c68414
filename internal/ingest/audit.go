package ingest

import (
	"context"
	"fmt"
	"strings"
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

// ParseOutcome checks that s names an outcome.
func ParseOutcome(s string) (Outcome, bool) {
	switch o := Outcome(s); o {
	case OutcomeAllowed, OutcomeDenied, OutcomeError:
		return o, true
	}
	return "", false
}

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

// AuditQuery selects audit entries, newest first: by id, descending, which
// is the order they were written in, so that paging by id is stable while
// entries are added.
type AuditQuery struct {
	ShowID  string    // "" for every show
	Since   time.Time // zero for no lower bound; else entries at or after it
	Outcome Outcome   // "" for every outcome
	// BeforeID keeps the entries with a smaller id: where the previous
	// page ended. 0 for the first page.
	BeforeID int64
	Limit    int
	// Actors narrows the entries by who made them; the zero value keeps
	// every entry.
	Actors ActorFilter
}

// ActorFilter narrows audit entries by their actor.
type ActorFilter struct {
	// UserID, when set, keeps the entries whose actor is UserID, an admin
	// (as user_roles says when the entries are read), or nobody (the
	// operator's commands); "" keeps every entry.
	UserID string
	// Others inverts UserID's selection: only the entries of anyone else.
	Others bool
}

// AuditPage is one page of an audit read.
type AuditPage struct {
	Entries []AuditEntry
	// NextBeforeID is where the next page starts (AuditQuery.BeforeID); 0
	// on the last page.
	NextBeforeID int64
	// OtherEntries, in the owner's view only, is how many entries by other
	// users match the query's filters (every page, not just this one) and
	// were left out, counted up to MaxOtherEntries; nil for admins.
	OtherEntries *int
}

// MaxOtherEntries bounds the count of entries left out of an owner's view:
// anyone can add denied entries naming a show, and counting them all on
// every read would let them make each read as slow as they like.
const MaxOtherEntries = 10000

// ReadAudit returns a page of the audit trail of q.ShowID (every show when
// "", for admins only). Admins may read any show's, and see every entry.
// Sellers, whatever their status, may read their own shows' and get the
// owner's view: their own entries, and admins' and the operator's without
// who made them or from where (admins' client IP and user agent are theirs,
// not the seller's to see); entries by anyone else, such as other users'
// denied requests naming the show, which anyone can add, are only counted.
func (s *Service) ReadAudit(ctx context.Context, caller Caller, q AuditQuery) (AuditPage, error) {
	showID := q.ShowID
	if showID == "" {
		// Any id that matches no show: the facts still say who the caller is.
		showID = "00000000-0000-0000-0000-000000000000"
	}
	facts, err := s.store.Authorize(ctx, AuthzQuery{UserID: caller.UserID, SessionID: caller.SessionID, ShowID: showID})
	if err != nil {
		return AuditPage{}, fmt.Errorf("authorize: %w", err)
	}
	if err := mayReadAudit(facts, q.ShowID == ""); err != nil {
		return AuditPage{}, err
	}
	owner := !facts.IsAdmin
	q.Actors = ActorFilter{}
	if owner {
		q.Actors.UserID = caller.UserID
	}
	limit := max(q.Limit, 1)
	q.Limit = limit + 1 // one more tells whether a next page exists
	entries, err := s.store.ReadAudit(ctx, q)
	if err != nil {
		return AuditPage{}, fmt.Errorf("read audit: %w", err)
	}
	var page AuditPage
	if len(entries) > limit {
		entries = entries[:limit]
		page.NextBeforeID = entries[limit-1].ID
	}
	page.Entries = entries
	if !owner {
		return page, nil
	}
	for i, e := range page.Entries {
		page.Entries[i] = ownerView(e, caller.UserID)
	}
	others := q
	others.Actors.Others = true
	others.BeforeID = 0
	others.Limit = MaxOtherEntries
	n, err := s.store.CountAudit(ctx, others)
	if err != nil {
		return AuditPage{}, fmt.Errorf("count audit: %w", err)
	}
	page.OtherEntries = &n
	return page, nil
}

// ownerView is e as the owner of its show, the user ownerID, sees it: their
// own entry whole; anyone else's (in the owner's view the store keeps only
// admins' and the operator's commands') without the actor's id, client IP
// and user agent.
// Why: an admin's address and browser are the admin's, not the seller's to
// see, and which admin acted is for the operators to tell; the seller still
// sees what was done to their show, when, and why (the reason). Stripping
// every entry that is not the owner's, rather than only those known to be an
// admin's, keeps another user's address out of the view even if the store's
// filter let their entry through.
func ownerView(e AuditEntry, ownerID string) AuditEntry {
	// User ids are UUIDs, which may be written in either case.
	if e.ActorUserID != "" && strings.EqualFold(e.ActorUserID, ownerID) {
		return e
	}
	e.ActorUserID, e.ClientIP, e.UserAgent = "", "", ""
	return e
}

// WriteAudit records e in the audit trail, durably, before it returns.
func (s *Service) WriteAudit(ctx context.Context, e AuditEntry) error {
	if err := s.store.WriteAudit(ctx, e); err != nil {
		return fmt.Errorf("write audit: %w", err)
	}
	return nil
}
