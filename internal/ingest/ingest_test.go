package ingest_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsivs "github.com/aws/aws-sdk-go-v2/service/ivs"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ivs"
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
	ctx := context.Background()
	db, err := postgres.Open(ctx, env.DatabaseURL, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	client, err := ivs.New(ctx, ivs.Config{
		Region:          testenv.Region,
		Endpoint:        env.EmulatorURL,
		AccessKeyID:     testenv.AccessKeyID,
		SecretAccessKey: secret.New(testenv.SecretAccessKey),
	})
	if err != nil {
		t.Fatal(err)
	}
	return ingest.NewService(db, client, ingest.Options{Logger: slog.New(slog.DiscardHandler)})
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
		_, err := svc.IngestDetails(context.Background(), tt.req)
		if err != tt.want {
			t.Errorf("%s: IngestDetails() = %v, want %v", tt.name, err, tt.want)
		}
	}
}
