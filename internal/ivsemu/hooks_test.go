package ivsemu

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"
	"github.com/aws/smithy-go"
	"github.com/ivs-ingest/ivs-ingest/internal/testclock"
)

func TestLatency(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, func(c *Config) { c.Latency = 100 * time.Millisecond }, nil)
	client := newClient(url)
	ctx := context.Background()

	start := time.Now()
	if _, err := client.ListChannels(ctx, &ivs.ListChannelsInput{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("ListChannels with Config.Latency 100ms took %v", d)
	}

	emu.SetLatency(250 * time.Millisecond)
	start = time.Now()
	if _, err := client.ListChannels(ctx, &ivs.ListChannelsInput{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("ListChannels with SetLatency(250ms) took %v", d)
	}
}

func TestLatencyHonoursCancellation(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, func(c *Config) { c.Latency = time.Minute }, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := newClient(url, noRetries).ListChannels(ctx, &ivs.ListChannelsInput{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ListChannels = %v, want context.DeadlineExceeded", err)
	}
	// The handler must stop sleeping once the client is gone.
	for time.Since(start) < 10*time.Second {
		if log := emu.CallLog(); len(log) == 1 {
			if log[0].Status != statusClientClosed {
				t.Errorf("call log = %+v, want status %d", log, statusClientClosed)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the handler still sleeps %v after the client gave up", time.Since(start))
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Now())
	emu, url := startEmulator(t, nil, func(e *Emulator) { e.now = clock.Now })
	ch, err := emu.CreateChannel("rl")
	if err != nil {
		t.Fatal(err)
	}
	emu.SetRateLimit(5)
	client := newClient(url, noRetries)
	ctx := context.Background()

	// A burst mixing operations: the window is account-wide.
	call := func(i int) error {
		var err error
		switch i % 3 {
		case 0:
			_, err = client.GetChannel(ctx, &ivs.GetChannelInput{Arn: &ch.ARN})
		case 1:
			_, err = client.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: &ch.StreamKey.ARN})
		case 2:
			_, err = client.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: &ch.ARN})
		}
		return err
	}
	burst := func() (ok, throttled int) {
		for i := range 12 {
			err := call(i)
			var apiErr smithy.APIError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &apiErr) && apiErr.ErrorCode() == "ThrottlingException":
				throttled++
				if httpStatus(err) != 429 {
					t.Errorf("throttled call status = %d, want 429", httpStatus(err))
				}
				// Not modelled for these operations: the SDK returns a
				// generic API error, never *types.ThrottlingException.
				var typed *types.ThrottlingException
				if errors.As(err, &typed) {
					t.Errorf("ThrottlingException surfaced as %T, want smithy.GenericAPIError", err)
				}
			default:
				t.Errorf("call %d = %v", i, err)
			}
		}
		return ok, throttled
	}

	if ok, th := burst(); ok != 5 || th != 7 {
		t.Errorf("12 calls within a second at 5/s: %d ok, %d throttled; want 5 and 7", ok, th)
	}
	clock.Advance(500 * time.Millisecond)
	if err := call(0); errorCode(err) != "ThrottlingException" {
		t.Errorf("call 0.5s later = %v, want ThrottlingException (window is one second)", err)
	}
	clock.Advance(600 * time.Millisecond)
	if ok, th := burst(); ok != 5 || th != 7 {
		t.Errorf("next second: %d ok, %d throttled; want 5 and 7", ok, th)
	}
	if got := emu.Throttled(); got != 15 {
		t.Errorf("Throttled() = %d, want 15", got)
	}
	if got, want := emu.TotalCalls(), 25; got != want {
		t.Errorf("TotalCalls() = %d, want %d (throttled calls count)", got, want)
	}

	emu.SetRateLimit(0)
	for i := range 20 {
		if err := call(i); err != nil {
			t.Fatalf("unlimited: call %d = %v", i, err)
		}
	}
}

func TestInjectedFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		op        string
		inject    func(*Emulator)
		wantCode  string // "" for success
		wantCalls int    // including the SDK's retries
		wantOK    int
	}{
		{"two 500s then success", "GetChannel",
			func(e *Emulator) { e.FailNext("GetChannel", "InternalServerException", 2) }, "", 3, 1},
		{"three 500s exhaust retries", "GetChannel",
			func(e *Emulator) { e.FailNext("GetChannel", "InternalServerException", 3) }, "InternalServerException", 3, 0},
		{"persistent throttling", "GetStreamKey",
			func(e *Emulator) { e.Fail("GetStreamKey", "ThrottlingException") }, "ThrottlingException", 3, 0},
		{"client errors are not retried", "CreateStreamKey",
			func(e *Emulator) { e.Fail("CreateStreamKey", "AccessDeniedException") }, "AccessDeniedException", 1, 0},
		{"FailNext before Fail", "GetStreamKey", func(e *Emulator) {
			e.Fail("GetStreamKey", "ServiceUnavailable")
			e.FailNext("GetStreamKey", "ResourceNotFoundException", 1)
		}, "ResourceNotFoundException", 1, 0},
		{"cleared", "GetChannel", func(e *Emulator) {
			e.Fail("GetChannel", "InternalServerException")
			e.ClearFailures()
		}, "", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu, url := startEmulator(t, nil, nil)
			ch, err := emu.CreateChannel("f")
			if err != nil {
				t.Fatal(err)
			}
			tt.inject(emu)
			client := newClient(url)
			ctx := context.Background()
			switch tt.op {
			case "GetChannel":
				_, err = client.GetChannel(ctx, &ivs.GetChannelInput{Arn: &ch.ARN})
			case "GetStreamKey":
				_, err = client.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: &ch.StreamKey.ARN})
			case "CreateStreamKey":
				_, err = client.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: &ch.ARN})
			}
			if got := errorCode(err); got != tt.wantCode {
				t.Errorf("%s = %v, want code %q", tt.op, err, tt.wantCode)
			}
			if got := emu.Calls(tt.op); got != tt.wantCalls {
				t.Errorf("Calls(%s) = %d, want %d", tt.op, got, tt.wantCalls)
			}
			if got := emu.Succeeded(tt.op); got != tt.wantOK {
				t.Errorf("Succeeded(%s) = %d, want %d", tt.op, got, tt.wantOK)
			}
			if emu.Throttled() != 0 {
				t.Errorf("Throttled() = %d, want 0: injected failures are not rate limiting", emu.Throttled())
			}
		})
	}
}

func TestInjectedTypedErrors(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil, nil)
	ch, err := emu.CreateChannel("typed")
	if err != nil {
		t.Fatal(err)
	}
	emu.FailNext("DeleteStreamKey", "PendingVerification", 1)
	_, err = newClient(url).DeleteStreamKey(context.Background(), &ivs.DeleteStreamKeyInput{Arn: &ch.StreamKey.ARN})
	var pv *types.PendingVerification
	if !errors.As(err, &pv) || httpStatus(err) != 403 {
		t.Errorf("DeleteStreamKey = %v, want 403 *types.PendingVerification", err)
	}
}

func TestHookNamesAreChecked(t *testing.T) {
	t.Parallel()
	emu, _ := startEmulator(t, nil, nil)
	tests := []struct {
		name string
		call func()
	}{
		{"Calls unknown op", func() { emu.Calls("GetChanel") }},
		{"Succeeded unknown op", func() { emu.Succeeded("Nope") }},
		{"FailNext unknown op", func() { emu.FailNext("GetChanel", "ThrottlingException", 1) }},
		{"FailNext unknown error", func() { emu.FailNext("GetChannel", "Throttling", 1) }},
		{"Fail unknown error", func() { emu.Fail("GetChannel", "TooBad") }},
	}
	for _, tt := range tests {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", tt.name)
				}
			}()
			tt.call()
		}()
	}
}

func TestCountsAndCallLog(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil, nil)
	client := newClient(url)
	ctx := context.Background()
	ch, err := emu.CreateChannel("counted")
	if err != nil {
		t.Fatal(err)
	}
	if emu.TotalCalls() != 0 {
		t.Errorf("TotalCalls() after the seeding hook = %d, want 0", emu.TotalCalls())
	}
	before := time.Now()
	if _, err := client.GetChannel(ctx, &ivs.GetChannelInput{Arn: &ch.ARN}); err != nil {
		t.Fatal(err)
	}
	_, _ = client.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: &ch.ARN}) // 402
	bad := newClient(url, func(o *ivs.Options) {
		o.Credentials = aws.NewCredentialsCache(staticCreds{testKeyID, "wrong"})
	})
	_, _ = bad.GetChannel(ctx, &ivs.GetChannelInput{Arn: &ch.ARN}) // 403

	want := []Call{
		{Op: "GetChannel", Status: 200},
		{Op: "CreateStreamKey", Status: 402, Error: "ServiceQuotaExceededException"},
		{Op: "GetChannel", Status: 403, Error: "InvalidSignatureException"},
	}
	log := emu.CallLog()
	if len(log) != len(want) {
		t.Fatalf("CallLog() = %+v, want %d calls", log, len(want))
	}
	for i, c := range log {
		if c.Op != want[i].Op || c.Status != want[i].Status || c.Error != want[i].Error || c.At.Before(before.Add(-time.Second)) {
			t.Errorf("CallLog()[%d] = %+v, want %+v", i, c, want[i])
		}
	}
	counts := []struct {
		op              string
		calls, succeeds int
	}{
		{"GetChannel", 2, 1},
		{"CreateStreamKey", 1, 0},
		{"DeleteChannel", 0, 0},
	}
	for _, c := range counts {
		if got := emu.Calls(c.op); got != c.calls {
			t.Errorf("Calls(%s) = %d, want %d", c.op, got, c.calls)
		}
		if got := emu.Succeeded(c.op); got != c.succeeds {
			t.Errorf("Succeeded(%s) = %d, want %d", c.op, got, c.succeeds)
		}
	}
	if emu.TotalCalls() != 3 {
		t.Errorf("TotalCalls() = %d, want 3", emu.TotalCalls())
	}

	emu.ResetCounts()
	if emu.TotalCalls() != 0 || emu.Calls("GetChannel") != 0 || len(emu.CallLog()) != 0 {
		t.Errorf("after ResetCounts: TotalCalls %d, Calls(GetChannel) %d, CallLog %d entries; want zeros",
			emu.TotalCalls(), emu.Calls("GetChannel"), len(emu.CallLog()))
	}
}

type staticCreds struct{ id, secret string }

func (s staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: s.id, SecretAccessKey: s.secret, Source: "test"}, nil
}

func TestCallLogIsBounded(t *testing.T) {
	t.Parallel()
	emu, _ := startEmulator(t, nil, nil)
	for i := range maxCallLog + 10 {
		emu.record("GetChannel", time.Unix(int64(i), 0), response{status: 200})
	}
	log := emu.CallLog()
	if len(log) > maxCallLog {
		t.Fatalf("CallLog() has %d entries, want at most %d", len(log), maxCallLog)
	}
	if last := log[len(log)-1].At.Unix(); last != maxCallLog+9 {
		t.Errorf("newest entry at %d, want %d", last, maxCallLog+9)
	}
	if emu.Calls("GetChannel") != maxCallLog+10 {
		t.Errorf("Calls(GetChannel) = %d, want %d: counts are not bounded", emu.Calls("GetChannel"), maxCallLog+10)
	}
}
