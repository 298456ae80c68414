package ingest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// The review's L4: authorization read at a request's start is read again
// under the channel's lock, before anything is deleted, created or
// recorded. A seller suspended, or a show given to another seller, while
// the request waits for IVS changes nothing.
func TestAuthorizationIsCheckedAgainUnderTheLock(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := newService(t, env)
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		change string // SQL run while the request is in GetChannel; $1 the seller, $2 the show
		want   error
	}{
		{"seller suspended", `UPDATE public.sellers SET status = 'suspended' WHERE id = $1 AND $2::uuid IS NOT NULL`, ingest.ErrSellerNotApproved},
		{"show given to another seller", `UPDATE public.shows SET seller_id = (SELECT id FROM public.sellers WHERE id <> $1 LIMIT 1) WHERE id = $2`,
			ingest.ErrNotShowOwner},
	} {
		owner := env.Seller(t, "approved")
		env.Seller(t, "approved") // someone to give the show to
		show := env.Show(t, owner, true)
		req := ingest.Request{Caller: ingest.Caller{UserID: owner.ID}, ShowID: show.ID}
		first, err := svc.IngestDetails(ctx, req)
		if err != nil {
			t.Fatalf("%s: first key: %v", c.name, err)
		}
		env.Emulator.ResetCounts()
		env.Emulator.BeforeNext("GetChannel", func() { pgtest.Exec(t, env.DatabaseURL, c.change, owner.SellerID, show.ID) })
		if _, err := svc.RotateStreamKey(ctx, req); !errors.Is(err, c.want) {
			t.Errorf("%s during a rotation: RotateStreamKey() = %v, want %v", c.name, err, c.want)
		}
		if got := env.Emulator.Succeeded("DeleteStreamKey"); got != 0 {
			t.Errorf("%s during a rotation: %d keys deleted, want none", c.name, got)
		}
		if arn := storedKey(t, env, show.ID); arn != first.StreamKeyARN {
			t.Errorf("%s during a rotation: recorded key changed", c.name)
		}
	}
}

// storedKey is the key ARN recorded for the show ("" for none).
func storedKey(t *testing.T, env *testenv.Env, showID string) string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var arn string
	if err := conn.QueryRow(context.Background(), `SELECT coalesce(ivs_stream_key_arn, '') FROM public.shows WHERE id = $1`, showID).Scan(&arn); err != nil {
		t.Fatal(err)
	}
	return arn
}
