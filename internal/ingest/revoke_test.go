package ingest_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/limit"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// The per-show revocation limit counts revocations, not attempts: one that
// failed gives its allowance back, and the owner may try again at once; one
// that went through leaves the next refused.
func TestFailedRevocationGivesItsAllowanceBack(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	db, err := postgres.Open(context.Background(), env.DatabaseURL, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	svc := ingest.NewService(db, newIVS(t, env), ingest.Options{Limits: limitsIn(limit.NewLocal()), Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(svc.Close)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	ctx := context.Background()
	if _, err := svc.IngestDetails(ctx, ingest.Request{Caller: ingest.Caller{UserID: owner.ID}, ShowID: show.ID}); err != nil {
		t.Fatalf("first key: %v", err)
	}
	revoke := func() error {
		_, err := svc.RevokeStreamKey(ctx, ingest.RevokeRequest{Caller: ingest.Caller{UserID: owner.ID}, ShowID: show.ID})
		return err
	}

	env.Emulator.Fail("ListStreamKeys", "InternalServerException")
	if err := revoke(); !errors.Is(err, ingest.ErrStreamKeyUnavailable) {
		t.Fatalf("revocation with IVS failing = %v, want %v", err, ingest.ErrStreamKeyUnavailable)
	}
	env.Emulator.ClearFailures()
	if err := revoke(); err != nil {
		t.Fatalf("retry right after a failed revocation = %v, want done", err)
	}
	var limited *limit.LimitedError
	if err := revoke(); !errors.As(err, &limited) || limited.Limit != ingest.LimitRevocations {
		t.Errorf("revocation right after one that went through = %v, want refused by the per-show limit", err)
	}
}
