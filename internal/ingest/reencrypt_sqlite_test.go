package ingest_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest/storetest"
	"github.com/ivs-ingest/ivs-ingest/internal/sqlite"
)

// Reencrypt is a batch command over the stored values: it reports its
// progress as provision and rotate-expired do, and stops between values.

// sealedUnder counts the stored values (keys and channels' passphrases)
// sealed under the master key id.
func (w *sqliteWorld) sealedUnder(t *testing.T, id string) int {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+w.path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRow(`SELECT (SELECT count(*) FROM stream_keys WHERE sealed_key_id = ?1 AND sealed_value IS NOT NULL)
		+ (SELECT count(*) FROM channels WHERE sealed_key_id = ?1 AND sealed_srt_passphrase IS NOT NULL)`, id).Scan(&n); err != nil {
		t.Fatalf("count sealed values: %v", err)
	}
	return n
}

// reencryptWorld is a world whose shows stored their keys and channels
// (2 values each) under master key 1, and foreign of them under a key 9
// the service does not hold; the service seals under 2 and opens 1.
func reencryptWorld(t *testing.T, shows, foreign int) (*sqliteWorld, ingest.Vault) {
	t.Helper()
	w := newSQLiteWorld(t)
	k1 := storetest.NewKey(t, "1")
	seller := w.seller(t, ingest.SellerApproved)
	for range shows {
		w.storedShow(t, seller, storetest.Vault(t, k1))
	}
	for range foreign {
		w.storedShow(t, seller, storetest.Vault(t, storetest.NewKey(t, "9")))
	}
	return w, storetest.Vault(t, storetest.NewKey(t, "2"), k1)
}

// Reencrypt reports before the first value and after each: the total
// counted in the store, what came of each value, the time on the service's
// clock, the rate and the time left; no IVS budget wait (it calls none).
func TestReencryptProgress(t *testing.T) {
	t.Parallel()
	w, vault := reencryptWorld(t, 3, 1)
	svc := w.service(t, ingest.Options{Vault: vault})
	w.emu.ResetCounts()
	ctx := context.Background()

	log := &progressLog{clock: w.clock, step: 250 * time.Millisecond}
	res, err := svc.Reencrypt(ctx, ingest.BatchOptions{Progress: log.report})
	if want := (ingest.ReencryptResult{Total: 8, Resealed: 6, Unknown: 2}); err != nil || res != want {
		t.Fatalf("Reencrypt = %+v, %v; want %+v", res, err, want)
	}
	if got := fmt.Sprint(log.handled()); got != "[0 1 2 3 4 5 6 7 8]" {
		t.Fatalf("reports handled %s, want [0 1 ... 8]: one before the first value and one after each", got)
	}
	for i, p := range log.reports {
		eta, ok := p.ETA()
		wantETA := time.Duration(8-i) * 250 * time.Millisecond
		if p.Total != 8 || p.Elapsed != time.Duration(i)*250*time.Millisecond || p.BudgetWait != 0 || p.Kept != 0 ||
			(i > 0 && (p.Rate() != 4 || !ok || eta != wantETA)) || (i == 0 && ok) {
			t.Errorf("report %d = %+v (rate %v, ETA %v %v), want %d of 8 after %v, 4 values/s, ETA %v, no budget wait",
				i, p, p.Rate(), eta, ok, i, time.Duration(i)*250*time.Millisecond, wantETA)
		}
	}
	if last := log.reports[8]; last.Done != 6 || last.Failed != 2 {
		t.Errorf("the last report = %+v, want 6 sealed again (done) and the 2 under the unknown key left (failed)", last)
	}
	if n := w.emu.TotalCalls(); n != 0 {
		t.Errorf("IVS calls made by Reencrypt = %d, want 0", n)
	}

	// Again: what is current is kept.
	log = &progressLog{clock: w.clock, step: time.Second}
	res, err = svc.Reencrypt(ctx, ingest.BatchOptions{Progress: log.report})
	last := log.reports[len(log.reports)-1]
	if err != nil || res.Current != 6 || last.Done != 0 || last.Kept != 6 || last.Failed != 2 || last.Total != 8 {
		t.Errorf("Reencrypt again = %+v, %v, the last report %+v; want 6 kept (current), 2 left", res, err, last)
	}
}

// Interrupted (the operator's Ctrl-C, here from the progress callback)
// after 3 of 6 values, Reencrypt stops, says how far it got, and a second
// run does the rest.
func TestReencryptStopsWhenInterrupted(t *testing.T) {
	t.Parallel()
	w, vault := reencryptWorld(t, 3, 0)
	svc := w.service(t, ingest.Options{Vault: vault})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var reports []ingest.Progress
	res, err := svc.Reencrypt(ctx, ingest.BatchOptions{Progress: func(p ingest.Progress) {
		reports = append(reports, p)
		if p.Handled() == 3 {
			cancel()
		}
	}})
	if !errors.Is(err, ingest.ErrInterrupted) || !errors.Is(err, context.Canceled) ||
		!strings.Contains(fmt.Sprint(err), "after 3 of 6 stored values") {
		t.Errorf("Reencrypt's error = %v, want ErrInterrupted and context.Canceled after 3 of 6 stored values", err)
	}
	if want := (ingest.ReencryptResult{Total: 6, Resealed: 3}); res != want {
		t.Errorf("Reencrypt = %+v, want %+v", res, want)
	}
	if len(reports) != 4 {
		t.Errorf("reports = %+v, want 4: before the first value and after each of the 3 handled", reports)
	}
	if n1, n2 := w.sealedUnder(t, "1"), w.sealedUnder(t, "2"); n1 != 3 || n2 != 3 {
		t.Errorf("after the interruption %d values are under 1 and %d under 2, want 3 and 3", n1, n2)
	}

	res, err = svc.Reencrypt(context.Background(), ingest.BatchOptions{})
	if want := (ingest.ReencryptResult{Total: 6, Resealed: 3, Current: 3}); err != nil || res != want {
		t.Errorf("Reencrypt after the interruption = %+v, %v; want %+v", res, err, want)
	}
	if n := w.sealedUnder(t, "2"); n != 6 {
		t.Errorf("values under 2 after the second run = %d, want 6", n)
	}
}

// cancellingStore is the SQLite store with a hook ahead of each key write:
// where a test interrupts in the middle of a value.
type cancellingStore struct {
	*sqlite.DB
	beforeStoreKey func()
}

func (s cancellingStore) StoreKey(ctx context.Context, k ingest.StoredKey, known []string) (bool, error) {
	s.beforeStoreKey()
	return s.DB.StoreKey(ctx, k, known)
}

// Interrupted while a value is being written, Reencrypt finishes that
// write and stops before the next value.
func TestReencryptFinishesTheValueInHand(t *testing.T) {
	t.Parallel()
	w, vault := reencryptWorld(t, 3, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	writes := 0
	store := cancellingStore{DB: w.db, beforeStoreKey: func() {
		if writes++; writes == 2 {
			cancel()
		}
	}}
	svc := ingest.NewService(store, w.ivs, ingest.Options{Vault: vault, Now: w.clock.Now})
	t.Cleanup(svc.Close)

	res, err := svc.Reencrypt(ctx, ingest.BatchOptions{})
	if !errors.Is(err, ingest.ErrInterrupted) {
		t.Errorf("Reencrypt's error = %v, want ErrInterrupted (the write in hand not cancelled)", err)
	}
	if want := (ingest.ReencryptResult{Total: 6, Resealed: 2}); res != want {
		t.Errorf("Reencrypt = %+v, want %+v: the value in hand when interrupted written, no other", res, want)
	}
	if n := w.sealedUnder(t, "2"); n != 2 {
		t.Errorf("values under 2 = %d, want 2", n)
	}
}
