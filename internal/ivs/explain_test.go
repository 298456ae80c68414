package ivs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/budget"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ivs"
)

func TestExplain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	emu, client := newEmulated(t, emuSecret)
	ch, err := emu.CreateChannel("explain-test")
	if err != nil {
		t.Fatal(err)
	}
	id, err := client.Identity(ctx)
	if err != nil {
		t.Fatalf("Identity: %v", err)
	}
	for _, tt := range []struct {
		failWith string // the emulator's answer to the next GetChannel
		arn      string
		want     string
	}{
		{"AccessDeniedException", ch.ARN, "the credentials may not call ivs:GetChannel on this channel (AccessDeniedException): attach the policy that `ivs-ingest doctor --policy` prints"},
		{"UnrecognizedClientException", ch.ARN, "AWS does not know the access key ending ST01 or its session token (UnrecognizedClientException): the key was deleted or mistyped, or the session token is wrong"},
		{"", ch.ARN + "-gone", "no such channel in region us-east-1 (ResourceNotFoundException): the show's ivs_channel_arn names a deleted channel, or one in another account or region (AWS_REGION)"},
		{"", "not-an-arn", "IVS refused the ARN (ValidationException: "},
	} {
		t.Run(cmpName(tt.failWith, tt.arn), func(t *testing.T) {
			if tt.failWith != "" {
				emu.FailNext("GetChannel", tt.failWith, 1)
			}
			_, err := client.GetChannel(ctx, tt.arn)
			if err == nil {
				t.Fatal("GetChannel succeeded")
			}
			if got := ivs.Explain(err, emuRegion, id); !strings.HasPrefix(got, tt.want) {
				t.Errorf("Explain(%v) = %q, want %q", err, got, tt.want)
			}
		})
	}

	// A wrong secret: the emulator checks the signature as AWS does.
	_, wrong := newEmulated(t, "not-the-secret-0123456789")
	_, err = wrong.GetChannel(ctx, ch.ARN)
	if got, want := ivs.Explain(err, emuRegion, id), "AWS refused the request signature (InvalidSignatureException): AWS_SECRET_ACCESS_KEY is not the secret of the access key ending ST01; fix it"; got != want {
		t.Errorf("Explain(wrong secret) = %q, want %q", got, want)
	}
	if strings.Contains(fmt.Sprint(err), "not-the-secret") {
		t.Errorf("the error quotes the secret: %v", strings.ReplaceAll(err.Error(), "not-the-secret", "<secret>"))
	}
	// Credentials from elsewhere name their source instead of the variable.
	fromProfile := ivs.Identity{Source: "SharedConfigCredentials: /home/op/.aws/credentials", AccessKeyHint: "WXYZ"}
	if got, want := ivs.Explain(err, emuRegion, fromProfile), "AWS refused the request signature (InvalidSignatureException): the secret of the credentials from SharedConfigCredentials: /home/op/.aws/credentials is not the secret of the access key ending WXYZ; fix it"; got != want {
		t.Errorf("Explain(wrong secret, profile) = %q, want %q", got, want)
	}

	for _, tt := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("get channel: %w: %w", ingest.ErrIVSThrottled, &ingest.BusyError{RetryAfter: ingest.ThrottledRetryAfter}), "IVS throttled the calls through every retry: something else on this account and region spends its 5 calls per second; try again"},
		{fmt.Errorf("get channel: %w", &ingest.BusyError{Err: &budget.ExhaustedError{}}), "the IVS call budget (IVS_MAX_CALLS_PER_SECOND) has no free slot within IVS_BUDGET_WAIT: the replicas are busy; try again"},
		{fmt.Errorf("get channel: %w", context.DeadlineExceeded), "no answer within the doctor's timeout: check that this host reaches the IVS endpoint (get channel: context deadline exceeded)"},
		{errors.New("something else"), "something else"},
	} {
		if got := ivs.Explain(tt.err, emuRegion, id); got != tt.want {
			t.Errorf("Explain(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func cmpName(failWith, arn string) string {
	if failWith != "" {
		return failWith
	}
	return arn
}
