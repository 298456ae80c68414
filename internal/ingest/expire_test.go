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
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// liveIVS is the real IVS client but for Live, which runs live instead.
func liveIVS(t *testing.T, env *testenv.Env, live func(ctx context.Context) (bool, error)) ingest.IVS {
	return wrapIVS{IVS: newIVS(t, env), wrap: func(c ingest.Calls) ingest.Calls { return liveCalls{c, live} }}
}

type liveCalls struct {
	ingest.Calls
	live func(ctx context.Context) (bool, error)
}

func (l liveCalls) Live(ctx context.Context, _ string) (bool, error) { return l.live(ctx) }

// expiredShow returns a show of a new seller whose key exists and was first
// seen two hours ago, and the store it lives in.
func expiredShow(t *testing.T, env *testenv.Env) (*postgres.DB, ingest.Request) {
	t.Helper()
	db, err := postgres.Open(context.Background(), env.DatabaseURL, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	req := ingest.Request{Caller: ingest.Caller{UserID: owner.ID}, ShowID: show.ID}
	if _, err := newService(t, env).IngestDetails(context.Background(), req); err != nil {
		t.Fatalf("first IngestDetails: %v", err)
	}
	pgtest.Exec(t, env.DatabaseURL, `UPDATE ivs_ingest.stream_keys SET first_seen_at = now() - interval '2 hours'`)
	return db, req
}

// A panic in the IVS adapter while renewing an expired key is an error for
// the requests sharing the renewal, not the end of the process (the renewal
// runs in singleflight's goroutine, where nothing else would recover it).
func TestPanicInAnExpiryRenewalIsAnError(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	db, req := expiredShow(t, env)
	ivs := liveIVS(t, env, func(context.Context) (bool, error) { panic("adapter bug") })
	svc := ingest.NewService(db, ivs, ingest.Options{KeyMaxAge: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(svc.Close)
	errs := make(chan error, 5)
	for range 5 {
		go func() {
			_, err := svc.IngestDetails(context.Background(), req)
			errs <- err
		}()
	}
	for range 5 {
		if err := <-errs; err == nil || !strings.Contains(err.Error(), "panic") {
			t.Errorf("IngestDetails with a panicking adapter during renewal = %v, want an error naming the panic", err)
		}
	}
}

// A renewal whose IVS call hangs is ended by Close, and by the resolve
// timeout, like any other shared resolution: it cannot outlive the service.
func TestHungExpiryRenewalEnds(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		timeout time.Duration
		close   bool
		// cause is why the hung call's context ended: not the client's
		// hang-up (context.Canceled), which must not end a shared renewal.
		cause error
	}{
		{"by Close", time.Hour, true, ingest.ErrClosed},
		{"by the resolve timeout", 200 * time.Millisecond, false, context.DeadlineExceeded},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := testenv.New(t, testenv.Options{})
			db, req := expiredShow(t, env)
			started, ended := make(chan struct{}), make(chan error, 1)
			ivs := liveIVS(t, env, func(ctx context.Context) (bool, error) {
				close(started)
				<-ctx.Done()
				ended <- context.Cause(ctx)
				return false, ctx.Err()
			})
			svc := ingest.NewService(db, ivs, ingest.Options{KeyMaxAge: time.Hour, ResolveTimeout: c.timeout,
				Logger: slog.New(slog.DiscardHandler)})
			t.Cleanup(svc.Close)
			// The client gives up at once; the renewal goes on detached.
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := svc.IngestDetails(ctx, req)
				done <- err
			}()
			<-started
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("IngestDetails after its client hung up = %v, want context.Canceled", err)
			}
			if c.close {
				svc.Close()
			}
			select {
			case cause := <-ended:
				if !errors.Is(cause, c.cause) {
					t.Errorf("the hung call's context ended with cause %v, want %v", cause, c.cause)
				}
			case <-time.After(30 * time.Second): // a failure bound, not a performance target
				t.Fatal("the hung renewal call was never cancelled")
			}
		})
	}
}
