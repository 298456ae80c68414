package ingest_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsivs "github.com/aws/aws-sdk-go-v2/service/ivs"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ivs"
	"github.com/ivs-ingest/ivs-ingest/internal/limit"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

func TestNormalizeEndpoint(t *testing.T) {
	t.Parallel()
	const host = "a1b2c3d4e5f6.global-contribute.live-video.net"
	for _, in := range []string{
		host,
		"rtmps://" + host + ":443/app/",
		"rtmps://" + host + ":443/app",
		"rtmp://" + host + "/app/",
		host + ":443",
		"  RTMPS://" + host + ":443/app/  ",
	} {
		if got := ingest.NormalizeEndpoint(in); got != host {
			t.Errorf("NormalizeEndpoint(%q) = %q, want %q", in, got, host)
		}
	}
	if got := ingest.NormalizeEndpoint(""); got != "" {
		t.Errorf("NormalizeEndpoint(\"\") = %q, want \"\"", got)
	}
}

// newService builds the domain service over the real store and the real IVS
// client pointed at env's emulator.
func newService(t *testing.T, env *testenv.Env) *ingest.Service {
	t.Helper()
	db, err := postgres.Open(context.Background(), env.DatabaseURL, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return ingest.NewService(db, newIVS(t, env), ingest.Options{Logger: slog.New(slog.DiscardHandler)})
}

// limitsIn makes the service's rate limits in src, as the app does.
func limitsIn(src limit.Source) ingest.RateLimits {
	return func(name string, interval time.Duration, burst int) ingest.Limiter {
		return limit.New(src, name, limit.Rate{Interval: interval, Burst: burst})
	}
}

// newIVS is the project's IVS adapter pointed at env's emulator.
func newIVS(t *testing.T, env *testenv.Env) *ivs.Client {
	t.Helper()
	client, err := ivs.New(context.Background(), ivs.Config{
		Region:          testenv.Region,
		Endpoint:        env.EmulatorURL,
		AccessKeyID:     testenv.AccessKeyID,
		SecretAccessKey: secret.New(testenv.SecretAccessKey),
	})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// A creator outside the replicas sharing the lock (an operator, a script)
// makes the channel's key between the service's ListStreamKeys and its
// CreateStreamKey: IVS answers 402 and the service returns that key.
func TestQuotaRaceAdoptsTheOtherCreatorsKey(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := newService(t, env)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)

	var outsider string
	env.Emulator.BeforeNext("CreateStreamKey", func() {
		out, err := env.IVS.CreateStreamKey(context.Background(), &awsivs.CreateStreamKeyInput{ChannelArn: aws.String(show.ChannelARN)})
		if err != nil {
			t.Errorf("outsider's CreateStreamKey: %v", err)
			return
		}
		outsider = aws.ToString(out.StreamKey.Value)
	})
	d, err := svc.IngestDetails(context.Background(), ingest.Request{
		Caller: ingest.Caller{UserID: owner.ID},
		ShowID: show.ID,
	})
	if err != nil {
		t.Fatalf("IngestDetails: %v", err)
	}
	if outsider == "" || d.StreamKey.Reveal() != outsider {
		t.Error("IngestDetails did not return the key the outsider created")
	}
	if got, want := env.Emulator.Calls("CreateStreamKey"), 2; got != want {
		t.Errorf("CreateStreamKey calls = %d, want %d (the outsider's and the service's refused one)", got, want)
	}
	if got := env.Emulator.Succeeded("CreateStreamKey"); got != 1 {
		t.Errorf("CreateStreamKey successes = %d, want 1", got)
	}
}

// The checks run in the error table's order: with several things wrong,
// the first row that applies decides.
func TestAuthorizationOrder(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := newService(t, env)
	pending := env.Seller(t, "pending")
	otherPending := env.Seller(t, "pending")
	othersShow := env.Show(t, otherPending, false)
	user := env.User(t)
	admin := env.Admin(t)

	tests := []struct {
		name string
		req  ingest.Request
		want error
	}{
		{"impersonation by a non-admin beats a missing seller",
			ingest.Request{Caller: ingest.Caller{UserID: user.ID}, ShowID: testenv.NewID(t), ImpersonateSellerID: testenv.NewID(t)},
			ingest.ErrImpersonationDenied},
		{"missing seller beats a missing show",
			ingest.Request{Caller: ingest.Caller{UserID: user.ID}, ShowID: testenv.NewID(t)},
			ingest.ErrSellerNotFound},
		{"not approved beats a missing show",
			ingest.Request{Caller: ingest.Caller{UserID: pending.ID}, ShowID: testenv.NewID(t)},
			ingest.ErrSellerNotApproved},
		{"not approved beats not owning the show",
			ingest.Request{Caller: ingest.Caller{UserID: pending.ID}, ShowID: othersShow.ID},
			ingest.ErrSellerNotApproved},
		{"an impersonating admin skips approval but not ownership",
			ingest.Request{Caller: ingest.Caller{UserID: admin.ID}, ShowID: othersShow.ID, ImpersonateSellerID: pending.SellerID},
			ingest.ErrNotShowOwner},
		{"ownership beats a missing channel",
			ingest.Request{Caller: ingest.Caller{UserID: admin.ID}, ShowID: othersShow.ID, ImpersonateSellerID: otherPending.SellerID},
			ingest.ErrNoChannel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := svc.IngestDetails(context.Background(), tt.req); !errors.Is(err, tt.want) {
				t.Errorf("IngestDetails(%+v) = %v, want %v", tt.req, err, tt.want)
			}
		})
	}
}

func TestCacheTTLBoundsHowLongADeletedKeyIsServed(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	db, err := postgres.Open(context.Background(), env.DatabaseURL, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	svc := ingest.NewService(db, newIVS(t, env), ingest.Options{KeyCacheTTL: time.Minute, Now: clock})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	req := ingest.Request{Caller: ingest.Caller{UserID: owner.ID}, ShowID: show.ID}
	get := func(what string) string {
		t.Helper()
		d, err := svc.IngestDetails(context.Background(), req)
		if err != nil {
			t.Fatalf("%s: IngestDetails: %v", what, err)
		}
		return d.StreamKey.Reveal()
	}

	first := get("first request")
	out, err := env.IVS.ListStreamKeys(context.Background(), &awsivs.ListStreamKeysInput{ChannelArn: aws.String(show.ChannelARN)})
	if err != nil || len(out.StreamKeys) != 1 {
		t.Fatalf("ListStreamKeys = %v, %v; want the one key", out, err)
	}
	if _, err := env.IVS.DeleteStreamKey(context.Background(), &awsivs.DeleteStreamKeyInput{Arn: out.StreamKeys[0].Arn}); err != nil {
		t.Fatal(err)
	}
	calls := env.Emulator.TotalCalls()
	advance(59 * time.Second)
	if get("within the TTL") != first {
		t.Error("within the TTL the cached key should still be served")
	}
	if n := env.Emulator.TotalCalls() - calls; n != 0 {
		t.Errorf("within the TTL: %d IVS calls, want 0", n)
	}
	advance(2 * time.Second)
	if get("after the TTL") == first {
		t.Error("after the TTL the deleted key was still served")
	}
}

// Throttled CreateStreamKey calls are retried by the SDK; however many
// attempts it takes, one key is created and everyone gets it.
func TestThrottledCreationStillCreatesOneKey(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := newService(t, env)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	env.Emulator.FailNext("CreateStreamKey", "ThrottlingException", 2)

	keys := make(chan string, 20)
	for range 20 {
		go func() {
			d, err := svc.IngestDetails(context.Background(), ingest.Request{Caller: ingest.Caller{UserID: owner.ID}, ShowID: show.ID})
			if err != nil {
				t.Errorf("IngestDetails: %v", err)
			}
			keys <- d.StreamKey.Reveal()
		}()
	}
	distinct := map[string]bool{}
	for range 20 {
		distinct[<-keys] = true
	}
	if len(distinct) != 1 {
		t.Errorf("20 requests got %d distinct keys, want 1", len(distinct))
	}
	if got := env.Emulator.Calls("CreateStreamKey"); got != 3 {
		t.Errorf("CreateStreamKey attempts = %d, want 3 (two throttled, one created)", got)
	}
	if got := env.Emulator.Succeeded("CreateStreamKey"); got != 1 {
		t.Errorf("CreateStreamKey successes = %d, want 1", got)
	}
}
