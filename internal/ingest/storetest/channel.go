package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/testclock"
)

func testRecordStreamKey(t *testing.T, open Opener) {
	ctx := context.Background()
	const (
		newKey      = "arn:aws:ivs:us-east-1:123456789012:stream-key/newnewnewnew"
		newEndpoint = "def.global-contribute.live-video.net"
	)

	t.Run("committed when fn returns nil", func(t *testing.T) {
		t.Parallel()
		s := open(t, time.Now)
		seed(t, s)
		err := s.WithChannelLock(ctx, channel1, func(tx ingest.ChannelTx) error {
			if got, err := tx.StreamKeyARN(ctx, show1); err != nil || got != key1 {
				t.Errorf("StreamKeyARN(show1) before recording = %q, %v; want %q", got, err, key1)
			}
			if err := tx.RecordStreamKey(ctx, show1, newKey, newEndpoint); err != nil {
				return err
			}
			if got, err := tx.StreamKeyARN(ctx, show1); err != nil || got != newKey {
				t.Errorf("StreamKeyARN(show1) after recording = %q, %v; want %q", got, err, newKey)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("WithChannelLock: %v", err)
		}
		want := &ingest.Show{ID: show1, SellerID: seller1, ChannelARN: channel1, IngestEndpoint: newEndpoint, StreamKeyARN: newKey}
		if diff := cmp.Diff(want, showOf(t, s, show1)); diff != "" {
			t.Errorf("show1 after a committed section (-want +got):\n%s", diff)
		}
	})

	t.Run("rolled back when fn errs", func(t *testing.T) {
		t.Parallel()
		s := open(t, time.Now)
		seed(t, s)
		boom := errors.New("boom")
		err := s.WithChannelLock(ctx, channel1, func(tx ingest.ChannelTx) error {
			if err := tx.RecordStreamKey(ctx, show1, newKey, newEndpoint); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("WithChannelLock() = %v, want fn's error", err)
		}
		if diff := cmp.Diff(seeded(), showOf(t, s, show1)); diff != "" {
			t.Errorf("show1 after a failed section (-want +got):\n%s", diff)
		}
		// The store is usable afterwards: the failed section released
		// both its lock and its transaction.
		done := make(chan error, 1)
		go func() {
			done <- s.WithChannelLock(ctx, channel1, func(tx ingest.ChannelTx) error {
				return tx.RecordStreamKey(ctx, show1, newKey, newEndpoint)
			})
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("WithChannelLock after a failed section: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("WithChannelLock after a failed section did not return")
		}
		if got := showOf(t, s, show1).StreamKeyARN; got != newKey {
			t.Errorf("show1's key after a later section = %q, want %q", got, newKey)
		}
	})

	t.Run("show without a key", func(t *testing.T) {
		t.Parallel()
		s := open(t, time.Now)
		seed(t, s)
		err := s.WithChannelLock(ctx, channel2, func(tx ingest.ChannelTx) error {
			got, err := tx.StreamKeyARN(ctx, show2)
			if err != nil || got != "" {
				t.Errorf("StreamKeyARN(show2) = %q, %v; want \"\", nil", got, err)
			}
			if _, err := tx.StreamKeyARN(ctx, noShow); err == nil {
				t.Error("StreamKeyARN(missing show) = nil error, want an error")
			}
			return nil
		})
		if err != nil {
			t.Fatalf("WithChannelLock: %v", err)
		}
	})
}

func testSetIngestEndpoint(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, time.Now)
	seed(t, s)
	const endpoint = "ghi.global-contribute.live-video.net"
	for i := range 2 { // the second call changes nothing and must not fail
		if err := s.SetIngestEndpoint(ctx, show1, endpoint); err != nil {
			t.Fatalf("SetIngestEndpoint #%d: %v", i+1, err)
		}
	}
	want := seeded()
	want.IngestEndpoint = endpoint
	if diff := cmp.Diff(want, showOf(t, s, show1)); diff != "" {
		t.Errorf("show1 after SetIngestEndpoint (-want +got):\n%s", diff)
	}
	if err := s.SetIngestEndpoint(ctx, show2, endpoint); err != nil {
		t.Fatalf("SetIngestEndpoint on a NULL endpoint: %v", err)
	}
	if got := showOf(t, s, show2).IngestEndpoint; got != endpoint {
		t.Errorf("show2's endpoint = %q, want %q", got, endpoint)
	}
	if err := s.SetIngestEndpoint(ctx, noShow, endpoint); err != nil {
		t.Errorf("SetIngestEndpoint(missing show) = %v, want nil", err)
	}
}

func testWithChannelLock(t *testing.T, open Opener) {
	ctx := context.Background()

	t.Run("one section per channel at a time", func(t *testing.T) {
		t.Parallel()
		s := open(t, time.Now)
		var inside, maxInside atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				err := s.WithChannelLock(ctx, channel1, func(ingest.ChannelTx) error {
					n := inside.Add(1)
					for {
						m := maxInside.Load()
						if n <= m || maxInside.CompareAndSwap(m, n) {
							break
						}
					}
					// Why a sleep: it is no wait for an event but the
					// window in which a broken lock would let a second
					// section in; nothing marks "another section would
					// have entered by now".
					time.Sleep(5 * time.Millisecond)
					inside.Add(-1)
					return nil
				})
				if err != nil {
					t.Errorf("WithChannelLock: %v", err)
				}
			})
		}
		wg.Wait()
		if got := maxInside.Load(); got != 1 {
			t.Errorf("at most %d sections ran at once on one channel, want 1", got)
		}
	})

	// While a section waits (as on IVS), another channel's section runs and
	// commits its write.
	t.Run("other channels proceed", func(t *testing.T) {
		t.Parallel()
		s := open(t, time.Now)
		seed(t, s)
		held, release := make(chan struct{}), make(chan struct{})
		first := make(chan error, 1)
		go func() {
			first <- s.WithChannelLock(ctx, channel1, func(tx ingest.ChannelTx) error {
				if _, err := tx.StreamKeyARN(ctx, show1); err != nil {
					return err
				}
				close(held)
				<-release
				return nil
			})
		}()
		select {
		case <-held:
		case err := <-first:
			t.Fatalf("WithChannelLock(channel1) = %v before holding the lock", err)
		}
		other := make(chan error, 1)
		go func() {
			other <- s.WithChannelLock(ctx, channel2, func(tx ingest.ChannelTx) error {
				return tx.RecordStreamKey(ctx, show2, key1, endpoint1)
			})
		}()
		select {
		case err := <-other:
			if err != nil {
				t.Errorf("WithChannelLock(channel2) while channel1 is held: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("a section on channel2 waited for channel1's section")
		}
		close(release)
		if err := <-first; err != nil {
			t.Errorf("WithChannelLock(channel1): %v", err)
		}
		if got := showOf(t, s, show2).StreamKeyARN; got != key1 {
			t.Errorf("show2's key = %q, want %q", got, key1)
		}
	})

	t.Run("waiting honours ctx", func(t *testing.T) {
		t.Parallel()
		s := open(t, time.Now)
		held, release := make(chan struct{}), make(chan struct{})
		first := make(chan error, 1)
		go func() {
			first <- s.WithChannelLock(ctx, channel1, func(ingest.ChannelTx) error {
				close(held)
				<-release
				return nil
			})
		}()
		<-held
		wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		ran := false
		errc := make(chan error, 1)
		go func() {
			errc <- s.WithChannelLock(wctx, channel1, func(ingest.ChannelTx) error {
				ran = true
				return nil
			})
		}()
		select {
		case err := <-errc:
			if err == nil || ran {
				t.Errorf("WithChannelLock(expiring ctx) on a held channel = %v, ran fn = %v; want an error, fn not run", err, ran)
			}
		case <-time.After(10 * time.Second):
			t.Error("WithChannelLock(expiring ctx) on a held channel still waits 10s later")
		}
		close(release)
		if err := <-first; err != nil {
			t.Errorf("WithChannelLock(channel1): %v", err)
		}
	})
}

// A section reads its show again with whether the channel is shared, and
// writes its audit row with its changes: both or neither.
func testChannelSection(t *testing.T, open Opener) {
	s := open(t, time.Now)
	seed(t, s)
	ctx := context.Background()
	var got ingest.Show
	err := s.WithChannelLock(ctx, channel1, func(tx ingest.ChannelTx) error {
		var found bool
		var err error
		if got, found, err = tx.Show(ctx, show1); err != nil || !found {
			t.Errorf("Show(show1) = found %v, %v; want found", found, err)
		}
		if _, found, err := tx.Show(ctx, noShow); err != nil || found {
			t.Errorf("Show(no such show) = found %v, %v; want not found", found, err)
		}
		// The authorization facts read in the section are the store's.
		q := ingest.AuthzQuery{UserID: sellerUser, ShowID: show1}
		inside, err := tx.Authorize(ctx, q)
		if err != nil {
			return err
		}
		outside, err := s.Authorize(ctx, q)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(outside, inside); diff != "" || inside.Show == nil {
			t.Errorf("Authorize in a section differs from the store's (-store +section):\n%s", diff)
		}
		return nil
	})
	must(t, "WithChannelLock", err)
	if diff := cmp.Diff(*seeded(), got); diff != "" {
		t.Errorf("Show(show1) in a section (-want +got):\n%s", diff)
	}

	row := func(id string) ingest.AuditEntry {
		return ingest.AuditEntry{RequestID: id, Action: ingest.ActionRevoke, Outcome: ingest.OutcomeAllowed, HTTPStatus: 200,
			ActorUserID: sellerUser, SellerID: seller1, ShowID: show1}
	}
	boom := errors.New("boom")
	err = s.WithChannelLock(ctx, channel1, func(tx ingest.ChannelTx) error {
		if err := tx.RecordStreamKey(ctx, show1, "", endpoint1); err != nil {
			return err
		}
		if err := tx.WriteAudit(ctx, row("rolled-back")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failing section = %v, want its error", err)
	}
	must(t, "committed section", s.WithChannelLock(ctx, channel1, func(tx ingest.ChannelTx) error {
		if err := tx.RecordStreamKey(ctx, show1, "", endpoint1); err != nil {
			return err
		}
		return tx.WriteAudit(ctx, row("committed"))
	}))
	entries, err := s.ReadAudit(ctx, ingest.AuditQuery{ShowID: show1, Limit: 10})
	must(t, "ReadAudit", err)
	if len(entries) != 1 || entries[0].RequestID != "committed" {
		t.Errorf("audit rows after a failed and a committed section = %+v, want the committed one only", entries)
	}
	if sh := showOf(t, s, show1); sh.StreamKeyARN != "" {
		t.Errorf("show1's key after the committed clearing = %q, want none", sh.StreamKeyARN)
	}

	// Another seller's show naming channel1: both shows read as shared,
	// in the authorization facts and in a section.
	const show3 = "d0000000-0000-4000-8000-000000000003"
	must(t, "AddShow(show3)", s.AddShow(ctx, ingest.Show{ID: show3, SellerID: seller2, ChannelARN: channel1}))
	for _, id := range []string{show1, show3} {
		f, err := s.Authorize(ctx, ingest.AuthzQuery{UserID: sellerUser, ShowID: id})
		must(t, "Authorize", err)
		if f.Show == nil || !f.Show.ChannelShared {
			t.Errorf("Authorize(%s) with another seller's show on the channel: ChannelShared false, want true", id)
		}
	}
	err = s.WithChannelLock(ctx, channel1, func(tx ingest.ChannelTx) error {
		sh, _, err := tx.Show(ctx, show1)
		if err == nil && !sh.ChannelShared {
			t.Error("Show(show1) in a section: ChannelShared false, want true")
		}
		return err
	})
	must(t, "WithChannelLock", err)
	// The same seller's two shows on one channel are not shared with
	// anyone else.
	const show4 = "d0000000-0000-4000-8000-000000000004"
	must(t, "AddShow(show4)", s.AddShow(ctx, ingest.Show{ID: show4, SellerID: seller1, ChannelARN: channel2}))
	must(t, "AddShow(show5)", s.AddShow(ctx, ingest.Show{ID: "d0000000-0000-4000-8000-000000000005", SellerID: seller1, ChannelARN: channel2}))
	if f, err := s.Authorize(ctx, ingest.AuthzQuery{UserID: sellerUser, ShowID: show4}); err != nil || f.Show == nil || f.Show.ChannelShared {
		t.Errorf("Authorize(show4) on a channel of one seller's two shows = %+v, %v; want not shared", f.Show, err)
	}
}

func testKeyAges(t *testing.T, open Opener) {
	clk := testclock.New(time.Now())
	s := open(t, clk.Now)
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
	// Time moves on, so that a store that wrote the sighting again would
	// write another time. (A store dating it in the database moves on by
	// at least a round trip: PostgreSQL's now() counts microseconds.)
	clk.Advance(time.Minute)
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
