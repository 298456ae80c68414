// Package storetest is the contract every implementation of ingest.Store in
// this project passes: the production PostgreSQL store and the embedded
// SQLite one run the same suite, so the domain cannot tell them apart. The
// suite includes exactly-once stream key creation through the real domain
// service, the real IVS adapter and the IVS emulator.
package storetest

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsivs "github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/google/go-cmp/cmp"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ivs"
	"github.com/ivs-ingest/ivs-ingest/internal/ivsemu"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// Store is a store under test: the domain's ingest.Store and the seeding
// methods the suite (and dev mode's demo data) use.
type Store interface {
	ingest.Store
	ingest.AuditPruner
	// AddSeller adds a seller profile; id and userID are UUIDs.
	AddSeller(ctx context.Context, id, userID, status string) error
	// AddAdmin gives userID the admin role; it is a no-op for an admin.
	AddAdmin(ctx context.Context, userID string) error
	// AddShow adds a show; its empty ChannelARN, IngestEndpoint and
	// StreamKeyARN are stored as NULL.
	AddShow(ctx context.Context, show ingest.Show) error
	// HasSellers reports whether any seller profile exists.
	HasSellers(ctx context.Context) (bool, error)
}

// Run runs the contract suite. open must return a new, empty, migrated store
// each time it is called, and close it when t ends. Subtests run in
// parallel, each with stores of its own.
func Run(t *testing.T, open func(t *testing.T) Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(*testing.T, func(*testing.T) Store)
	}{
		{"Authorize", testAuthorize},
		{"Seeding", testSeeding},
		{"HasSellers", testHasSellers},
		{"RecordStreamKey", testRecordStreamKey},
		{"SetIngestEndpoint", testSetIngestEndpoint},
		{"WithChannelLock", testWithChannelLock},
		{"ExactlyOnceCreation", testExactlyOnceCreation},
		{"Audit", testAudit},
		{"AuditPaging", testAuditPaging},
		{"AuditFilters", testAuditFilters},
		{"AuditOwnerView", testAuditOwnerView},
		{"AuditRetention", testAuditRetention},
		{"KeyCreationLimit", testKeyCreationLimit},
		{"ChannelSection", testChannelSection},
		{"KeyAges", testKeyAges},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open)
		})
	}
}

const (
	sellerUser  = "a0000000-0000-4000-8000-000000000001"
	pendingUser = "a0000000-0000-4000-8000-000000000002"
	adminUser   = "a0000000-0000-4000-8000-000000000003"
	nobodyUser  = "a0000000-0000-4000-8000-000000000004"
	seller1     = "c0000000-0000-4000-8000-000000000001"
	seller2     = "c0000000-0000-4000-8000-000000000002"
	show1       = "d0000000-0000-4000-8000-000000000001"
	show2       = "d0000000-0000-4000-8000-000000000002"
	noShow      = "d0000000-0000-4000-8000-0000000000ff"
	channel1    = "arn:aws:ivs:us-east-1:123456789012:channel/abcdefghijkl"
	channel2    = "arn:aws:ivs:us-east-1:123456789012:channel/mnopqrstuvwx"
	endpoint1   = "abc.global-contribute.live-video.net"
	key1        = "arn:aws:ivs:us-east-1:123456789012:stream-key/keykeykeykey"
)

// seeded returns show1 as seed stores it.
func seeded() *ingest.Show {
	return &ingest.Show{ID: show1, SellerID: seller1, ChannelARN: channel1, IngestEndpoint: endpoint1, StreamKeyARN: key1}
}

// seed fills s with: an approved seller (sellerUser, seller1) owning show1,
// which has a channel, endpoint and key; a pending seller (pendingUser,
// seller2) owning show2, which has no channel, endpoint or key; and an
// admin (adminUser) without a seller profile.
func seed(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	must(t, "AddSeller(seller1)", s.AddSeller(ctx, seller1, sellerUser, ingest.SellerApproved))
	must(t, "AddSeller(seller2)", s.AddSeller(ctx, seller2, pendingUser, "pending"))
	must(t, "AddAdmin", s.AddAdmin(ctx, adminUser))
	must(t, "AddShow(show1)", s.AddShow(ctx, *seeded()))
	must(t, "AddShow(show2)", s.AddShow(ctx, ingest.Show{ID: show2, SellerID: seller2}))
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// showOf reads a show back through Authorize, as the domain does.
func showOf(t *testing.T, s Store, showID string) *ingest.Show {
	t.Helper()
	q := ingest.AuthzQuery{UserID: sellerUser, ShowID: showID}
	f, err := s.Authorize(context.Background(), q)
	if err != nil {
		t.Fatalf("Authorize(%+v): %v", q, err)
	}
	return f.Show
}

func testAuthorize(t *testing.T, open func(*testing.T) Store) {
	s := open(t)
	seed(t, s)
	show1Facts := seeded()
	noChannel := &ingest.Show{ID: show2, SellerID: seller2}
	approved := &ingest.Seller{ID: seller1, Status: ingest.SellerApproved}
	pending := &ingest.Seller{ID: seller2, Status: "pending"}
	// Neither store in this suite tracks sessions, so every session is
	// active; PostgreSQL's auth.sessions check is tested in its package.
	tests := []struct {
		name string
		q    ingest.AuthzQuery
		want ingest.AuthzFacts
	}{
		{"owner", ingest.AuthzQuery{UserID: sellerUser, ShowID: show1},
			ingest.AuthzFacts{SessionActive: true, Seller: approved, Show: show1Facts}},
		{"pending seller, missing show", ingest.AuthzQuery{UserID: pendingUser, ShowID: noShow},
			ingest.AuthzFacts{SessionActive: true, Seller: pending}},
		{"show without channel", ingest.AuthzQuery{UserID: pendingUser, ShowID: show2},
			ingest.AuthzFacts{SessionActive: true, Seller: pending, Show: noChannel}},
		{"another seller's show", ingest.AuthzQuery{UserID: pendingUser, ShowID: show1},
			ingest.AuthzFacts{SessionActive: true, Seller: pending, Show: show1Facts}},
		{"admin without a seller profile", ingest.AuthzQuery{UserID: adminUser, ShowID: show1},
			ingest.AuthzFacts{SessionActive: true, IsAdmin: true, Show: show1Facts}},
		{"admin impersonating", ingest.AuthzQuery{UserID: adminUser, ShowID: show1, ImpersonatedSellerID: seller2},
			ingest.AuthzFacts{SessionActive: true, IsAdmin: true, Seller: pending, Show: show1Facts}},
		{"seller impersonating", ingest.AuthzQuery{UserID: sellerUser, ShowID: show1, ImpersonatedSellerID: seller2},
			ingest.AuthzFacts{SessionActive: true, Seller: pending, Show: show1Facts}},
		{"impersonating a missing seller", ingest.AuthzQuery{UserID: adminUser, ShowID: show1, ImpersonatedSellerID: noShow},
			ingest.AuthzFacts{SessionActive: true, IsAdmin: true, Show: show1Facts}},
		{"unknown user, missing show", ingest.AuthzQuery{UserID: nobodyUser, ShowID: noShow},
			ingest.AuthzFacts{SessionActive: true}},
		// The domain passes lowercase (httpapi canonicalizes), but a store
		// must not depend on it: PostgreSQL's uuid type does not.
		{"upper-case ids", ingest.AuthzQuery{UserID: strings.ToUpper(adminUser), ShowID: strings.ToUpper(show1), ImpersonatedSellerID: strings.ToUpper(seller1)},
			ingest.AuthzFacts{SessionActive: true, IsAdmin: true, Seller: approved, Show: show1Facts}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Authorize(context.Background(), tt.q)
			if err != nil {
				t.Fatalf("Authorize(%+v): %v", tt.q, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Authorize(%+v) mismatch (-want +got):\n%s", tt.q, diff)
			}
		})
	}
}

func testSeeding(t *testing.T, open func(*testing.T) Store) {
	ctx := context.Background()

	t.Run("rejected", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		seed(t, s)
		tests := []struct {
			name string
			add  func() error
		}{
			{"duplicate seller id", func() error { return s.AddSeller(ctx, seller1, nobodyUser, "pending") }},
			{"second profile of a user", func() error { return s.AddSeller(ctx, noShow, sellerUser, "pending") }},
			{"seller id not a UUID", func() error { return s.AddSeller(ctx, "seller-1", nobodyUser, "pending") }},
			{"user id not a UUID", func() error { return s.AddSeller(ctx, noShow, "user-1", "pending") }},
			{"admin id not a UUID", func() error { return s.AddAdmin(ctx, "admin") }},
			{"duplicate show id", func() error { return s.AddShow(ctx, ingest.Show{ID: show1, SellerID: seller2}) }},
			// A missing seller is only caught if foreign keys are enforced
			// on the connection that writes.
			{"show of a missing seller", func() error { return s.AddShow(ctx, ingest.Show{ID: noShow, SellerID: noShow}) }},
			{"show id not a UUID", func() error { return s.AddShow(ctx, ingest.Show{ID: "show", SellerID: seller1}) }},
		}
		for _, tt := range tests {
			if err := tt.add(); err == nil {
				t.Errorf("%s: error = nil, want an error", tt.name)
			}
		}
		// Nothing rejected was written.
		want := ingest.AuthzFacts{SessionActive: true}
		q := ingest.AuthzQuery{UserID: nobodyUser, ShowID: noShow}
		got, err := s.Authorize(ctx, q)
		if err != nil {
			t.Fatalf("Authorize(%+v): %v", q, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Authorize(%+v) after rejected seeds (-want +got):\n%s", q, diff)
		}
	})

	t.Run("AddAdmin twice", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for i := range 2 {
			if err := s.AddAdmin(ctx, nobodyUser); err != nil {
				t.Fatalf("AddAdmin #%d: %v", i+1, err)
			}
		}
		q := ingest.AuthzQuery{UserID: nobodyUser, ShowID: noShow}
		if f, err := s.Authorize(ctx, q); err != nil || !f.IsAdmin {
			t.Errorf("Authorize(%+v) = %+v, %v; want IsAdmin", q, f, err)
		}
	})

	t.Run("upper-case ids stored canonical", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		up := strings.ToUpper
		must(t, "AddSeller", s.AddSeller(ctx, up(seller1), up(sellerUser), ingest.SellerApproved))
		must(t, "AddAdmin", s.AddAdmin(ctx, up(sellerUser)))
		must(t, "AddShow", s.AddShow(ctx, ingest.Show{ID: up(show1), SellerID: up(seller1), ChannelARN: channel1}))
		q := ingest.AuthzQuery{UserID: sellerUser, ShowID: show1}
		want := ingest.AuthzFacts{
			SessionActive: true, IsAdmin: true,
			Seller: &ingest.Seller{ID: seller1, Status: ingest.SellerApproved},
			Show:   &ingest.Show{ID: show1, SellerID: seller1, ChannelARN: channel1},
		}
		got, err := s.Authorize(ctx, q)
		if err != nil {
			t.Fatalf("Authorize(%+v): %v", q, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Authorize(%+v) mismatch (-want +got):\n%s", q, diff)
		}
	})
}

func testHasSellers(t *testing.T, open func(*testing.T) Store) {
	ctx := context.Background()
	s := open(t)
	if got, err := s.HasSellers(ctx); err != nil || got {
		t.Errorf("HasSellers() on an empty store = %v, %v; want false, nil", got, err)
	}
	must(t, "AddAdmin", s.AddAdmin(ctx, adminUser))
	if got, err := s.HasSellers(ctx); err != nil || got {
		t.Errorf("HasSellers() with only an admin = %v, %v; want false, nil", got, err)
	}
	must(t, "AddSeller", s.AddSeller(ctx, seller1, sellerUser, "pending"))
	if got, err := s.HasSellers(ctx); err != nil || !got {
		t.Errorf("HasSellers() after AddSeller = %v, %v; want true, nil", got, err)
	}
}

func testRecordStreamKey(t *testing.T, open func(*testing.T) Store) {
	ctx := context.Background()
	const (
		newKey      = "arn:aws:ivs:us-east-1:123456789012:stream-key/newnewnewnew"
		newEndpoint = "def.global-contribute.live-video.net"
	)

	t.Run("committed when fn returns nil", func(t *testing.T) {
		t.Parallel()
		s := open(t)
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
		s := open(t)
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
		s := open(t)
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

func testSetIngestEndpoint(t *testing.T, open func(*testing.T) Store) {
	ctx := context.Background()
	s := open(t)
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

func testWithChannelLock(t *testing.T, open func(*testing.T) Store) {
	ctx := context.Background()

	t.Run("one section per channel at a time", func(t *testing.T) {
		t.Parallel()
		s := open(t)
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
		s := open(t)
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
		s := open(t)
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

// The credentials the emulator accepts.
const (
	accessKeyID     = "AKIASTORETESTSTORETE"
	secretAccessKey = "storetestSecretAccessKey/0123456789"
	region          = "us-east-1"
)

// newIVS serves an emulator over HTTP and returns it with the project's IVS
// adapter and a raw SDK client (for acting out of band), both pointed at it.
func newIVS(t *testing.T) (*ivsemu.Emulator, *ivs.Client, *awsivs.Client) {
	t.Helper()
	emu, err := ivsemu.New(ivsemu.Config{Region: region, AccessKeyID: accessKeyID, SecretAccessKey: secretAccessKey})
	if err != nil {
		t.Fatalf("ivsemu.New: %v", err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	adapter, err := ivs.New(context.Background(), ivs.Config{
		Region:          region,
		Endpoint:        srv.URL,
		AccessKeyID:     accessKeyID,
		SecretAccessKey: secret.New(secretAccessKey),
	})
	if err != nil {
		t.Fatalf("ivs.New: %v", err)
	}
	sdk := awsivs.New(awsivs.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, ""),
		BaseEndpoint: aws.String(srv.URL),
	})
	return emu, adapter, sdk
}

// testExactlyOnceCreation fires concurrent first requests for a show whose
// channel has no key through one or more Services ("replicas") sharing the
// store, and checks that IVS is asked to create a key exactly once. The
// emulator allows one key per channel, so a second creation would fail
// anyway and be adopted: the count of CreateStreamKey calls, not of
// successes, is what shows the lock at work.
func testExactlyOnceCreation(t *testing.T, open func(*testing.T) Store) {
	tests := []struct {
		name     string
		replicas int
	}{
		{"one service", 1},
		{"two replicas", 2},
		{"four replicas", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exactlyOnce(t, open(t), tt.replicas)
		})
	}
}

func exactlyOnce(t *testing.T, s Store, replicas int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	emu, adapter, sdk := newIVS(t)
	ch, err := emu.CreateChannel("storetest")
	if err != nil {
		t.Fatalf("CreateChannel: %v", err)
	}
	if _, err := sdk.DeleteStreamKey(ctx, &awsivs.DeleteStreamKeyInput{Arn: aws.String(ch.StreamKey.ARN)}); err != nil {
		t.Fatalf("DeleteStreamKey: %v", err)
	}
	must(t, "AddSeller", s.AddSeller(ctx, seller1, sellerUser, ingest.SellerApproved))
	must(t, "AddShow", s.AddShow(ctx, ingest.Show{ID: show1, SellerID: seller1, ChannelARN: ch.ARN}))
	// Latency widens the race window, as real IVS does.
	emu.SetLatency(20 * time.Millisecond)

	services := make([]*ingest.Service, replicas)
	for i := range services {
		services[i] = ingest.NewService(s, adapter, ingest.Options{})
	}
	const n = 50
	req := ingest.Request{Caller: ingest.Caller{UserID: sellerUser}, ShowID: show1}
	values := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			d, err := services[i%replicas].IngestDetails(ctx, req)
			values[i], errs[i] = d.StreamKey.Reveal(), err
		})
	}
	close(start)
	wg.Wait()

	// Key values are secrets: compare them, report counts only.
	distinct := map[string]bool{}
	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			if failed == 1 {
				t.Errorf("IngestDetails (call %d): %v", i, err)
			}
			continue
		}
		distinct[values[i]] = true
	}
	if failed > 0 {
		t.Errorf("%d of %d concurrent IngestDetails calls failed, want 0", failed, n)
	}
	if len(distinct) != 1 {
		t.Errorf("%d concurrent IngestDetails calls over %d replicas got %d distinct keys, want 1", n, replicas, len(distinct))
	}
	if c := emu.Calls("CreateStreamKey"); c != 1 {
		t.Errorf("CreateStreamKey was called %d times, want 1 (the channel lock lets one creator through)", c)
	}
	if c := emu.Succeeded("CreateStreamKey"); c != 1 {
		t.Errorf("CreateStreamKey succeeded %d times, want 1", c)
	}

	// The store records the channel's one key, and that is the key handed out.
	keys, err := sdk.ListStreamKeys(ctx, &awsivs.ListStreamKeysInput{ChannelArn: aws.String(ch.ARN)})
	if err != nil {
		t.Fatalf("ListStreamKeys: %v", err)
	}
	if len(keys.StreamKeys) != 1 {
		t.Fatalf("channel has %d stream keys, want 1", len(keys.StreamKeys))
	}
	arn := aws.ToString(keys.StreamKeys[0].Arn)
	if got := showOf(t, s, show1); got == nil || got.StreamKeyARN != arn || got.IngestEndpoint != ch.IngestEndpoint {
		t.Errorf("show after the requests = %+v, want key %s and endpoint %s", got, arn, ch.IngestEndpoint)
	}
	key, err := sdk.GetStreamKey(ctx, &awsivs.GetStreamKeyInput{Arn: aws.String(arn)})
	if err != nil {
		t.Fatalf("GetStreamKey: %v", err)
	}
	if v := aws.ToString(key.StreamKey.Value); len(distinct) == 1 && !distinct[v] {
		t.Error("the key handed out is not the channel's key")
	}
}
