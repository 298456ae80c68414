package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// Key expiry and rotate-expired decide "is the channel live?" from the stored
// stream state when it is recent (Options.StreamStates), and ask IVS's
// GetStream only when it is not.

// knownStates is the stream states a test says the service knows: a port of
// the domain, over a map (internal/streamstatus is the real one, tested with
// its stores). A channel absent from the map is unknown, or its state stale.
type knownStates struct {
	mu   sync.Mutex
	live map[string]bool // channel ARN -> live
	err  error           // answered for every channel when set
	asks int
}

func (k *knownStates) Known(_ context.Context, channelARN string) (live, ok bool, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.asks++
	if k.err != nil {
		return false, false, k.err
	}
	live, ok = k.live[channelARN]
	return live, ok, nil
}

func (k *knownStates) set(channelARN string, live bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.live[channelARN] = live
}

// claimLog is the real IVS adapter, noting every reservation's claim.
type claimLog struct {
	ingest.IVS
	mu     sync.Mutex
	claims []ingest.Claim
}

func (c *claimLog) Reserve(ctx context.Context, claim ingest.Claim) (ingest.Calls, error) {
	c.mu.Lock()
	c.claims = append(c.claims, claim)
	c.mu.Unlock()
	return c.IVS.Reserve(ctx, claim)
}

// reserved lists how many calls each reservation on channelARN claimed
// since the last reset.
func (c *claimLog) reserved(channelARN string) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n []int
	for _, cl := range c.claims {
		if cl.ChannelARN == channelARN {
			n = append(n, cl.Calls)
		}
	}
	return n
}

func (c *claimLog) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.claims = nil
}

// expiryWorld is a show whose key has expired, served by a replica that
// knows the stream states states says; its key cache outlives the expiry,
// so that a kept key costs no IVS call.
func expiryWorld(t *testing.T, states *knownStates) (*sqliteWorld, *ingest.Service, *claimLog, sqliteUser, sqliteShow, string) {
	t.Helper()
	w := newSQLiteWorld(t)
	ivs := &claimLog{IVS: w.ivs}
	svc := ingest.NewService(w.db, ivs, ingest.Options{KeyCacheTTL: 24 * time.Hour, KeyMaxAge: time.Hour,
		StreamStates: states, Now: w.clock.Now})
	t.Cleanup(svc.Close)
	owner := w.seller(t, ingest.SellerApproved)
	show := w.show(t, owner, true)
	first := w.get(t, "first get", svc, owner.keyRequest(show.ID)).StreamKey.Reveal()
	w.clock.Advance(2 * time.Hour)
	ivs.reset()
	w.emu.ResetCounts()
	return w, svc, ivs, owner, show, first
}

func TestExpiryTrustsAKnownLiveChannel(t *testing.T) {
	t.Parallel()
	states := &knownStates{live: map[string]bool{}}
	w, svc, ivs, owner, show, first := expiryWorld(t, states)
	// IVS would say offline: only the stored state can keep the key.
	states.set(show.ChannelARN, true)

	for i := range 3 {
		if got := w.get(t, "get of an expired key on a known-live channel", svc, owner.keyRequest(show.ID)).StreamKey.Reveal(); got != first {
			t.Fatalf("get %d: the expired key of a channel known to be live was rotated", i)
		}
	}
	if n := w.emu.Calls("GetStream"); n != 0 {
		t.Errorf("GetStream calls = %d, want 0: the stored state says live", n)
	}
	if n := w.emu.TotalCalls(); n != 0 {
		t.Errorf("IVS calls = %d (log %v), want 0: a kept, cached key needs none", n, w.emu.CallLog())
	}
	if got := ivs.reserved(show.ChannelARN); len(got) != 0 {
		t.Errorf("reservations = %v, want none", got)
	}
	if states.asks != 3 {
		t.Errorf("stored state asked %d times, want 3 (once per request)", states.asks)
	}
}

// A stored "offline" is not trusted: a late one (a Stream Start still on
// its way) would delete the key of a stream that has just begun. IVS is
// asked, and the channel, offline there too, has its key rotated.
func TestExpiryAsksIVSWhenKnownOffline(t *testing.T) {
	t.Parallel()
	states := &knownStates{live: map[string]bool{}}
	w, svc, ivs, owner, show, first := expiryWorld(t, states)
	states.set(show.ChannelARN, false)

	oldARN, _ := w.stored(t, show.ID)
	if got := w.get(t, "get of an expired key on a known-offline channel", svc, owner.keyRequest(show.ID)).StreamKey.Reveal(); got == first {
		t.Fatal("the expired key of a channel offline in IVS was kept")
	}
	if w.keyExists(t, oldARN) {
		t.Error("the expired key still exists in IVS")
	}
	if n := w.emu.Calls("GetStream"); n != 1 {
		t.Errorf("GetStream calls = %d, want 1: a stored offline is checked with IVS", n)
	}
	// GetStream's, then the expiry rotation's four calls (no StopStream).
	if got := ivs.reserved(show.ChannelARN); !slices.Equal(got, []int{1, 4}) {
		t.Errorf("reservations = %v, want [1 4]", got)
	}
}

// A stored "offline" can be late: the stream may have started since its
// Stream Start event was sent. IVS, asked, says live: the key is kept, and
// nothing is stopped.
func TestExpiryNeverCutsALiveStream(t *testing.T) {
	t.Parallel()
	states := &knownStates{live: map[string]bool{}}
	w, svc, _, owner, show, first := expiryWorld(t, states)
	states.set(show.ChannelARN, false)
	if err := w.emu.SetLive(show.ChannelARN, true); err != nil {
		t.Fatal(err)
	}

	if got := w.get(t, "get of an expired key on a channel wrongly known offline", svc, owner.keyRequest(show.ID)).StreamKey.Reveal(); got != first {
		t.Fatal("the expired key of a live stream was rotated on a late stored offline")
	}
	if n := w.emu.Calls("StopStream"); n != 0 {
		t.Errorf("StopStream calls = %d, want 0: an expiry never stops a stream", n)
	}
	if live, err := w.ivs.Live(context.Background(), show.ChannelARN); err != nil || !live {
		t.Errorf("Live after the expiry rotation = %v, %v; want the stream still live", live, err)
	}
}

// Without a recent stored state (none, stale, or unreadable), IVS is asked,
// as without stream states: the stored state is only a shortcut.
func TestExpiryAsksIVSWithoutAKnownState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"unknown or stale", nil},
		{"store error", errors.New("database is down")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			states := &knownStates{live: map[string]bool{}, err: tc.err}
			w, svc, ivs, owner, show, first := expiryWorld(t, states)

			// IVS says live: kept, after one GetStream.
			if err := w.emu.SetLive(show.ChannelARN, true); err != nil {
				t.Fatal(err)
			}
			if got := w.get(t, "get of an expired key on a live channel", svc, owner.keyRequest(show.ID)).StreamKey.Reveal(); got != first {
				t.Fatal("an expired key was rotated while IVS said its channel was live")
			}
			if n := w.emu.Calls("GetStream"); n != 1 {
				t.Errorf("GetStream calls = %d, want 1", n)
			}
			if got := ivs.reserved(show.ChannelARN); !slices.Equal(got, []int{1}) {
				t.Errorf("reservations = %v, want [1]: GetStream's", got)
			}

			// IVS says offline (a replica without the memory of "live"):
			// rotated, after one GetStream.
			if err := w.emu.SetLive(show.ChannelARN, false); err != nil {
				t.Fatal(err)
			}
			fresh := ingest.NewService(w.db, ivs, ingest.Options{KeyMaxAge: time.Hour, StreamStates: states, Now: w.clock.Now})
			t.Cleanup(fresh.Close)
			w.emu.ResetCounts()
			ivs.reset()
			if got := w.get(t, "get of an expired key on an offline channel", fresh, owner.keyRequest(show.ID)).StreamKey.Reveal(); got == first {
				t.Fatal("an expired key of an offline channel was kept")
			}
			if n := w.emu.Calls("GetStream"); n != 1 {
				t.Errorf("GetStream calls = %d, want 1", n)
			}
			if got := ivs.reserved(show.ChannelARN); !slices.Equal(got, []int{1, 4}) {
				t.Errorf("reservations = %v, want [1 4]: GetStream's, then the rotation's", got)
			}
		})
	}
}

// rotate-expired: a known-live channel is kept without GetStream; a
// known-offline one and an unknown one are asked about.
func TestRotateExpiredUsesKnownStates(t *testing.T) {
	t.Parallel()
	w := newSQLiteWorld(t)
	states := &knownStates{live: map[string]bool{}}
	ivs := &claimLog{IVS: w.ivs}
	svc := ingest.NewService(w.db, ivs, ingest.Options{KeyMaxAge: time.Hour, StreamStates: states, Now: w.clock.Now})
	t.Cleanup(svc.Close)
	owner := w.seller(t, ingest.SellerApproved)
	knownLive, knownOffline, unknown := w.show(t, owner, true), w.show(t, owner, true), w.show(t, owner, true)
	for _, s := range []sqliteShow{knownLive, knownOffline, unknown} {
		w.get(t, "first get", svc, owner.keyRequest(s.ID))
	}
	states.set(knownLive.ChannelARN, true)
	states.set(knownOffline.ChannelARN, false)
	// IVS says live for the unknown channel: it is kept, from GetStream.
	if err := w.emu.SetLive(unknown.ChannelARN, true); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(2 * time.Hour)
	w.emu.ResetCounts()
	ivs.reset()

	res, err := svc.RotateExpired(context.Background(), ingest.BatchOptions{})
	if err != nil || res.Done != 1 || res.Kept != 2 || res.Failed != 0 {
		t.Fatalf("RotateExpired = %+v, %v; want 1 rotated, 2 kept", res, err)
	}
	results := map[string]string{}
	for _, d := range res.Details {
		results[d.ShowID] = d.Result
	}
	want := map[string]string{knownLive.ID: "kept (live)", knownOffline.ID: "rotated", unknown.ID: "kept (live)"}
	if fmt.Sprint(results) != fmt.Sprint(want) {
		t.Errorf("RotateExpired's results = %v, want %v", results, want)
	}
	if n := w.emu.Calls("GetStream"); n != 2 {
		t.Errorf("GetStream calls = %d, want 2: the known-offline and unknown channels'", n)
	}
	for _, c := range []struct {
		show sqliteShow
		want []int
	}{{knownLive, nil}, {knownOffline, []int{1, 4}}, {unknown, []int{1}}} {
		if got := ivs.reserved(c.show.ChannelARN); !slices.Equal(got, c.want) {
			t.Errorf("reservations for the show %s = %v, want %v", want[c.show.ID], got, c.want)
		}
	}
}
