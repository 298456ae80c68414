package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
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

// Auditor is the store's audit trail.
type Auditor interface {
	// WriteAudit records e durably before it returns. A zero OccurredAt is
	// the store's clock's now.
	WriteAudit(ctx context.Context, e AuditEntry) error
	// ReadAudit returns the entries q selects, newest (highest id) first.
	ReadAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// CountAudit counts the entries q selects, whatever q.BeforeID, up
	// to q.Limit.
	CountAudit(ctx context.Context, q AuditQuery) (int, error)
}

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
	switch {
	case !facts.SessionActive:
		return AuditPage{}, ErrSessionEnded
	case facts.IsAdmin:
	case q.ShowID == "":
		return AuditPage{}, ErrAuditForbidden
	case facts.Seller == nil:
		return AuditPage{}, ErrSellerNotFound
	case facts.Show == nil:
		return AuditPage{}, ErrShowNotFound
	case facts.Show.SellerID != facts.Seller.ID:
		return AuditPage{}, ErrNotShowOwner
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
	for i := range page.Entries {
		if e := &page.Entries[i]; e.ActorUserID != caller.UserID {
			// An admin's entry (the store kept only those and the caller's).
			e.ActorUserID, e.ClientIP, e.UserAgent = "", "", ""
		}
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

// WriteAudit records e in the audit trail, durably, before it returns.
func (s *Service) WriteAudit(ctx context.Context, e AuditEntry) error {
	if err := s.store.WriteAudit(ctx, e); err != nil {
		return fmt.Errorf("write audit: %w", err)
	}
	return nil
}

// AuditPruner deletes old audit entries.
type AuditPruner interface {
	// DeleteAuditBefore deletes up to limit of the entries that occurred
	// before cutoff, oldest first, and returns how many it deleted.
	DeleteAuditBefore(ctx context.Context, cutoff time.Time, limit int) (int, error)
}

// Leaser hands out leases: a named job that only one holder at a time, of
// every replica sharing the store, may run.
type Leaser interface {
	// TakeLease gives name to holder until ttl from now, unless another
	// holder has it and it has not expired; it reports whether holder has it.
	// A holder that has it extends it.
	TakeLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease ends holder's lease on name; nothing when holder has
	// not got it.
	ReleaseLease(ctx context.Context, name, holder string) error
}

// The retention's work per run: batches of pruneBatch entries (one short
// statement each, so no long lock on the table), at most pruneBatches of
// them and at most pruneRunTime; a backlog larger than that is left to the
// next run.
const (
	pruneBatch   = 5000
	pruneBatches = 200
	pruneRunTime = 10 * time.Minute
	// pruneLeaseTTL outlasts a run, so that no second replica starts while
	// one still deletes; a holder that died frees it when it expires.
	pruneLeaseTTL = pruneRunTime + 5*time.Minute
	pruneLease    = "audit-retention"
)

// RetentionOptions tunes a Retention.
type RetentionOptions struct {
	// Age is how long entries are kept; 0 keeps them for ever.
	Age time.Duration
	// Leases makes one replica at a time prune; nil when the store has
	// one process (the embedded store).
	Leases Leaser
	// Sweep, when not nil, runs with each prune under its lease: it deletes
	// what other tables keep only for a while (the store's paid-off rate
	// limits) and returns how many rows.
	Sweep  func(ctx context.Context) (int64, error)
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Retention deletes audit entries older than its age.
type Retention struct {
	store  AuditPruner
	leases Leaser
	sweep  func(ctx context.Context) (int64, error)
	age    time.Duration
	holder string // this process, in the lease
	logger *slog.Logger
	now    func() time.Time
}

// NewRetention returns the retention of store's audit trail.
func NewRetention(store AuditPruner, opts RetentionOptions) *Retention {
	r := &Retention{store: store, leases: opts.Leases, sweep: opts.Sweep, age: opts.Age, holder: NewID(), logger: opts.Logger, now: opts.Now}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r
}

// Age is how long entries are kept; 0 is for ever.
func (r *Retention) Age() time.Duration { return r.age }

// PruneResult reports one run.
type PruneResult struct {
	Deleted int
	// Skipped is true when another replica held the lease, so this run
	// did nothing.
	Skipped bool
	// More is true when the run stopped at its bound with entries left.
	More bool
}

// Prune deletes the entries older than the retention age, in batches, when
// no other replica is doing so. With an age of 0 it does nothing.
func (r *Retention) Prune(ctx context.Context) (PruneResult, error) {
	if r.age <= 0 {
		return PruneResult{}, nil
	}
	if r.leases != nil {
		ok, err := r.leases.TakeLease(ctx, pruneLease, r.holder, pruneLeaseTTL)
		if err != nil {
			return PruneResult{}, fmt.Errorf("take the retention lease: %w", err)
		}
		if !ok {
			return PruneResult{Skipped: true}, nil
		}
		defer func() {
			// Released even when ctx ended; the lease expires anyway.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := r.leases.ReleaseLease(rctx, pruneLease, r.holder); err != nil {
				r.logger.WarnContext(ctx, "retention lease not released; it expires by itself", "error", err.Error())
			}
		}()
	}
	ctx, cancel := context.WithTimeout(ctx, pruneRunTime)
	defer cancel()
	if r.sweep != nil {
		if n, err := r.sweep(ctx); err != nil {
			r.logger.WarnContext(ctx, "sweep of expired rows failed; the next run tries again", "error", err.Error())
		} else if n > 0 {
			r.logger.DebugContext(ctx, "expired rows swept", "rows", n)
		}
	}
	cutoff := r.now().Add(-r.age)
	var res PruneResult
	for range pruneBatches {
		n, err := r.store.DeleteAuditBefore(ctx, cutoff, pruneBatch)
		res.Deleted += n
		if err != nil {
			return res, fmt.Errorf("delete old audit entries: %w", err)
		}
		if n < pruneBatch {
			return res, nil
		}
	}
	res.More = true
	return res, nil
}

// Run prunes at once, then about every interval (give or take a tenth, so
// that replicas started together spread out), until ctx ends. With an age
// of 0 it returns at once.
func (r *Retention) Run(ctx context.Context, every time.Duration) {
	if r.age <= 0 || every <= 0 {
		return
	}
	for {
		res, err := r.Prune(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.logger.WarnContext(ctx, "audit retention failed; the next run tries again", "deleted", res.Deleted, "error", err.Error())
		case res.Deleted > 0 || res.More:
			r.logger.InfoContext(ctx, "old audit entries deleted", "deleted", res.Deleted, "more_left", res.More, "retention", r.age.String())
		}
		wait := every - every/10 + rand.N(every/5+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
