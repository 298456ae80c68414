package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// How a key is found, created, reused, replaced and adopted, through the
// service over the SQLite store (moved from internal/httpapi's
// lifecycle_test.go). Exactly-once creation under concurrent first requests
// is the store contract's (storetest's ExactlyOnceCreation, 1, 2 and 4
// replicas on both stores).

func TestFirstRequestCreatesTheKeyAndLaterOnesReuseIt(t *testing.T) {
	t.Parallel()
	w := newSQLiteWorld(t)
	svc := w.service(t, ingest.Options{KeyCacheTTL: 5 * time.Minute})
	owner := w.seller(t, ingest.SellerApproved)
	show := w.show(t, owner, true)

	w.emu.ResetCounts()
	first := w.get(t, "first request", svc, owner.keyRequest(show.ID)).StreamKey.Reveal()
	if n := w.emu.Succeeded("CreateStreamKey"); n != 1 {
		t.Errorf("first request: CreateStreamKey succeeded %d times, want 1", n)
	}
	keyARN, endpoint := w.stored(t, show.ID)
	if keyARN == "" || endpoint != show.Channel.IngestEndpoint {
		t.Errorf("show row after the first request: key %q, endpoint %q; want a key ARN and %q", keyARN, endpoint, show.Channel.IngestEndpoint)
	}

	before := w.emu.TotalCalls()
	for i := range 5 {
		if got := w.get(t, "later request", svc, owner.keyRequest(show.ID)).StreamKey.Reveal(); got != first {
			t.Fatalf("request %d returned another key than the first", i+2)
		}
	}
	if n := w.emu.TotalCalls() - before; n != 0 {
		t.Errorf("5 requests for a show whose key exists made %d IVS calls, want 0", n)
	}

	// A second replica, with a cold cache, reads the recorded key: no new
	// key is created.
	other := w.service(t, ingest.Options{KeyCacheTTL: 5 * time.Minute})
	if got := w.get(t, "request to a second replica", other, owner.keyRequest(show.ID)).StreamKey.Reveal(); got != first {
		t.Error("a second replica returned another key")
	}
	if n := w.emu.Succeeded("CreateStreamKey"); n != 1 {
		t.Errorf("CreateStreamKey succeeded %d times in all, want 1", n)
	}
}

func TestKeyDeletedInAWSIsReplaced(t *testing.T) {
	t.Parallel()
	w := newSQLiteWorld(t)
	svc := w.service(t, ingest.Options{KeyCacheTTL: 0})
	owner := w.seller(t, ingest.SellerApproved)
	show := w.show(t, owner, true)

	first := w.get(t, "first request", svc, owner.keyRequest(show.ID)).StreamKey.Reveal()
	oldARN := w.deleteKeyInAWS(t, show.ID)
	second := w.get(t, "request after the key was deleted in AWS", svc, owner.keyRequest(show.ID)).StreamKey.Reveal()
	if second == first {
		t.Error("the deleted key was returned again")
	}
	if newARN, _ := w.stored(t, show.ID); newARN == oldARN || newARN == "" {
		t.Errorf("stored key ARN = %q, want a new one (old %q)", newARN, oldARN)
	}
}

// A replica that cached a key serves it without asking IVS until the TTL
// ends (TestCacheTTLBoundsHowLongADeletedKeyIsServed tests the TTL itself);
// one that has not cached it notices a deletion at once.
func TestWarmReplicaServesFromCacheColdReplicaNoticesDeletion(t *testing.T) {
	t.Parallel()
	w := newSQLiteWorld(t)
	svc := w.service(t, ingest.Options{KeyCacheTTL: 5 * time.Minute})
	owner := w.seller(t, ingest.SellerApproved)
	show := w.show(t, owner, true)
	first := w.get(t, "first request", svc, owner.keyRequest(show.ID)).StreamKey.Reveal()
	w.deleteKeyInAWS(t, show.ID)
	calls := w.emu.TotalCalls()
	if got := w.get(t, "within the TTL", svc, owner.keyRequest(show.ID)).StreamKey.Reveal(); got != first {
		t.Error("within the TTL the cached key should be served")
	}
	if n := w.emu.TotalCalls() - calls; n != 0 {
		t.Errorf("within the TTL: %d IVS calls, want 0", n)
	}
	// A replica that has not cached it notices at once.
	fresh := w.service(t, ingest.Options{KeyCacheTTL: 5 * time.Minute})
	if got := w.get(t, "a replica with a cold cache", fresh, owner.keyRequest(show.ID)).StreamKey.Reveal(); got == first {
		t.Error("a cold replica returned the deleted key")
	}
}

func TestExistingKeyIsAdoptedNotDuplicated(t *testing.T) {
	t.Parallel()
	w := newSQLiteWorld(t)
	svc := w.service(t, ingest.Options{KeyCacheTTL: 5 * time.Minute})
	owner := w.seller(t, ingest.SellerApproved)
	// A channel made elsewhere (the console) with its key, attached to a
	// show the service has never seen.
	ch, err := w.emu.CreateChannel("made-in-console")
	if err != nil {
		t.Fatal(err)
	}
	showID := ingest.NewID()
	if err := w.db.AddShow(context.Background(), ingest.Show{ID: showID, SellerID: owner.SellerID, ChannelARN: ch.ARN}); err != nil {
		t.Fatalf("AddShow: %v", err)
	}

	got := w.get(t, "show whose channel already has a key", svc, owner.keyRequest(showID)).StreamKey.Reveal()
	if got != ch.StreamKey.Value {
		t.Error("the service did not return the channel's existing key")
	}
	if n := w.emu.Calls("CreateStreamKey"); n != 0 {
		t.Errorf("CreateStreamKey was called %d times for a channel that had a key, want 0", n)
	}
}

func TestShowMovedToAnotherChannelGetsThatChannelsKey(t *testing.T) {
	t.Parallel()
	w := newSQLiteWorld(t)
	svc := w.service(t, ingest.Options{KeyCacheTTL: 5 * time.Minute})
	owner := w.seller(t, ingest.SellerApproved)
	show := w.show(t, owner, true)
	first := w.get(t, "first channel", svc, owner.keyRequest(show.ID)).StreamKey.Reveal()

	ch, err := w.emu.CreateChannel("second-channel")
	if err != nil {
		t.Fatal(err)
	}
	w.exec(t, `UPDATE shows SET ivs_channel_arn = ?2 WHERE id = ?1`, show.ID, ch.ARN)
	d := w.get(t, "after moving the show", svc, owner.keyRequest(show.ID))
	if got := d.StreamKey.Reveal(); got == first || got != ch.StreamKey.Value {
		t.Error("a show moved to another channel did not get that channel's key")
	}
	if want := "rtmps://" + ch.IngestEndpoint + ":443/app/"; d.ServerURL() != want {
		t.Errorf("ServerURL() = %q, want the new channel's %q", d.ServerURL(), want)
	}
}

func TestLegacyStoredEndpointIsNormalised(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newSQLiteWorld(t)
	svc := w.service(t, ingest.Options{KeyCacheTTL: 5 * time.Minute})
	owner := w.seller(t, ingest.SellerApproved)
	show := w.show(t, owner, true)
	w.get(t, "first request", svc, owner.keyRequest(show.ID))

	// An older function stored the full URL.
	legacy := "rtmps://" + show.Channel.IngestEndpoint + ":443/app/"
	if err := w.db.SetIngestEndpoint(ctx, show.ID, legacy); err != nil {
		t.Fatalf("SetIngestEndpoint: %v", err)
	}
	d := w.get(t, "with a legacy endpoint", svc, owner.keyRequest(show.ID))
	if d.ServerURL() != legacy {
		t.Errorf("ServerURL() = %q, want %q (not a doubled scheme or port)", d.ServerURL(), legacy)
	}
	fresh := w.service(t, ingest.Options{KeyCacheTTL: 5 * time.Minute}) // a cold cache goes to IVS, which rewrites the row
	w.get(t, "cold replica", fresh, owner.keyRequest(show.ID))
	if _, endpoint := w.stored(t, show.ID); endpoint != show.Channel.IngestEndpoint {
		t.Errorf("stored endpoint = %q, want the bare host %q", endpoint, show.Channel.IngestEndpoint)
	}
}
