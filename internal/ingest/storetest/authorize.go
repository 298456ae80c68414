package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

func testAuthorize(t *testing.T, open Opener) {
	s := open(t, time.Now)
	seed(t, s)
	show1Facts := seeded()
	noChannel := &ingest.Show{ID: show2, SellerID: seller2}
	approved := &ingest.Seller{ID: seller1, Status: ingest.SellerApproved}
	pending := &ingest.Seller{ID: seller2, Status: "pending"}
	// Neither store in this suite tracks sessions, so every session is
	// active; PostgreSQL's auth.sessions check is tested in its package.
	tests := []struct {
		name string
		q    ingest.AuthzQuery
		want ingest.AuthzFacts
	}{
		{"owner", ingest.AuthzQuery{UserID: sellerUser, ShowID: show1},
			ingest.AuthzFacts{SessionActive: true, Seller: approved, Show: show1Facts}},
		{"pending seller, missing show", ingest.AuthzQuery{UserID: pendingUser, ShowID: noShow},
			ingest.AuthzFacts{SessionActive: true, Seller: pending}},
		{"show without channel", ingest.AuthzQuery{UserID: pendingUser, ShowID: show2},
			ingest.AuthzFacts{SessionActive: true, Seller: pending, Show: noChannel}},
		{"another seller's show", ingest.AuthzQuery{UserID: pendingUser, ShowID: show1},
			ingest.AuthzFacts{SessionActive: true, Seller: pending, Show: show1Facts}},
		{"admin without a seller profile", ingest.AuthzQuery{UserID: adminUser, ShowID: show1},
			ingest.AuthzFacts{SessionActive: true, IsAdmin: true, Show: show1Facts}},
		{"admin impersonating", ingest.AuthzQuery{UserID: adminUser, ShowID: show1, ImpersonatedSellerID: seller2},
			ingest.AuthzFacts{SessionActive: true, IsAdmin: true, Seller: pending, Show: show1Facts}},
		{"seller impersonating", ingest.AuthzQuery{UserID: sellerUser, ShowID: show1, ImpersonatedSellerID: seller2},
			ingest.AuthzFacts{SessionActive: true, Seller: pending, Show: show1Facts}},
		{"impersonating a missing seller", ingest.AuthzQuery{UserID: adminUser, ShowID: show1, ImpersonatedSellerID: noShow},
			ingest.AuthzFacts{SessionActive: true, IsAdmin: true, Show: show1Facts}},
		{"seller impersonating a missing seller", ingest.AuthzQuery{UserID: sellerUser, ShowID: show1, ImpersonatedSellerID: noShow},
			ingest.AuthzFacts{SessionActive: true, Show: show1Facts}},
		{"unknown user, missing show", ingest.AuthzQuery{UserID: nobodyUser, ShowID: noShow},
			ingest.AuthzFacts{SessionActive: true}},
		// The domain passes lowercase (httpapi canonicalizes), but a store
		// must not depend on it: PostgreSQL's uuid type does not.
		{"upper-case ids", ingest.AuthzQuery{UserID: strings.ToUpper(adminUser), ShowID: strings.ToUpper(show1), ImpersonatedSellerID: strings.ToUpper(seller1)},
			ingest.AuthzFacts{SessionActive: true, IsAdmin: true, Seller: approved, Show: show1Facts}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Authorize(context.Background(), tt.q)
			if err != nil {
				t.Fatalf("Authorize(%+v): %v", tt.q, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Authorize(%+v) mismatch (-want +got):\n%s", tt.q, diff)
			}
		})
	}
}

func testSeeding(t *testing.T, open Opener) {
	ctx := context.Background()

	t.Run("rejected", func(t *testing.T) {
		t.Parallel()
		s := open(t, time.Now)
		seed(t, s)
		tests := []struct {
			name string
			add  func() error
		}{
			{"duplicate seller id", func() error { return s.AddSeller(ctx, seller1, nobodyUser, "pending") }},
			{"second profile of a user", func() error { return s.AddSeller(ctx, noShow, sellerUser, "pending") }},
			{"seller id not a UUID", func() error { return s.AddSeller(ctx, "seller-1", nobodyUser, "pending") }},
			{"user id not a UUID", func() error { return s.AddSeller(ctx, noShow, "user-1", "pending") }},
			{"admin id not a UUID", func() error { return s.AddAdmin(ctx, "admin") }},
			{"duplicate show id", func() error { return s.AddShow(ctx, ingest.Show{ID: show1, SellerID: seller2}) }},
			// A missing seller is only caught if foreign keys are enforced
			// on the connection that writes.
			{"show of a missing seller", func() error { return s.AddShow(ctx, ingest.Show{ID: noShow, SellerID: noShow}) }},
			{"show id not a UUID", func() error { return s.AddShow(ctx, ingest.Show{ID: "show", SellerID: seller1}) }},
		}
		for _, tt := range tests {
			if err := tt.add(); err == nil {
				t.Errorf("%s: error = nil, want an error", tt.name)
			}
		}
		// Nothing rejected was written.
		want := ingest.AuthzFacts{SessionActive: true}
		q := ingest.AuthzQuery{UserID: nobodyUser, ShowID: noShow}
		got, err := s.Authorize(ctx, q)
		if err != nil {
			t.Fatalf("Authorize(%+v): %v", q, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Authorize(%+v) after rejected seeds (-want +got):\n%s", q, diff)
		}
	})

	t.Run("AddAdmin twice", func(t *testing.T) {
		t.Parallel()
		s := open(t, time.Now)
		for i := range 2 {
			if err := s.AddAdmin(ctx, nobodyUser); err != nil {
				t.Fatalf("AddAdmin #%d: %v", i+1, err)
			}
		}
		q := ingest.AuthzQuery{UserID: nobodyUser, ShowID: noShow}
		if f, err := s.Authorize(ctx, q); err != nil || !f.IsAdmin {
			t.Errorf("Authorize(%+v) = %+v, %v; want IsAdmin", q, f, err)
		}
	})

	t.Run("upper-case ids stored canonical", func(t *testing.T) {
		t.Parallel()
		s := open(t, time.Now)
		up := strings.ToUpper
		must(t, "AddSeller", s.AddSeller(ctx, up(seller1), up(sellerUser), ingest.SellerApproved))
		must(t, "AddAdmin", s.AddAdmin(ctx, up(sellerUser)))
		must(t, "AddShow", s.AddShow(ctx, ingest.Show{ID: up(show1), SellerID: up(seller1), ChannelARN: channel1}))
		q := ingest.AuthzQuery{UserID: sellerUser, ShowID: show1}
		want := ingest.AuthzFacts{
			SessionActive: true, IsAdmin: true,
			Seller: &ingest.Seller{ID: seller1, Status: ingest.SellerApproved},
			Show:   &ingest.Show{ID: show1, SellerID: seller1, ChannelARN: channel1},
		}
		got, err := s.Authorize(ctx, q)
		if err != nil {
			t.Fatalf("Authorize(%+v): %v", q, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Authorize(%+v) mismatch (-want +got):\n%s", q, diff)
		}
	})
}

func testHasSellers(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, time.Now)
	if got, err := s.HasSellers(ctx); err != nil || got {
		t.Errorf("HasSellers() on an empty store = %v, %v; want false, nil", got, err)
	}
	must(t, "AddAdmin", s.AddAdmin(ctx, adminUser))
	if got, err := s.HasSellers(ctx); err != nil || got {
		t.Errorf("HasSellers() with only an admin = %v, %v; want false, nil", got, err)
	}
	must(t, "AddSeller", s.AddSeller(ctx, seller1, sellerUser, "pending"))
	if got, err := s.HasSellers(ctx); err != nil || !got {
		t.Errorf("HasSellers() after AddSeller = %v, %v; want true, nil", got, err)
	}
}
