package ingest_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
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
				res, err := svc.Provision(ctx, []string{show}, ingest.BatchOptions{})
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

// wrapIVS is an IVS whose reservations' calls are wrapped by wrap: the real
// adapter, but for the calls a test replaces.
type wrapIVS struct {
	ingest.IVS
	wrap func(ingest.Calls) ingest.Calls
}

func (w wrapIVS) Reserve(ctx context.Context, c ingest.Claim) (ingest.Calls, error) {
	calls, err := w.IVS.Reserve(ctx, c)
	if err != nil {
		return nil, err
	}
	return w.wrap(calls), nil
}

// panickingCalls are calls whose GetChannel panics: a bug in an adapter must
// cost one request a 500, not the process its life.
type panickingCalls struct{ ingest.Calls }

func (panickingCalls) GetChannel(context.Context, string) (ingest.Channel, error) {
	panic("adapter bug")
}

func TestPanicInAKeyFlightIsAnError(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	db, err := postgres.Open(context.Background(), env.DatabaseURL, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	panicking := wrapIVS{IVS: newIVS(t, env), wrap: func(c ingest.Calls) ingest.Calls { return panickingCalls{c} }}
	svc := ingest.NewService(db, panicking, ingest.Options{Logger: slog.New(slog.DiscardHandler)})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)

	// Several waiters on one flight: singleflight re-panics in its own
	// goroutine when a flight panics with waiters, which would kill the
	// test binary if the service did not recover inside the flight.
	errs := make(chan error, 5)
	for range 5 {
		go func() {
			_, err := svc.IngestDetails(context.Background(), ingest.Request{Caller: ingest.Caller{UserID: owner.ID}, ShowID: show.ID})
			errs <- err
		}()
	}
	for range 5 {
		if err := <-errs; err == nil || !strings.Contains(err.Error(), "panic") {
			t.Errorf("IngestDetails with a panicking adapter = %v, want an error naming the panic", err)
		}
	}
}
