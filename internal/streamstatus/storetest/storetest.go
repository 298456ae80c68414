// Package storetest is the contract every implementation of
// streamstatus.Store in this project passes: the PostgreSQL store and the
// embedded SQLite one run the same suite, so the stream status cannot tell
// them apart.
package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
)

// Store is a store under test: streamstatus.Store and the seeding methods
// the suite uses.
type Store interface {
	streamstatus.Store
	AddSeller(ctx context.Context, id, userID, status string) error
	AddShow(ctx context.Context, show ingest.Show) error
}

// Harness is a new, empty, migrated store, and how to read a show's
// public.shows.stream_status ("" for NULL) outside the store's API.
type Harness struct {
	Store      Store
	ShowStatus func(t *testing.T, showID string) string
}

// Opener returns a new Harness each time it is called, closed when t ends.
type Opener func(t *testing.T) Harness

// Run runs the contract suite; subtests run in parallel.
func Run(t *testing.T, open Opener) {
	t.Helper()
	tests := []struct {
		name string
		run  func(*testing.T, Harness)
	}{
		{"EachKind", testEachKind},
		{"OutOfOrder", testOutOfOrder},
		{"Duplicate", testDuplicate},
		{"EqualTimeOtherID", testEqualTimeOtherID},
		{"UnknownChannel", testUnknownChannel},
		{"TwoShowsOneChannel", testTwoShowsOneChannel},
		{"HealthIndependentOfState", testHealthIndependent},
		{"SnapshotVsNewerEvent", testSnapshotVsNewerEvent},
		{"SnapshotSetsShows", testSnapshotSetsShows},
		{"CheckedAt", testCheckedAt},
		{"ConcurrentDeliveries", testConcurrent},
		{"StreamRegions", testStreamRegions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := open(t)
			seed(t, h.Store)
			tt.run(t, h)
		})
	}
}

const (
	seller1  = "c0000000-0000-4000-8000-000000000001"
	seller2  = "c0000000-0000-4000-8000-000000000002"
	user1    = "a0000000-0000-4000-8000-000000000001"
	user2    = "a0000000-0000-4000-8000-000000000002"
	show1    = "d0000000-0000-4000-8000-000000000001" // on channel1
	show2    = "d0000000-0000-4000-8000-000000000002" // on channel1 too
	show3    = "d0000000-0000-4000-8000-000000000003" // on channel2
	show4    = "d0000000-0000-4000-8000-000000000004" // on channel3, another region
	show5    = "d0000000-0000-4000-8000-000000000005" // no channel
	channel1 = "arn:aws:ivs:us-east-1:123456789012:channel/abcdefghijkl"
	channel2 = "arn:aws:ivs:us-east-1:123456789012:channel/mnopqrstuvwx"
	channel3 = "arn:aws:ivs:eu-west-1:123456789012:channel/euchanneleu1"
	noShows  = "arn:aws:ivs:us-east-1:123456789012:channel/nobodynobody"
)

// t0 is a whole second, as EventBridge's times are.
var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func seed(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	must(t, "AddSeller", s.AddSeller(ctx, seller1, user1, ingest.SellerApproved))
	must(t, "AddSeller", s.AddSeller(ctx, seller2, user2, ingest.SellerApproved))
	for _, sh := range []ingest.Show{
		{ID: show1, SellerID: seller1, ChannelARN: channel1}, {ID: show2, SellerID: seller1, ChannelARN: channel1},
		{ID: show3, SellerID: seller2, ChannelARN: channel2}, {ID: show4, SellerID: seller2, ChannelARN: channel3},
		{ID: show5, SellerID: seller2},
	} {
		must(t, "AddShow", s.AddShow(ctx, sh))
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func ev(kind streamstatus.Kind, id string, at time.Time) streamstatus.Event {
	e := streamstatus.Event{ID: id, Time: at, ChannelARN: channel1, Kind: kind, StreamID: "st-1"}
	if kind == streamstatus.KindStreamFailure {
		e.Reason = "Transcode capacity exceeded."
	}
	return e
}

func apply(t *testing.T, s Store, e streamstatus.Event, want streamstatus.Outcome) {
	t.Helper()
	got, err := s.ApplyStreamEvent(context.Background(), e)
	if err != nil || got != want {
		t.Fatalf("ApplyStreamEvent(%s %s at %v) = %q, %v; want %q", e.Kind, e.ID, e.Time.Format(time.TimeOnly), got, err, want)
	}
}

func stored(t *testing.T, s Store, arn string) streamstatus.Stored {
	t.Helper()
	st, found, err := s.StreamState(context.Background(), arn)
	if err != nil || !found {
		t.Fatalf("StreamState(%s) = found %v, %v; want a row", arn, found, err)
	}
	return st
}

func wantStored(t *testing.T, s Store, want streamstatus.Stored) {
	t.Helper()
	if diff := cmp.Diff(want, stored(t, s, want.ChannelARN)); diff != "" {
		t.Errorf("StreamState(%s) mismatch (-want +got):\n%s", want.ChannelARN, diff)
	}
}

func wantShows(t *testing.T, h Harness, want map[string]string) {
	t.Helper()
	for id, w := range want {
		if got := h.ShowStatus(t, id); got != w {
			t.Errorf("shows.stream_status of %s = %q, want %q", id, got, w)
		}
	}
}

func testEachKind(t *testing.T, h Harness) {
	s := h.Store
	wantShows(t, h, map[string]string{show1: "", show2: ""}) // NULL until an event
	apply(t, s, ev(streamstatus.KindStreamStart, "e1", t0), streamstatus.Applied)
	wantStored(t, s, streamstatus.Stored{ChannelARN: channel1, State: streamstatus.Live, StateAt: t0, StateEventID: "e1", Since: t0,
		StreamID: "st-1", CheckedAt: t0})
	wantShows(t, h, map[string]string{show1: "live", show2: "live", show3: ""})

	apply(t, s, ev(streamstatus.KindStarvationStart, "e2", t0.Add(time.Second)), streamstatus.Applied)
	got := stored(t, s, channel1)
	if got.Health != streamstatus.Starving || !got.HealthAt.Equal(t0.Add(time.Second)) || got.HealthEventID != "e2" || got.State != streamstatus.Live {
		t.Errorf("after Starvation Start: %+v; want live, starving at t0+1s by e2", got)
	}
	apply(t, s, ev(streamstatus.KindStarvationEnd, "e3", t0.Add(2*time.Second)), streamstatus.Applied)
	if got := stored(t, s, channel1); got.Health != streamstatus.Healthy || got.HealthEventID != "e3" {
		t.Errorf("after Starvation End: health %q by %q; want healthy by e3", got.Health, got.HealthEventID)
	}

	apply(t, s, ev(streamstatus.KindStreamFailure, "e4", t0.Add(3*time.Second)), streamstatus.Applied)
	wantStored(t, s, streamstatus.Stored{ChannelARN: channel1, State: streamstatus.Offline, StateAt: t0.Add(3 * time.Second), StateEventID: "e4",
		Since: t0.Add(3 * time.Second), StreamID: "st-1", Reason: "Transcode capacity exceeded.", Health: streamstatus.Healthy,
		HealthAt: t0.Add(2 * time.Second), HealthEventID: "e3", CheckedAt: t0.Add(3 * time.Second)})
	wantShows(t, h, map[string]string{show1: "offline", show2: "offline"})

	// Offline again: the state began at the failure, whose reason stays.
	apply(t, s, ev(streamstatus.KindSessionEnded, "e5", t0.Add(4*time.Second)), streamstatus.Applied)
	if got := stored(t, s, channel1); got.State != streamstatus.Offline || !got.Since.Equal(t0.Add(3*time.Second)) || got.Reason == "" {
		t.Errorf("after Session Ended: %+v; want offline since the failure, its reason kept", got)
	}
	apply(t, s, ev(streamstatus.KindStreamStart, "e6", t0.Add(5*time.Second)), streamstatus.Applied)
	apply(t, s, ev(streamstatus.KindStreamEnd, "e7", t0.Add(6*time.Second)), streamstatus.Applied)
	if got := stored(t, s, channel1); got.State != streamstatus.Offline || !got.Since.Equal(t0.Add(6*time.Second)) || got.Reason != "" {
		t.Errorf("after Stream End: %+v; want offline since t0+6s, no reason", got)
	}
	wantShows(t, h, map[string]string{show1: "offline", show2: "offline", show3: ""})
}

func testOutOfOrder(t *testing.T, h Harness) {
	s := h.Store
	apply(t, s, ev(streamstatus.KindStreamEnd, "end", t0.Add(10*time.Second)), streamstatus.Applied)
	apply(t, s, ev(streamstatus.KindStreamStart, "start", t0), streamstatus.Stale)
	if got := stored(t, s, channel1); got.State != streamstatus.Offline || got.StateEventID != "end" {
		t.Errorf("after a late Stream Start: state %q by %q; want offline by end", got.State, got.StateEventID)
	}
	wantShows(t, h, map[string]string{show1: "offline"})
	apply(t, s, ev(streamstatus.KindStarvationEnd, "h2", t0.Add(5*time.Second)), streamstatus.Applied)
	apply(t, s, ev(streamstatus.KindStarvationStart, "h1", t0.Add(4*time.Second)), streamstatus.Stale)
	if got := stored(t, s, channel1); got.Health != streamstatus.Healthy {
		t.Errorf("after a late Starvation Start: health %q, want healthy", got.Health)
	}
}

func testDuplicate(t *testing.T, h Harness) {
	s := h.Store
	e := ev(streamstatus.KindStreamStart, "e1", t0)
	apply(t, s, e, streamstatus.Applied)
	before := stored(t, s, channel1)
	apply(t, s, e, streamstatus.Duplicate)
	hv := ev(streamstatus.KindStarvationStart, "h1", t0)
	apply(t, s, hv, streamstatus.Applied)
	apply(t, s, hv, streamstatus.Duplicate)
	after := stored(t, s, channel1)
	after.Health, after.HealthAt, after.HealthEventID = "", time.Time{}, ""
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("a redelivered event changed the state (-before +after):\n%s", diff)
	}
}

func testEqualTimeOtherID(t *testing.T, h Harness) {
	s := h.Store
	apply(t, s, ev(streamstatus.KindStreamStart, "a", t0), streamstatus.Applied)
	apply(t, s, ev(streamstatus.KindStreamEnd, "b", t0), streamstatus.Applied)
	if got := stored(t, s, channel1); got.State != streamstatus.Offline || got.StateEventID != "b" {
		t.Errorf("after two events of one second: state %q by %q; want offline by b", got.State, got.StateEventID)
	}
	wantShows(t, h, map[string]string{show1: "offline"})
	apply(t, s, ev(streamstatus.KindStreamStart, "a", t0), streamstatus.Applied) // another id than the stored one
	apply(t, s, ev(streamstatus.KindStreamStart, "a", t0), streamstatus.Duplicate)
}

func testUnknownChannel(t *testing.T, h Harness) {
	s := h.Store
	for _, k := range []streamstatus.Kind{streamstatus.KindStreamStart, streamstatus.KindStarvationStart} {
		e := ev(k, "e1", t0)
		e.ChannelARN = noShows
		apply(t, s, e, streamstatus.UnknownChannel)
	}
	if _, found, err := s.StreamState(context.Background(), noShows); found || err != nil {
		t.Errorf("StreamState(a channel of no show) = found %v, %v; want nothing stored", found, err)
	}
	if _, found, err := s.StreamState(context.Background(), channel1); found || err != nil {
		t.Errorf("StreamState(a channel without events) = found %v, %v; want none", found, err)
	}
}

func testTwoShowsOneChannel(t *testing.T, h Harness) {
	apply(t, h.Store, ev(streamstatus.KindStreamStart, "e1", t0), streamstatus.Applied)
	wantShows(t, h, map[string]string{show1: "live", show2: "live", show3: "", show4: "", show5: ""})
}

// The state and the health keep separate times: an old health reading
// applies after a newer state event, and the other way round.
func testHealthIndependent(t *testing.T, h Harness) {
	s := h.Store
	apply(t, s, ev(streamstatus.KindStarvationStart, "h1", t0), streamstatus.Applied)
	got := stored(t, s, channel1)
	if got.State != "" || got.Health != streamstatus.Starving {
		t.Errorf("a health event alone: state %q, health %q; want no state, starving", got.State, got.Health)
	}
	wantShows(t, h, map[string]string{show1: ""})
	apply(t, s, ev(streamstatus.KindStreamStart, "s1", t0.Add(-time.Minute)), streamstatus.Applied)
	apply(t, s, ev(streamstatus.KindStreamEnd, "s2", t0.Add(time.Minute)), streamstatus.Applied)
	apply(t, s, ev(streamstatus.KindStarvationEnd, "h2", t0.Add(time.Second)), streamstatus.Applied)
	got = stored(t, s, channel1)
	if got.State != streamstatus.Offline || got.Health != streamstatus.Healthy || !got.HealthAt.Equal(t0.Add(time.Second)) {
		t.Errorf("got %+v; want offline at t0+1m and healthy at t0+1s", got)
	}
}

func live(arn, id string, start time.Time, h streamstatus.Health) streamstatus.LiveStream {
	return streamstatus.LiveStream{ChannelARN: arn, StreamID: id, StartTime: start, Health: h}
}

func snapshot(t *testing.T, s Store, region string, at time.Time, want int, l ...streamstatus.LiveStream) {
	t.Helper()
	got, err := s.ApplyStreamSnapshot(context.Background(), region, at, l)
	if err != nil || got != want {
		t.Fatalf("ApplyStreamSnapshot(%s, %v, %d live) = %d, %v; want %d changed", region, at.Format(time.TimeOnly), len(l), got, err, want)
	}
}

func testSnapshotVsNewerEvent(t *testing.T, h Harness) {
	s := h.Store
	apply(t, s, ev(streamstatus.KindStreamEnd, "end", t0.Add(10*time.Second)), streamstatus.Applied)
	// Taken before the event, or in its second: the event stands.
	snapshot(t, s, "us-east-1", t0, 1, live(channel1, "st-1", t0.Add(-time.Minute), streamstatus.Healthy)) // channel2: new, offline
	snapshot(t, s, "us-east-1", t0.Add(10*time.Second), 0, live(channel1, "st-1", t0.Add(-time.Minute), streamstatus.Healthy))
	if got := stored(t, s, channel1); got.State != streamstatus.Offline || got.StateEventID != "end" || got.Health != "" {
		t.Errorf("a snapshot at or before an event of t0+10s overwrote it: %+v", got)
	}
	wantShows(t, h, map[string]string{show1: "offline", show3: "offline"})
	apply(t, s, ev(streamstatus.KindStreamEnd, "end", t0.Add(10*time.Second)), streamstatus.Duplicate)
	// Taken after it: the snapshot says live (a missed Stream Start).
	at := t0.Add(time.Minute)
	snapshot(t, s, "us-east-1", at, 1, live(channel1, "st-2", t0.Add(30*time.Second), streamstatus.Starving))
	wantStored(t, s, streamstatus.Stored{ChannelARN: channel1, State: streamstatus.Live, StateAt: at, Since: t0.Add(30 * time.Second),
		StreamID: "st-2", Health: streamstatus.Starving, HealthAt: at, CheckedAt: at})
	wantShows(t, h, map[string]string{show1: "live", show2: "live", show3: "offline"})
	// An event older than the snapshot is stale, even one that changes the
	// state; a newer one applies.
	apply(t, s, ev(streamstatus.KindStreamEnd, "late", at.Add(-time.Second)), streamstatus.Stale)
	apply(t, s, ev(streamstatus.KindStreamEnd, "end2", at.Add(time.Second)), streamstatus.Applied)
	wantShows(t, h, map[string]string{show1: "offline"})
}

func testSnapshotSetsShows(t *testing.T, h Harness) {
	s := h.Store
	apply(t, s, ev(streamstatus.KindStarvationStart, "h", t0), streamstatus.Applied) // a health reading, no state yet
	at := t0.Add(time.Minute)
	snapshot(t, s, "us-east-1", at, 2, live(channel2, "st-9", t0, ""), live(noShows, "st-x", t0, streamstatus.Healthy))
	wantShows(t, h, map[string]string{show1: "offline", show2: "offline", show3: "live", show4: "", show5: ""})
	wantStored(t, s, streamstatus.Stored{ChannelARN: channel1, State: streamstatus.Offline, StateAt: at, Since: at,
		Health: streamstatus.Starving, HealthAt: t0, HealthEventID: "h", CheckedAt: at})
	wantStored(t, s, streamstatus.Stored{ChannelARN: channel2, State: streamstatus.Live, StateAt: at, Since: t0, StreamID: "st-9", CheckedAt: at})
	if _, found, err := s.StreamState(context.Background(), noShows); found || err != nil {
		t.Errorf("StreamState(live channel of no show) = found %v, %v; want nothing stored", found, err)
	}
	if _, found, err := s.StreamState(context.Background(), channel3); found || err != nil {
		t.Errorf("StreamState(channel of another region) = found %v, %v; want untouched", found, err)
	}
	// The same stream still live: unchanged, since kept, confirmed later.
	at2 := at.Add(time.Minute)
	snapshot(t, s, "us-east-1", at2, 0, live(channel2, "st-9", t0, streamstatus.Healthy))
	wantStored(t, s, streamstatus.Stored{ChannelARN: channel2, State: streamstatus.Live, StateAt: at2, Since: t0, StreamID: "st-9",
		Health: streamstatus.Healthy, HealthAt: at2, CheckedAt: at2})
	snapshot(t, s, "eu-west-1", at2, 1, live(channel3, "st-eu", t0, streamstatus.Healthy))
	wantShows(t, h, map[string]string{show4: "live", show3: "live"})
}

func testCheckedAt(t *testing.T, h Harness) {
	s := h.Store
	apply(t, s, ev(streamstatus.KindStreamStart, "e1", t0), streamstatus.Applied)
	if got := stored(t, s, channel1); !got.CheckedAt.Equal(t0) {
		t.Errorf("CheckedAt after an event = %v, want its time %v", got.CheckedAt, t0)
	}
	apply(t, s, ev(streamstatus.KindStarvationStart, "h1", t0.Add(time.Hour)), streamstatus.Applied)
	if got := stored(t, s, channel1); !got.CheckedAt.Equal(t0) {
		t.Errorf("CheckedAt after a health event = %v, want the state's %v", got.CheckedAt, t0)
	}
	at := t0.Add(2 * time.Minute)
	snapshot(t, s, "us-east-1", at, 1, live(channel1, "st-1", t0, "")) // channel2 is new: offline
	if got := stored(t, s, channel1); !got.CheckedAt.Equal(at) || !got.Since.Equal(t0) || got.State != streamstatus.Live {
		t.Errorf("after a confirming snapshot: %+v; want live since t0, checked at %v", got, at)
	}
	if got := stored(t, s, channel2); !got.CheckedAt.Equal(at) {
		t.Errorf("CheckedAt of a channel the snapshot found offline = %v, want %v", got.CheckedAt, at)
	}
}

// Concurrent deliveries for one channel end in the newest event, whatever
// the order in which they commit.
func testConcurrent(t *testing.T, h Harness) {
	s := h.Store
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		kind := streamstatus.KindStreamStart
		if i%2 == 1 {
			kind = streamstatus.KindStreamEnd
		}
		wg.Go(func() {
			// Newest first: e00 is the newest.
			_, errs[i] = s.ApplyStreamEvent(context.Background(), ev(kind, fmt.Sprintf("e%02d", i), t0.Add(time.Duration(n-1-i)*time.Second)))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("ApplyStreamEvent #%d: %v", i, err)
		}
	}
	if got := stored(t, s, channel1); got.StateEventID != "e00" || got.State != streamstatus.Live || !got.StateAt.Equal(t0.Add((n-1)*time.Second)) {
		t.Errorf("after %d concurrent deliveries: state %q by %q at %v; want live by e00", n, got.State, got.StateEventID, got.StateAt)
	}
	wantShows(t, h, map[string]string{show1: "live", show2: "live"})
}

func testStreamRegions(t *testing.T, h Harness) {
	got, err := h.Store.StreamRegions(context.Background())
	if want := []string{"eu-west-1", "us-east-1"}; err != nil || !cmp.Equal(got, want) {
		t.Errorf("StreamRegions() = %v, %v; want %v", got, err, want)
	}
}
