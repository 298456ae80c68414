package postgres_test

import (
	"context"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest/storetest"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
)

// preparedFlag reruns every test of the package with prepared statements
// (DATABASE_PREPARED_STATEMENTS=true): go test ./internal/postgres -prepared.
var preparedFlag = flag.Bool("prepared", false, "open every store with prepared statements (DATABASE_PREPARED_STATEMENTS=true)")

// TestContractPrepared runs the store contract with prepared statements, as
// on a direct or session-mode connection (the test cluster is direct).
func TestContractPrepared(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, _ func() time.Time) storetest.Store {
		url := pgtest.NewDatabase(t)
		if err := postgres.Migrate(context.Background(), url, discard); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return openWith(t, url, true)
	})
}

// TestAuthorizeModes: the function (the default) and the prepared query
// give the same facts, past PostgreSQL's switch to a generic plan (after
// five executions of a cached statement), including impersonation and a
// show that does not exist.
func TestAuthorizeModes(t *testing.T) {
	t.Parallel()
	url, _ := migrated(t)
	seed(t, url)
	show := &ingest.Show{
		ID: show1, SellerID: seller1, ChannelARN: channel1,
		IngestEndpoint: "abc.global-contribute.live-video.net",
		StreamKeyARN:   "arn:aws:ivs:us-east-1:123456789012:stream-key/keykeykeykey",
	}
	tests := []struct {
		q    ingest.AuthzQuery
		want ingest.AuthzFacts
	}{
		{ingest.AuthzQuery{UserID: sellerUser, SessionID: session1, ShowID: show1},
			ingest.AuthzFacts{SessionActive: true, Seller: &ingest.Seller{ID: seller1, Status: "approved"}, Show: show}},
		{ingest.AuthzQuery{UserID: sellerUser, SessionID: noShow, ShowID: noShow},
			ingest.AuthzFacts{Seller: &ingest.Seller{ID: seller1, Status: "approved"}}},
		{ingest.AuthzQuery{UserID: adminUser, ShowID: show1, ImpersonatedSellerID: seller2},
			ingest.AuthzFacts{IsAdmin: true, Seller: &ingest.Seller{ID: seller2, Status: "pending"}, Show: show}},
		{ingest.AuthzQuery{UserID: adminUser, ShowID: show1},
			ingest.AuthzFacts{IsAdmin: true, Show: show}},
	}
	for _, prepared := range []bool{false, true} {
		db := openWith(t, url, prepared)
		for round := range 8 {
			for _, tt := range tests {
				got, err := db.Authorize(context.Background(), tt.q)
				if err != nil {
					t.Fatalf("prepared=%v round %d: Authorize(%+v): %v", prepared, round, tt.q, err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("prepared=%v round %d: Authorize(%+v) mismatch (-want +got):\n%s", prepared, round, tt.q, diff)
				}
			}
		}
	}
}

// TestAuthorizeCallsTheFunction: by default the authorization query is the
// call of ivs_ingest.authorize (whose plans PostgreSQL keeps per server
// connection, behind any pooler); with prepared statements it is the query
// written out, which needs no function.
func TestAuthorizeCallsTheFunction(t *testing.T) {
	t.Parallel()
	url, _ := migrated(t)
	seed(t, url)
	pgtest.Exec(t, url, `ALTER FUNCTION ivs_ingest.authorize(uuid, uuid, uuid, uuid, boolean, boolean) RENAME TO authorize_renamed`)
	q := ingest.AuthzQuery{UserID: sellerUser, SessionID: session1, ShowID: show1}
	_, err := openWith(t, url, false).Authorize(context.Background(), q)
	if err == nil || !strings.Contains(err.Error(), "ivs_ingest.authorize") {
		t.Errorf("default mode, function renamed: Authorize = %v, want an error naming ivs_ingest.authorize", err)
	}
	if f, err := openWith(t, url, true).Authorize(context.Background(), q); err != nil || !f.SessionActive || f.Show == nil {
		t.Errorf("prepared mode, function renamed: Authorize = %+v, %v; want the live session's show", f, err)
	}
}
