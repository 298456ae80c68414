package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// Keys past their maximum age, through the service over the SQLite store
// (moved from internal/httpapi's keylifecycle_test.go). The store and the
// service share the world's clock, so a key ages by moving it, not by
// rewriting its row.
func TestExpiredKeysAreRotatedWhenOffline(t *testing.T) {
	t.Parallel()
	w := newSQLiteWorld(t)
	opts := ingest.Options{KeyCacheTTL: 5 * time.Minute, KeyMaxAge: time.Hour, KeyCreatesPerHour: 10}
	svc := w.service(t, opts)
	owner := w.seller(t, ingest.SellerApproved)
	show := w.show(t, owner, true)

	first := w.get(t, "first get", svc, owner.keyRequest(show.ID)).StreamKey.Reveal()
	if got := w.get(t, "get of a fresh key", svc, owner.keyRequest(show.ID)).StreamKey.Reveal(); got != first {
		t.Fatal("a key younger than KeyMaxAge was replaced")
	}

	// Live: the current key stays, whatever its age.
	w.clock.Advance(2 * time.Hour)
	if err := w.emu.SetLive(show.ChannelARN, true); err != nil {
		t.Fatal(err)
	}
	if got := w.get(t, "get of an expired key on a live channel", svc, owner.keyRequest(show.ID)).StreamKey.Reveal(); got != first {
		t.Error("an expired key was rotated while its channel was live")
	}

	// Offline (and past the short memory of "live"): rotated transparently.
	fresh := w.service(t, opts)
	if err := w.emu.SetLive(show.ChannelARN, false); err != nil {
		t.Fatal(err)
	}
	oldARN, _ := w.stored(t, show.ID)
	rotated := w.get(t, "get of an expired key on an offline channel", fresh, owner.keyRequest(show.ID)).StreamKey.Reveal()
	if rotated == first || w.keyExists(t, oldARN) {
		t.Error("an expired key of an offline channel was not replaced")
	}
	if got := w.get(t, "get after the expiry rotation", fresh, owner.keyRequest(show.ID)).StreamKey.Reveal(); got != rotated {
		t.Error("the key rotated for expiry did not stay")
	}
	entries, err := w.db.ReadAudit(context.Background(), ingest.AuditQuery{ShowID: show.ID, Limit: 100})
	if err != nil {
		t.Fatalf("ReadAudit: %v", err)
	}
	expired := 0
	for _, e := range entries {
		if e.Action == ingest.ActionExpire {
			expired++
		}
	}
	if expired != 1 {
		t.Errorf("audit rows with action expire = %d, want 1", expired)
	}
}
