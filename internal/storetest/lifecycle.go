package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// The limit is exact under concurrency: 20 racing reservations with a limit
// of 10 leave exactly 10, and cancelled ones free their place.
func testKeyCreationLimit(t *testing.T, open func(*testing.T) Store) {
	s := open(t)
	ctx := context.Background()
	var (
		mu      sync.Mutex
		granted []int64
		refused int
		wg      sync.WaitGroup
	)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, retry, err := s.ReserveKeyCreation(ctx, seller1, 10, time.Hour)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("ReserveKeyCreation: %v", err)
			case id == 0:
				refused++
				if retry <= 0 || retry > time.Hour {
					t.Errorf("refused with retry after %v, want within the hour", retry)
				}
			default:
				granted = append(granted, id)
			}
		}()
	}
	wg.Wait()
	if len(granted) != 10 || refused != 10 {
		t.Fatalf("20 racing reservations with a limit of 10: %d granted, %d refused; want 10 and 10", len(granted), refused)
	}
	must(t, "CancelKeyCreation", s.CancelKeyCreation(ctx, granted[0]))
	if id, _, err := s.ReserveKeyCreation(ctx, seller1, 10, time.Hour); err != nil || id == 0 {
		t.Errorf("ReserveKeyCreation after a cancel = %d, %v; want a place", id, err)
	}
	if id, _, err := s.ReserveKeyCreation(ctx, seller2, 10, time.Hour); err != nil || id == 0 {
		t.Errorf("another seller's ReserveKeyCreation = %d, %v; want a place", id, err)
	}
}

func testKeyAges(t *testing.T, open func(*testing.T) Store) {
	s := open(t)
	seed(t, s)
	ctx := context.Background()
	if got := showOf(t, s, show1).KeyFirstSeen; !got.IsZero() {
		t.Errorf("KeyFirstSeen before NoteKeySeen = %v, want zero", got)
	}
	must(t, "NoteKeySeen", s.NoteKeySeen(ctx, key1, channel1))
	first := showOf(t, s, show1).KeyFirstSeen
	if time.Since(first) > time.Minute || time.Since(first) < 0 {
		t.Errorf("KeyFirstSeen = %v, want about now", first)
	}
	time.Sleep(5 * time.Millisecond)
	must(t, "NoteKeySeen again", s.NoteKeySeen(ctx, key1, channel1))
	if again := showOf(t, s, show1).KeyFirstSeen; !again.Equal(first) {
		t.Errorf("a second NoteKeySeen moved KeyFirstSeen from %v to %v", first, again)
	}
	old, err := s.ShowsWithKeysOlderThan(ctx, time.Hour)
	must(t, "ShowsWithKeysOlderThan(1h)", err)
	if len(old) != 0 {
		t.Errorf("ShowsWithKeysOlderThan(1h) = %d shows, want none", len(old))
	}
	old, err = s.ShowsWithKeysOlderThan(ctx, time.Nanosecond)
	must(t, "ShowsWithKeysOlderThan(1ns)", err)
	if len(old) != 1 || old[0].ID != show1 || old[0].ChannelARN != channel1 {
		t.Errorf("ShowsWithKeysOlderThan(1ns) = %+v, want show1", old)
	}
	must(t, "AddShow(show3)", s.AddShow(ctx, ingest.Show{ID: "d0000000-0000-4000-8000-000000000003", SellerID: seller1, ChannelARN: channel2}))
	missing, err := s.ShowsWithoutKey(ctx)
	must(t, "ShowsWithoutKey", err)
	if len(missing) != 1 || missing[0].ChannelARN != channel2 {
		t.Errorf("ShowsWithoutKey = %+v, want the show on channel2 only (show2 has no channel)", missing)
	}
	if sh, found, err := s.Show(ctx, show1); err != nil || !found || sh.StreamKeyARN != key1 {
		t.Errorf("Show(show1) = %+v, %v, %v; want it with its key", sh, found, err)
	}
	if _, found, err := s.Show(ctx, noShow); err != nil || found {
		t.Errorf("Show(no such show) = found %v, %v; want not found", found, err)
	}
}
