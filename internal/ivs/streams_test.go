package ivs

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/budget"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ivsemu"
	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
)

// 230 live channels take three pages (100, 100, 30), each one call, spaced
// by the region's budget; healths map to the domain's, UNKNOWN to "".
func TestLiveStreamsPages(t *testing.T) {
	t.Parallel()
	// 20 calls a second: each page after the first finds the schedule
	// taken by the one before, and waits for it rather than failing.
	b := budget.New(budget.NewLocal(), 20, time.Minute)
	client, emu, first := newEmulated(t, Config{Budget: b})
	started := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	want := map[string]streamstatus.LiveStream{}
	for i := range 240 {
		arn := first
		if i > 0 {
			ch, err := emu.CreateChannel("live")
			if err != nil {
				t.Fatal(err)
			}
			arn = ch.ARN
		}
		if i >= 230 {
			continue // offline
		}
		spec := ivsemu.StreamSpec{Live: true, StartTime: started.Add(time.Duration(i) * time.Second), StreamID: "st-" + arn[len(arn)-12:]}
		ls := streamstatus.LiveStream{ChannelARN: arn, StreamID: spec.StreamID, StartTime: spec.StartTime, Health: streamstatus.Healthy}
		switch i % 7 {
		case 1:
			spec.Health, ls.Health = "STARVING", streamstatus.Starving
		case 2:
			spec.Health, ls.Health = "UNKNOWN", ""
		}
		if err := emu.SetStream(arn, spec); err != nil {
			t.Fatal(err)
		}
		want[arn] = ls
	}

	got, err := client.LiveStreams(context.Background(), testRegion)
	if err != nil {
		t.Fatalf("LiveStreams = %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("LiveStreams = %d streams, want %d", len(got), len(want))
	}
	if !slices.IsSortedFunc(got, func(a, b streamstatus.LiveStream) int { return strings.Compare(a.ChannelARN, b.ChannelARN) }) {
		t.Error("LiveStreams are not in the pages' order")
	}
	for _, s := range got {
		if w := want[s.ChannelARN]; s != w {
			t.Errorf("LiveStreams gave %+v, want %+v", s, w)
		}
	}
	if n := emu.Calls("ListStreams"); n != 3 {
		t.Errorf("ListStreams calls = %d, want 3 (one per 100 live channels)", n)
	}
	if n := emu.Throttled(); n != 0 {
		t.Errorf("throttled calls = %d, want 0", n)
	}
}

// A region's streams are listed by that region's client, in its budget; a
// client asked for another region refuses rather than list its own.
func TestLiveStreamsByRegion(t *testing.T) {
	t.Parallel()
	w := newRegionsWorld(t, 100)
	ctx := context.Background()
	if err := w.emus[otherRegion].SetLive(w.channels[otherRegion], true); err != nil {
		t.Fatal(err)
	}
	west, err := w.regions.LiveStreams(ctx, otherRegion)
	if err != nil || len(west) != 1 || west[0].ChannelARN != w.channels[otherRegion] || west[0].Health != streamstatus.Healthy {
		t.Errorf("LiveStreams(%s) = %+v, %v; want its one live channel, healthy", otherRegion, west, err)
	}
	for _, region := range []string{testRegion, ""} {
		east, err := w.regions.LiveStreams(ctx, region)
		if err != nil || len(east) != 0 {
			t.Errorf("LiveStreams(%q) = %+v, %v; want none (the default region's channel is offline)", region, east, err)
		}
	}
	for region, want := range map[string]int{testRegion: 2, otherRegion: 1} {
		if got := w.emus[region].Succeeded("ListStreams"); got != want {
			t.Errorf("%s's emulator answered %d ListStreams, want %d", region, got, want)
		}
	}
	if _, err := w.regions.Region(testRegion).LiveStreams(ctx, otherRegion); err == nil {
		t.Errorf("the %s client's LiveStreams(%s) = nil error, want a refusal", testRegion, otherRegion)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.budgeted[testRegion] != 1 || w.budgeted[otherRegion] != 1 {
		t.Errorf("budgets made per region = %v, want one each", w.budgeted)
	}
}

// A listing never takes a slot a seller waits for: while an interactive
// claim holds the schedule's next slots, LiveStreams makes no call (and
// gives up when its context ends); once the seller's slots are given back,
// it lists at once.
func TestLiveStreamsYieldToSellers(t *testing.T) {
	t.Parallel()
	b := budget.New(budget.NewLocal(), 1, time.Minute) // a call a second
	client, emu, arn := newEmulated(t, Config{Budget: b})
	if err := emu.SetLive(arn, true); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	seller, err := client.Reserve(ctx, ingest.Claim{Calls: 3, SellerID: "seller", ChannelARN: arn, Priority: ingest.Interactive})
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if got, err := client.LiveStreams(short, ""); !errors.Is(err, ingest.ErrIVSBusy) {
		t.Errorf("LiveStreams while a seller holds the schedule = %v, %v; want busy", got, err)
	}
	if n := emu.Calls("ListStreams"); n != 0 {
		t.Errorf("ListStreams calls while a seller holds the schedule = %d, want 0", n)
	}
	if err := seller.Release(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := client.LiveStreams(ctx, "")
	if err != nil || len(got) != 1 || got[0].ChannelARN != arn {
		t.Errorf("LiveStreams after the seller's release = %+v, %v; want the live channel", got, err)
	}
}
