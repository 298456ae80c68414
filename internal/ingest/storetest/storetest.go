// Package storetest is the contract every implementation of ingest.Store in
// this project passes: the production PostgreSQL store and the embedded
// SQLite one run the same suite, so the domain cannot tell them apart. The
// suite includes exactly-once stream key creation through the real domain
// service, the real IVS adapter and the IVS emulator.
//
// One file per contract area: authorize.go (the authorization facts and
// seeding), channel.go (a channel's section, its lock and what it records),
// creation.go (exactly-once creation and the creation limit), audit.go,
// sealed.go (the key store) and datakeys.go (its KMS-wrapped data keys).
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// Store is a store under test: the domain's ingest.Store and the seeding
// methods the suite (and dev mode's demo data) use.
type Store interface {
	ingest.Store
	ingest.AuditPruner
	DataKeys
	// AddSeller adds a seller profile; id and userID are UUIDs.
	AddSeller(ctx context.Context, id, userID, status string) error
	// AddAdmin gives userID the admin role; it is a no-op for an admin.
	AddAdmin(ctx context.Context, userID string) error
	// AddShow adds a show; its empty ChannelARN, IngestEndpoint and
	// StreamKeyARN are stored as NULL.
	AddShow(ctx context.Context, show ingest.Show) error
	// HasSellers reports whether any seller profile exists.
	HasSellers(ctx context.Context) (bool, error)
}

// Opener returns a new, empty, migrated store each time it is called, and
// closes it when t ends. now is the clock the store must date its records
// with and compare them to, where it reads the time itself (SQLite's
// DB.Now); a store whose database keeps the time (PostgreSQL's now()) may
// ignore it.
type Opener func(t *testing.T, now func() time.Time) Store

// Run runs the contract suite. Subtests run in parallel, each with stores
// of its own.
func Run(t *testing.T, open Opener) {
	t.Helper()
	tests := []struct {
		name string
		run  func(*testing.T, Opener)
	}{
		{"Authorize", testAuthorize},
		{"Seeding", testSeeding},
		{"HasSellers", testHasSellers},
		{"RecordStreamKey", testRecordStreamKey},
		{"SetIngestEndpoint", testSetIngestEndpoint},
		{"WithChannelLock", testWithChannelLock},
		{"ExactlyOnceCreation", testExactlyOnceCreation},
		{"Audit", testAudit},
		{"AuditPaging", testAuditPaging},
		{"AuditFilters", testAuditFilters},
		{"AuditOwnerView", testAuditOwnerView},
		{"AuditRetention", testAuditRetention},
		{"KeyCreationLimit", testKeyCreationLimit},
		{"ChannelSection", testChannelSection},
		{"KeyAges", testKeyAges},
		{"Sealed", testSealed},
		{"DataKeys", testDataKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open)
		})
	}
}

const (
	sellerUser  = "a0000000-0000-4000-8000-000000000001"
	pendingUser = "a0000000-0000-4000-8000-000000000002"
	adminUser   = "a0000000-0000-4000-8000-000000000003"
	nobodyUser  = "a0000000-0000-4000-8000-000000000004"
	seller1     = "c0000000-0000-4000-8000-000000000001"
	seller2     = "c0000000-0000-4000-8000-000000000002"
	show1       = "d0000000-0000-4000-8000-000000000001"
	show2       = "d0000000-0000-4000-8000-000000000002"
	noShow      = "d0000000-0000-4000-8000-0000000000ff"
	channel1    = "arn:aws:ivs:us-east-1:123456789012:channel/abcdefghijkl"
	channel2    = "arn:aws:ivs:us-east-1:123456789012:channel/mnopqrstuvwx"
	endpoint1   = "abc.global-contribute.live-video.net"
	key1        = "arn:aws:ivs:us-east-1:123456789012:stream-key/keykeykeykey"
)

// seeded returns show1 as seed stores it.
func seeded() *ingest.Show {
	return &ingest.Show{ID: show1, SellerID: seller1, ChannelARN: channel1, IngestEndpoint: endpoint1, StreamKeyARN: key1}
}

// seed fills s with: an approved seller (sellerUser, seller1) owning show1,
// which has a channel, endpoint and key; a pending seller (pendingUser,
// seller2) owning show2, which has no channel, endpoint or key; and an
// admin (adminUser) without a seller profile.
func seed(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	must(t, "AddSeller(seller1)", s.AddSeller(ctx, seller1, sellerUser, ingest.SellerApproved))
	must(t, "AddSeller(seller2)", s.AddSeller(ctx, seller2, pendingUser, "pending"))
	must(t, "AddAdmin", s.AddAdmin(ctx, adminUser))
	must(t, "AddShow(show1)", s.AddShow(ctx, *seeded()))
	must(t, "AddShow(show2)", s.AddShow(ctx, ingest.Show{ID: show2, SellerID: seller2}))
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// showOf reads a show back through Authorize, as the domain does.
func showOf(t *testing.T, s Store, showID string) *ingest.Show {
	t.Helper()
	q := ingest.AuthzQuery{UserID: sellerUser, ShowID: showID}
	f, err := s.Authorize(context.Background(), q)
	if err != nil {
		t.Fatalf("Authorize(%+v): %v", q, err)
	}
	return f.Show
}
