package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsivs "github.com/aws/aws-sdk-go-v2/service/ivs"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ivs"
	"github.com/ivs-ingest/ivs-ingest/internal/ivsemu"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

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
func testExactlyOnceCreation(t *testing.T, open Opener) {
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
			exactlyOnce(t, open(t, time.Now), tt.replicas)
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

// The limit is exact under concurrency: 20 racing sections reserving with a
// limit of 10 leave exactly 10. A reservation counts only when its section
// commits, and one cancelled in its section frees its place.
func testKeyCreationLimit(t *testing.T, open Opener) {
	s := open(t, time.Now)
	ctx := context.Background()
	reserve := func(channel, seller string, fail error) (id int64, retry time.Duration, err error) {
		err = s.WithChannelLock(ctx, channel, func(tx ingest.ChannelTx) error {
			var rerr error
			id, retry, rerr = tx.ReserveKeyCreation(ctx, seller, 10, time.Hour)
			if rerr != nil {
				return rerr
			}
			return fail
		})
		return id, retry, err
	}
	var (
		mu      sync.Mutex
		granted []int64
		refused int
		wg      sync.WaitGroup
	)
	for i := range 20 {
		wg.Go(func() {
			id, retry, err := reserve(fmt.Sprintf("%s-%d", channel1, i), seller1, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("ReserveKeyCreation: %v", err)
			case id == 0:
				refused++
				if retry <= 0 || retry > time.Hour {
					t.Errorf("refused with retry after %v, want within the hour", retry)
				}
			default:
				granted = append(granted, id)
			}
		})
	}
	wg.Wait()
	if len(granted) != 10 || refused != 10 {
		t.Fatalf("20 racing reservations with a limit of 10: %d granted, %d refused; want 10 and 10", len(granted), refused)
	}
	if wait, err := s.KeyCreationWait(ctx, seller1, 10, time.Hour); err != nil || wait <= 0 || wait > time.Hour {
		t.Errorf("KeyCreationWait at the limit = %v, %v; want within the hour", wait, err)
	}
	if wait, err := s.KeyCreationWait(ctx, seller1, 11, time.Hour); err != nil || wait != 0 {
		t.Errorf("KeyCreationWait under the limit = %v, %v; want 0", wait, err)
	}
	err := s.WithChannelLock(ctx, channel1, func(tx ingest.ChannelTx) error {
		return tx.CancelKeyCreation(ctx, granted[0])
	})
	must(t, "CancelKeyCreation", err)
	// A section that fails takes its reservation with it.
	boom := errors.New("boom")
	if _, _, err := reserve(channel1, seller1, boom); !errors.Is(err, boom) {
		t.Fatalf("failing section = %v, want its error", err)
	}
	if id, _, err := reserve(channel1, seller1, nil); err != nil || id == 0 {
		t.Errorf("ReserveKeyCreation after a cancel and a failed section = %d, %v; want a place", id, err)
	}
	if id, _, err := reserve(channel2, seller2, nil); err != nil || id == 0 {
		t.Errorf("another seller's ReserveKeyCreation = %d, %v; want a place", id, err)
	}
}
