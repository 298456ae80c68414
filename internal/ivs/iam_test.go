package ivs_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ivs-ingest/ivs-ingest/internal/ivs"
	"github.com/ivs-ingest/ivs-ingest/internal/ivsemu"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// The emulator's only credentials in this package's tests.
const (
	emuRegion = "us-east-1"
	emuKeyID  = "AKIAIVSPACKAGETEST01"
	emuSecret = "ivs-package-test-secret/0123456789"
)

// newEmulated returns an emulator served over HTTP and a Client reaching it
// with the real SDK, signing with secretKey.
func newEmulated(t *testing.T, secretKey string) (*ivsemu.Emulator, *ivs.Client) {
	t.Helper()
	emu, err := ivsemu.New(ivsemu.Config{Region: emuRegion, AccessKeyID: emuKeyID, SecretAccessKey: emuSecret})
	if err != nil {
		t.Fatalf("ivsemu.New: %v", err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	client, err := ivs.New(context.Background(), ivs.Config{
		Region: emuRegion, Endpoint: srv.URL, AccessKeyID: emuKeyID, SecretAccessKey: secret.New(secretKey),
	})
	if err != nil {
		t.Fatalf("ivs.New: %v", err)
	}
	return emu, client
}

// TestRequiredActionsAreTheCallsMade makes every call the service makes
// through the adapter and checks that the IAM list names exactly the
// operations that reached IVS: an action missing from the list would be
// an AccessDenied in production, one too many a needless grant.
func TestRequiredActionsAreTheCallsMade(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	emu, client := newEmulated(t, emuSecret)
	ch, err := emu.CreateChannel("iam-test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetChannel(ctx, ch.ARN); err != nil {
		t.Fatalf("GetChannel: %v", err)
	}
	arns, err := client.ListStreamKeys(ctx, ch.ARN)
	if err != nil || len(arns) != 1 {
		t.Fatalf("ListStreamKeys = %v, %v; want the channel's one key", arns, err)
	}
	if _, err := client.GetStreamKey(ctx, arns[0]); err != nil {
		t.Fatalf("GetStreamKey: %v", err)
	}
	if err := client.DeleteStreamKey(ctx, arns[0]); err != nil {
		t.Fatalf("DeleteStreamKey: %v", err)
	}
	if _, err := client.CreateStreamKey(ctx, ch.ARN); err != nil {
		t.Fatalf("CreateStreamKey: %v", err)
	}
	if live, err := client.Live(ctx, ch.ARN); err != nil || live {
		t.Fatalf("Live = %v, %v; want an offline channel", live, err)
	}
	_ = client.StopStream(ctx, ch.ARN) // offline: IVS answers ChannelNotBroadcasting, after checking the grant
	// reconcile-streams' ListStreams.
	if _, err := client.LiveStreams(ctx, emuRegion); err != nil {
		t.Fatalf("LiveStreams: %v", err)
	}

	var called []string
	for _, c := range emu.CallLog() {
		if op := "ivs:" + c.Op; !slices.Contains(called, op) {
			called = append(called, op)
		}
	}
	want := ivs.RequiredActions(true)
	slices.Sort(called)
	slices.Sort(want)
	if diff := cmp.Diff(want, called); diff != "" {
		t.Errorf("RequiredActions(true) vs the operations the adapter called (-list +called):\n%s", diff)
	}
}

func TestRequiredActions(t *testing.T) {
	t.Parallel()
	without := ivs.RequiredActions(false)
	with := ivs.RequiredActions(true)
	if slices.Contains(without, "ivs:GetStream") || !slices.Contains(with, "ivs:GetStream") {
		t.Errorf("RequiredActions(false) = %v, RequiredActions(true) = %v; want ivs:GetStream only with key expiry", without, with)
	}
	var byNeed []string
	for _, n := range []ivs.Need{ivs.NeedKeys, ivs.NeedRotation, ivs.NeedExpiry, ivs.NeedStreamStatus} {
		byNeed = append(byNeed, ivs.Actions(n)...)
	}
	if diff := cmp.Diff(with, byNeed); diff != "" {
		t.Errorf("RequiredActions(true) is not the needs' actions in order (-all +needs):\n%s", diff)
	}
	// reconcile-streams works on demand, whatever STREAM_KEY_MAX_AGE.
	if !slices.Contains(without, "ivs:ListStreams") || !slices.Contains(with, "ivs:ListStreams") {
		t.Errorf("RequiredActions(false) = %v, RequiredActions(true) = %v; want ivs:ListStreams in both", without, with)
	}
	// Actions and QueueActions hand out a copy: a caller cannot change the
	// list.
	a := ivs.Actions(ivs.NeedKeys)
	a[0] = "ivs:DeleteChannel"
	if ivs.Actions(ivs.NeedKeys)[0] != "ivs:GetChannel" {
		t.Error("changing Actions' answer changed the list")
	}
	q := ivs.QueueActions()
	q[0] = "sqs:DeleteQueue"
	if want := []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"}; !slices.Equal(ivs.QueueActions(), want) {
		t.Errorf("QueueActions() = %v, want %v", ivs.QueueActions(), want)
	}
}
