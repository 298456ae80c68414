package ingest

import (
	"errors"
	"fmt"
	"testing"
)

// A refusal because the show is someone else's names the show's seller, for
// the audit row; other refusals name none.
func TestRefusalNamesTheShowsSeller(t *testing.T) {
	t.Parallel()
	approvedB := &Seller{ID: sellerB, Status: SellerApproved}
	showOfA := &Show{ID: "s", SellerID: sellerA, ChannelARN: channel}
	notAdmin := AuthzFacts{SessionActive: true, Seller: approvedB, Show: showOfA}
	impersonatingB := AuthzFacts{SessionActive: true, IsAdmin: true, Seller: approvedB, Show: showOfA}
	tests := []struct {
		name       string
		decide     func() error
		wantSeller string // "" for a refusal that names no seller
		want       error
	}{
		{"get of another seller's show", func() error { _, err := mayGetKey(notAdmin, false); return err }, sellerA, ErrNotShowOwner},
		{"admin impersonating another seller", func() error { _, err := mayGetKey(impersonatingB, true); return err }, sellerA, ErrNotShowOwner},
		{"revoke of another seller's show", func() error { _, err := mayRevoke(notAdmin); return err }, sellerA, ErrNotShowOwner},
		{"audit read of another seller's show", func() error { return mayReadAudit(notAdmin, false) }, sellerA, ErrNotShowOwner},
		{"no such show", func() error {
			_, err := mayGetKey(AuthzFacts{SessionActive: true, Seller: approvedB}, false)
			return err
		}, "", ErrShowNotFound},
		{"not a seller", func() error { _, err := mayRevoke(AuthzFacts{SessionActive: true, Show: showOfA}); return err }, "", ErrSellerNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.decide()
			if !errors.Is(err, tt.want) {
				t.Fatalf("refusal = %v, want %v", err, tt.want)
			}
			// Wrapped on its way out, it still says whose the show is.
			seller, ok := DeniedSeller(fmt.Errorf("authorize again: %w", err))
			if seller != tt.wantSeller || ok != (tt.wantSeller != "") {
				t.Errorf("DeniedSeller(%v) = %q, %v; want %q", err, seller, ok, tt.wantSeller)
			}
			if err.Error() != tt.want.Error() {
				t.Errorf("refusal reads %q, want %q: the caller is not told whose the show is", err, tt.want)
			}
		})
	}
}
