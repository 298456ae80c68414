package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest/storetest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// A first fetch whose next call slot passes while it waits for its channel's
// lock, in a budget booked further ahead than a call under a lock may wait
// (lockedSlotWait, 5 s), gives the lock back and queues again instead of
// failing with 503: the bench's burst of first fetches with stored channels
// lost one seller of 100 this way. Both shapes: the channel read by
// GetChannel before the lock (the slot missed is the second), and the
// channel stored (the first). IVS is never asked more than its rate.
func TestFirstFetchThatMissesItsSlotQueuesAgain(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		stored     bool
		reserved   int // the fetch's reservation
		getChannel int // GetChannel calls of the fetch
	}{
		{"channel read first", false, 3, 1},
		{"channel stored", true, 1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := testenv.New(t, testenv.Options{})
			// A key store, so that the channel can be stored; a share
			// that the setup's key and revocation leave room in.
			svc, slots, db := budgetedWith(t, env, 30*time.Second, 20, storetest.Vault(t, storetest.NewKey(t, "1")))
			ctx := context.Background()
			seller := env.Seller(t, "approved")
			show := env.Show(t, seller, true)
			req := ingest.Request{Caller: ingest.Caller{UserID: seller.ID}, ShowID: show.ID}
			if tt.stored {
				// The service stores the channel with the key; the
				// seller revokes the key.
				if _, err := svc.IngestDetails(ctx, req); err != nil {
					t.Fatalf("first key: %v", err)
				}
				if _, err := svc.RevokeStreamKey(ctx, ingest.RevokeRequest{Caller: req.Caller, ShowID: show.ID}); err != nil {
					t.Fatalf("revoke: %v", err)
				}
			}
			slots.reserves = make(chan int, 1)
			env.Emulator.ResetCounts()
			env.Emulator.SetRateLimit(5)

			// The test holds the channel's lock, as a slow section would.
			locked, unlock, unlocked := make(chan struct{}), make(chan struct{}), make(chan error, 1)
			go func() {
				unlocked <- db.WithChannelLock(ctx, show.ChannelARN, func(ingest.ChannelTx) error {
					close(locked)
					<-unlock
					return nil
				})
			}()
			<-locked

			got := make(chan error, 1)
			go func() {
				_, err := svc.IngestDetails(ctx, req)
				got <- err
			}()
			select {
			case n := <-slots.reserves:
				if n != tt.reserved {
					t.Fatalf("the fetch reserved %d slots, want %d", n, tt.reserved)
				}
			case err := <-got:
				close(unlock)
				t.Fatalf("IngestDetails = %v before reserving any call", err)
			}
			// Others book the next 8 s (32 slots at 4 calls/s) behind it.
			if _, err := db.ReserveSlots(ctx, 32, time.Second/4, 30*time.Second); err != nil {
				t.Fatalf("book the budget: %v", err)
			}
			// The fetch waits for the lock while its slot passes.
			time.Sleep(time.Second)
			close(unlock)
			if err := <-unlocked; err != nil {
				t.Fatalf("the test's section: %v", err)
			}

			select {
			case err := <-got:
				if err != nil {
					t.Fatalf("IngestDetails = %v, want the key after queueing again", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("IngestDetails did not return within 20 s")
			}
			if g, c := env.Emulator.Calls("GetChannel"), env.Emulator.Calls("CreateStreamKey"); g != tt.getChannel || c != 1 {
				t.Errorf("IVS calls: GetChannel %d, CreateStreamKey %d; want %d and 1", g, c, tt.getChannel)
			}
			if n := env.Emulator.Throttled(); n != 0 {
				t.Errorf("%d calls throttled, want none", n)
			}
		})
	}
}
