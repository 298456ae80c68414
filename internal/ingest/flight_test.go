package ingest_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// An operator's provision and a seller's request for the same show never
// share a key resolution: the seller's hourly creation limit applies to the
// seller's own request only, whichever of the two started first. (A shared
// flight would let whoever started it decide for both: a provision would be
// refused by the seller's limit, or a seller over it be handed a creation.)
func TestProvisionAndSellerDoNotShareAFlight(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name          string
		provisionLast bool // the seller's request is in flight when the provision starts
	}{
		{"seller first", true},
		{"provision first", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := testenv.New(t, testenv.Options{})
			db, err := postgres.Open(context.Background(), env.DatabaseURL, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(db.Close)
			svc := ingest.NewService(db, newIVS(t, env), ingest.Options{KeyCreatesPerHour: 1, Logger: slog.New(slog.DiscardHandler)})
			t.Cleanup(svc.Close)
			owner := env.Seller(t, "approved")
			first := ingest.Request{Caller: ingest.Caller{UserID: owner.ID}, ShowID: env.Show(t, owner, true).ID}
			if _, err := svc.IngestDetails(context.Background(), first); err != nil { // the seller's one creation this hour
				t.Fatalf("first show's key: %v", err)
			}
			show := env.Show(t, owner, true).ID
			req := ingest.Request{Caller: ingest.Caller{UserID: owner.ID}, ShowID: show}

			// Whoever starts first stops in its GetChannel until the other
			// has finished.
			started, release := make(chan struct{}), make(chan struct{})
			t.Cleanup(func() {
				select {
				case <-release:
				default:
					close(release)
				}
			})
			env.Emulator.BeforeNext("GetChannel", func() { close(started); <-release })
			// A failure bound, not a performance target: a second caller
			// that joined the first's flight would wait for it until then.
			bounded, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			type answer struct {
				d   ingest.Details
				err error
			}
			seller := make(chan answer, 1)
			provision := make(chan ingest.BatchResult, 1)
			runSeller := func(ctx context.Context) {
				d, err := svc.IngestDetails(ctx, req)
				seller <- answer{d, err}
			}
			runProvision := func(ctx context.Context) {
				res, err := svc.Provision(ctx, []string{show})
				if err != nil {
					t.Errorf("Provision: %v", err)
				}
				provision <- res
			}
			if c.provisionLast {
				go runSeller(context.Background())
				<-started
				runProvision(bounded)
				close(release)
			} else {
				go runProvision(context.Background())
				<-started
				runSeller(bounded)
				close(release)
			}
			res, got := <-provision, <-seller

			if res.Done != 1 || res.Failed != 0 {
				t.Errorf("Provision = %+v, want the key created (the seller's limit does not apply to it)", res)
			}
			recorded := storedKey(t, env, show)
			if c.provisionLast {
				// The seller's request took the key the provision recorded
				// meanwhile, creating nothing.
				if got.err != nil || got.d.Action != ingest.ActionGet || got.d.StreamKeyARN != recorded {
					t.Errorf("seller's request = %s %q, %v; want a get of the provisioned key %q", got.d.Action, got.d.StreamKeyARN, got.err, recorded)
				}
			} else if !errors.Is(got.err, ingest.ErrRateLimited) {
				// The seller's own creation is over their limit.
				t.Errorf("seller's request while a provision was in flight = %s, %v; want refused by the creation limit", got.d.Action, got.err)
			}
			if n := env.Emulator.Succeeded("CreateStreamKey"); n != 2 {
				t.Errorf("CreateStreamKey successes = %d, want 2 (the first show's and the provision's)", n)
			}
		})
	}
}
