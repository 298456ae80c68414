package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/budget"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ivs"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// progressLog keeps a batch's progress reports, moving the world's clock a
// step after each: the rate and ETA are then exact, and nothing sleeps.
type progressLog struct {
	clock   interface{ Advance(time.Duration) }
	step    time.Duration
	reports []ingest.Progress
}

func (l *progressLog) report(p ingest.Progress) {
	l.reports = append(l.reports, p)
	l.clock.Advance(l.step)
}

// handled lists each report's Handled count.
func (l *progressLog) handled() []int {
	var out []int
	for _, p := range l.reports {
		out = append(out, p.Handled())
	}
	return out
}

// Provision and RotateExpired report before the first show and after each:
// counts, the show just handled, the time on the service's clock, the rate
// and the time left.
func TestBatchProgress(t *testing.T) {
	t.Parallel()
	w := newSQLiteWorld(t)
	svc := w.service(t, ingest.Options{KeyMaxAge: time.Hour})
	owner := w.seller(t, ingest.SellerApproved)
	shows := map[string]bool{}
	for range 3 {
		shows[w.show(t, owner, true).ID] = true
	}
	ctx := context.Background()

	log := &progressLog{clock: w.clock, step: 2 * time.Second}
	res, err := svc.Provision(ctx, nil, ingest.BatchOptions{Progress: log.report})
	if err != nil || res.Done != 3 || res.Total != 3 {
		t.Fatalf("Provision = %+v, %v; want the 3 keys created", res, err)
	}
	if got := fmt.Sprint(log.handled()); got != "[0 1 2 3]" {
		t.Fatalf("reports handled %s, want [0 1 2 3]: one before the first show and one after each", got)
	}
	type figures struct {
		elapsed time.Duration
		rate    float64
		eta     time.Duration
		etaOK   bool
	}
	want := []figures{{0, 0, 0, false}, {2 * time.Second, 0.5, 4 * time.Second, true},
		{4 * time.Second, 0.5, 2 * time.Second, true}, {6 * time.Second, 0.5, 0, true}}
	for i, p := range log.reports {
		eta, ok := p.ETA()
		if got := (figures{p.Elapsed, p.Rate(), eta, ok}); got != want[i] || p.Total != 3 || p.Done != i || p.Failed != 0 {
			t.Errorf("report %d = %+v (elapsed, rate, eta, ok %+v), want %+v with %d of 3 done", i, p, got, want[i], i)
		}
		if i > 0 && (!shows[p.Last.ShowID] || p.Last.Result != "created") {
			t.Errorf("report %d's last show = %+v, want one of the shows, created", i, p.Last)
		}
	}

	// Expired keys: one channel live (kept), the others rotated.
	w.clock.Advance(2 * time.Hour)
	var live string
	for id := range shows {
		live = id
		break
	}
	sh, _, err := w.db.Show(ctx, live)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.emu.SetLive(sh.ChannelARN, true); err != nil {
		t.Fatal(err)
	}
	log = &progressLog{clock: w.clock, step: time.Second}
	res, err = svc.RotateExpired(ctx, ingest.BatchOptions{Progress: log.report})
	if err != nil || res.Done != 2 || res.Kept != 1 {
		t.Fatalf("RotateExpired = %+v, %v; want 2 rotated, 1 kept", res, err)
	}
	last := log.reports[len(log.reports)-1]
	if fmt.Sprint(log.handled()) != "[0 1 2 3]" || last.Done != 2 || last.Kept != 1 || last.Elapsed != 3*time.Second {
		t.Errorf("RotateExpired's reports handled %v, the last %+v; want [0 1 2 3], 2 rotated, 1 kept after 3s", log.handled(), last)
	}
}

// The progress says how long a show's IVS calls queued in the call budget:
// here behind half a second of other replicas' calls.
func TestBatchProgressReportsTheBudgetWait(t *testing.T) {
	t.Parallel()
	w := newSQLiteWorld(t)
	ctx := context.Background()
	b := budget.New(budget.NewLocal(), 50, 10*time.Second)
	client, err := ivs.New(ctx, ivs.Config{Region: sqliteRegion, Endpoint: w.endpoint, AccessKeyID: sqliteAccessKeyID,
		SecretAccessKey: secret.New(sqliteSecretAccessKey), Budget: b})
	if err != nil {
		t.Fatalf("ivs.New: %v", err)
	}
	svc := ingest.NewService(w.db, client, ingest.Options{Now: w.clock.Now})
	t.Cleanup(svc.Close)
	w.show(t, w.seller(t, ingest.SellerApproved), true)

	// Others' 25 calls at 50 a second: the next slot is half a second away.
	queue, err := b.Reserve(ctx, budget.Claim{Calls: 25, Priority: budget.Batch})
	if err != nil {
		t.Fatal(err)
	}
	defer queue.Release(ctx)
	var waits []time.Duration
	res, err := svc.Provision(ctx, nil, ingest.BatchOptions{Progress: func(p ingest.Progress) { waits = append(waits, p.BudgetWait) }})
	if err != nil || res.Done != 1 {
		t.Fatalf("Provision = %+v, %v; want the key created", res, err)
	}
	// A batch claim waits for the queue to pass (half a second, less the
	// time spent getting here); the upper bound is only the budget's own.
	if len(waits) != 2 || waits[0] != 0 || waits[1] < 250*time.Millisecond || waits[1] > 10*time.Second {
		t.Errorf("budget waits reported = %v, want 0 before the show, then about the 500ms queue", waits)
	}
}

// hookedIVS calls before ahead of each reservation: the real adapter, with
// a hook where a test acts mid-batch.
type hookedIVS struct {
	ingest.IVS
	before func()
}

func (h hookedIVS) Reserve(ctx context.Context, c ingest.Claim) (ingest.Calls, error) {
	h.before()
	return h.IVS.Reserve(ctx, c)
}

// Interrupted (the operator's Ctrl-C) while the second of four shows is in
// hand, Provision finishes that show, key and audit row, starts no other,
// and says what it did.
func TestBatchStopsAfterTheShowInHand(t *testing.T) {
	t.Parallel()
	w := newSQLiteWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reservations := 0
	svc := ingest.NewService(w.db, hookedIVS{IVS: w.ivs, before: func() {
		if reservations++; reservations == 2 {
			cancel()
		}
	}}, ingest.Options{Now: w.clock.Now})
	t.Cleanup(svc.Close)
	owner := w.seller(t, ingest.SellerApproved)
	for range 4 {
		w.show(t, owner, true)
	}

	var reports []ingest.Progress
	res, err := svc.Provision(ctx, nil, ingest.BatchOptions{Progress: func(p ingest.Progress) { reports = append(reports, p) }})
	if !errors.Is(err, ingest.ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Errorf("Provision's error = %v, want ErrInterrupted and context.Canceled", err)
	}
	if res.Total != 4 || res.Done != 2 || res.Failed != 0 || len(res.Details) != 2 {
		t.Errorf("Provision = %+v, want 2 of 4 created (the second in hand when interrupted), none failed", res)
	}
	if n := len(reports); n != 3 || reports[n-1].Done != 2 {
		t.Errorf("reports = %+v, want 3: before the first show and after each of the 2 handled", reports)
	}
	if n := w.emu.Succeeded("CreateStreamKey"); n != 2 {
		t.Errorf("CreateStreamKey succeeded %d times, want 2", n)
	}
	left, err := w.db.ShowsWithoutKey(context.Background())
	if err != nil || len(left) != 2 {
		t.Errorf("shows still without a key = %d, %v; want the 2 not started", len(left), err)
	}
	entries, err := w.db.ReadAudit(context.Background(), ingest.AuditQuery{Outcome: ingest.OutcomeAllowed, Limit: 100})
	if err != nil || len(entries) != 2 {
		t.Errorf("allowed audit rows = %d, %v; want the 2 creations'", len(entries), err)
	}
}
