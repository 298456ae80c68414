package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// The limit is exact under concurrency: 20 racing sections reserving with a
// limit of 10 leave exactly 10. A reservation counts only when its section
// commits, and one cancelled in its section frees its place.
func testKeyCreationLimit(t *testing.T, open func(*testing.T) Store) {
	s := open(t)
	ctx := context.Background()
	reserve := func(channel, seller string, fail error) (id int64, retry time.Duration, err error) {
		err = s.WithChannelLock(ctx, channel, func(tx ingest.ChannelTx) error {
			var rerr error
			id, retry, rerr = tx.ReserveKeyCreation(ctx, seller, 10, time.Hour)
			if rerr != nil {
				return rerr
			}
			return fail
		})
		return id, retry, err
	}
	var (
		mu      sync.Mutex
		granted []int64
		refused int
		wg      sync.WaitGroup
	)
	for i := range 20 {
		wg.Go(func() {
			id, retry, err := reserve(fmt.Sprintf("%s-%d", channel1, i), seller1, nil)
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
		})
	}
	wg.Wait()
	if len(granted) != 10 || refused != 10 {
		t.Fatalf("20 racing reservations with a limit of 10: %d granted, %d refused; want 10 and 10", len(granted), refused)
	}
	if wait, err := s.KeyCreationWait(ctx, seller1, 10, time.Hour); err != nil || wait <= 0 || wait > time.Hour {
		t.Errorf("KeyCreationWait at the limit = %v, %v; want within the hour", wait, err)
	}
	if wait, err := s.KeyCreationWait(ctx, seller1, 11, time.Hour); err != nil || wait != 0 {
		t.Errorf("KeyCreationWait under the limit = %v, %v; want 0", wait, err)
	}
	err := s.WithChannelLock(ctx, channel1, func(tx ingest.ChannelTx) error {
		return tx.CancelKeyCreation(ctx, granted[0])
	})
	must(t, "CancelKeyCreation", err)
	// A section that fails takes its reservation with it.
	boom := errors.New("boom")
	if _, _, err := reserve(channel1, seller1, boom); !errors.Is(err, boom) {
		t.Fatalf("failing section = %v, want its error", err)
	}
	if id, _, err := reserve(channel1, seller1, nil); err != nil || id == 0 {
		t.Errorf("ReserveKeyCreation after a cancel and a failed section = %d, %v; want a place", id, err)
	}
	if id, _, err := reserve(channel2, seller2, nil); err != nil || id == 0 {
		t.Errorf("another seller's ReserveKeyCreation = %d, %v; want a place", id, err)
	}
}

// A section reads its show again with whether the channel is shared, and
// writes its audit row with its changes: both or neither.
func testChannelSection(t *testing.T, open func(*testing.T) Store) {
	s := open(t)
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
