package ingest

import (
	"strings"
	"testing"
	"time"
)

func TestOwnerView(t *testing.T) {
	t.Parallel()
	const (
		owner = "a0000000-0000-4000-8000-00000000000a"
		admin = "a0000000-0000-4000-8000-0000000000ad"
	)
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	// row is an entry with every field set, by actor.
	row := func(actor string) AuditEntry {
		return AuditEntry{ID: 7, OccurredAt: at, RequestID: "req-1", Action: ActionRevoke, Outcome: OutcomeAllowed, HTTPStatus: 200,
			ActorUserID: actor, ImpersonatedSellerID: sellerA, SellerID: sellerA, ShowID: "s", StreamKeyARN: "arn:key",
			ClientIP: "203.0.113.9", UserAgent: "admin-console/2.0", Reason: "key pasted in a public chat"}
	}
	// stripped is row(actor) without who made it or from where.
	stripped := func(actor string) AuditEntry {
		e := row(actor)
		e.ActorUserID, e.ClientIP, e.UserAgent = "", "", ""
		return e
	}
	tests := []struct {
		name    string
		entry   AuditEntry
		ownerID string
		want    AuditEntry
	}{
		{"the owner's own entry", row(owner), owner, row(owner)},
		{"the owner's own entry, id in another case", row(strings.ToUpper(owner)), owner, row(strings.ToUpper(owner))},
		{"an admin's entry", row(admin), owner, stripped(admin)},
		{"the operator's command (no actor)", row(""), owner, stripped("")},
		{"no owner id keeps nothing whole", row(""), "", stripped("")},
		// The store's filter keeps only the owner's, admins' and the
		// operator's entries; any other that slipped through is stripped too.
		{"another user's entry", row("a0000000-0000-4000-8000-0000000000bb"), owner, stripped("")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ownerView(tt.entry, tt.ownerID); got != tt.want {
				t.Errorf("ownerView(%+v, %q) = %+v, want %+v", tt.entry, tt.ownerID, got, tt.want)
			}
		})
	}
}
