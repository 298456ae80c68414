package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// A first fetch whose next call slot passes while it waits for its channel's
// lock, in a budget booked further ahead than a call under a lock may wait
// (lockedSlotWait, 5 s), gives the lock back and queues again instead of
// failing with 503: the bench's burst of first fetches lost one seller of
// 100 this way. IVS is never asked more than its rate.
func TestFirstFetchThatMissesItsSlotQueuesAgain(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc, slots, db := budgeted(t, env, 30*time.Second)
	slots.reserves = make(chan int, 1)
	ctx := context.Background()
	seller := env.Seller(t, "approved")
	show := env.Show(t, seller, true)
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
		_, err := svc.IngestDetails(ctx, ingest.Request{Caller: ingest.Caller{UserID: seller.ID}, ShowID: show.ID})
		got <- err
	}()
	// The request's reservation: GetChannel, ListStreamKeys and
	// CreateStreamKey, the first at once.
	if n := <-slots.reserves; n != 3 {
		t.Fatalf("the first fetch reserved %d slots, want 3", n)
	}
	// Others book the next 8 s (32 slots at 4 calls/s) behind it.
	if _, err := db.ReserveSlots(ctx, 32, time.Second/4, 30*time.Second); err != nil {
		t.Fatalf("book the budget: %v", err)
	}
	// Its GetChannel is made, then it waits for the lock while its next
	// slot passes.
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
	if g, c := env.Emulator.Calls("GetChannel"), env.Emulator.Calls("CreateStreamKey"); g != 1 || c != 1 {
		t.Errorf("IVS calls: GetChannel %d, CreateStreamKey %d; want 1 each", g, c)
	}
	if n := env.Emulator.Throttled(); n != 0 {
		t.Errorf("%d calls throttled, want none", n)
	}
}
