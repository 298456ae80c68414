package ivs

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ivs"

	"github.com/ivs-ingest/ivs-ingest/internal/budget"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ivsemu"
	"github.com/ivs-ingest/ivs-ingest/internal/limit"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

const (
	testRegion = "us-east-1"
	testKeyID  = "AKIDTRANSLATETEST"
	testSecret = "translate-test-secret"
)

// newEmulated returns the adapter over the real SDK client, pointed at a
// fresh emulator, and a channel of it. The SDK's retries keep their number
// but not their backoff, so that a call throttled on every attempt fails
// at once.
func newEmulated(t *testing.T, cfg Config, optFns ...func(*ivs.Options)) (*Client, *ivsemu.Emulator, string) {
	t.Helper()
	emu, err := ivsemu.New(ivsemu.Config{Region: testRegion, AccessKeyID: testKeyID, SecretAccessKey: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	ch, err := emu.CreateChannel("translate")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Region, cfg.Endpoint = testRegion, srv.URL
	cfg.AccessKeyID, cfg.SecretAccessKey = testKeyID, secret.New(testSecret)
	noBackoff := func(o *ivs.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 6
			so.RateLimiter = ratelimit.None
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	}
	client, err := New(context.Background(), cfg, append([]func(*ivs.Options){noBackoff}, optFns...)...)
	if err != nil {
		t.Fatal(err)
	}
	return client, emu, ch.ARN
}

// domainErrors are the errors the domain tells apart in what the adapter
// returns.
var domainErrors = []error{ingest.ErrIVSNotFound, ingest.ErrIVSKeyQuota, ingest.ErrIVSCredentials,
	ingest.ErrIVSNotBroadcasting, ingest.ErrIVSThrottled, ingest.ErrIVSBusy}

// TestTranslate drives each error IVS (or the call budget) gives through the
// real SDK client and checks the domain errors it becomes, and that the
// AWS error stays in the chain for the logs.
func TestTranslate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fail func(e *ivsemu.Emulator) // the fault injected
		call func(ctx context.Context, c ingest.Calls, channelARN string) error
		want []error // the domain errors the result matches; none: an error the domain does not tell apart
		code string  // the AWS error code kept in the chain; "" for none
	}{
		{"ResourceNotFoundException",
			func(e *ivsemu.Emulator) { e.FailNext("GetChannel", "ResourceNotFoundException", 1) },
			getChannel, []error{ingest.ErrIVSNotFound}, "ResourceNotFoundException"},
		{"ServiceQuotaExceededException",
			func(e *ivsemu.Emulator) { e.FailNext("CreateStreamKey", "ServiceQuotaExceededException", 1) },
			func(ctx context.Context, c ingest.Calls, arn string) error {
				_, err := c.CreateStreamKey(ctx, arn)
				return err
			}, []error{ingest.ErrIVSKeyQuota}, "ServiceQuotaExceededException"},
		{"ChannelNotBroadcasting on StopStream",
			func(e *ivsemu.Emulator) { e.FailNext("StopStream", "ChannelNotBroadcasting", 1) },
			func(ctx context.Context, c ingest.Calls, arn string) error { return c.StopStream(ctx, arn) },
			[]error{ingest.ErrIVSNotBroadcasting}, "ChannelNotBroadcasting"},
		{"ThrottlingException on every attempt",
			func(e *ivsemu.Emulator) { e.Fail("GetChannel", "ThrottlingException") },
			getChannel, []error{ingest.ErrIVSThrottled, ingest.ErrIVSBusy}, "ThrottlingException"},
		{"ThrottlingException then success",
			func(e *ivsemu.Emulator) { e.FailNext("GetChannel", "ThrottlingException", 2) },
			getChannel, nil, ""},
		{"AccessDeniedException",
			func(e *ivsemu.Emulator) { e.FailNext("GetChannel", "AccessDeniedException", 1) },
			getChannel, []error{}, "AccessDeniedException"},
		{"InternalServerException on every attempt",
			func(e *ivsemu.Emulator) { e.Fail("DeleteStreamKey", "InternalServerException") },
			func(ctx context.Context, c ingest.Calls, arn string) error {
				return c.DeleteStreamKey(ctx, "arn:aws:ivs:us-east-1:123456789012:stream-key/abcdefghijkl")
			}, []error{}, "InternalServerException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, emu, arn := newEmulated(t, Config{})
			tt.fail(emu)
			calls, err := client.Reserve(context.Background(), ingest.Claim{Calls: 1, ChannelARN: arn, Priority: ingest.Interactive})
			if err != nil {
				t.Fatalf("Reserve without a budget: %v", err)
			}
			err = tt.call(context.Background(), calls, arn)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("call = %v, want success", err)
				}
				return
			}
			if err == nil {
				t.Fatal("call succeeded, want an error")
			}
			checkDomainErrors(t, err, tt.want)
			if code, _ := APIError(err); code != tt.code {
				t.Errorf("AWS error code in the chain = %q, want %q", code, tt.code)
			}
			var busy *ingest.BusyError
			if errors.As(err, &busy) && busy.RetryAfter != ingest.ThrottledRetryAfter {
				t.Errorf("throttled call's RetryAfter = %s, want %s", busy.RetryAfter, ingest.ThrottledRetryAfter)
			}
		})
	}
}

func getChannel(ctx context.Context, c ingest.Calls, arn string) error {
	_, err := c.GetChannel(ctx, arn)
	return err
}

// checkDomainErrors fails t unless err matches exactly the domain errors in
// want.
func checkDomainErrors(t *testing.T, err error, want []error) {
	t.Helper()
	for _, d := range domainErrors {
		if got := errors.Is(err, d); got != slices.Contains(want, d) {
			t.Errorf("errors.Is(%v, %v) = %v, want %v", err, d, got, !got)
		}
	}
}

// A channel that is not live is an answer, not an error.
func TestLiveOfAnOfflineChannel(t *testing.T) {
	t.Parallel()
	client, _, arn := newEmulated(t, Config{})
	calls, err := client.Reserve(context.Background(), ingest.Claim{Calls: 1, ChannelARN: arn, Priority: ingest.Background})
	if err != nil {
		t.Fatal(err)
	}
	if live, err := calls.Live(context.Background(), arn); live || err != nil {
		t.Errorf("Live(offline channel) = %v, %v; want false, nil", live, err)
	}
}

// Credentials that cannot be had are ErrIVSCredentials, whatever the call:
// the operator's problem, told apart from IVS's answers.
func TestTranslateCredentialsFailure(t *testing.T) {
	t.Parallel()
	failing := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no credentials in this test")
	})
	client, emu, arn := newEmulated(t, Config{}, func(o *ivs.Options) { o.Credentials = markedCredentials{failing} })
	calls, err := client.Reserve(context.Background(), ingest.Claim{Calls: 1, ChannelARN: arn})
	if err != nil {
		t.Fatal(err)
	}
	_, err = calls.GetChannel(context.Background(), arn)
	if err == nil {
		t.Fatal("GetChannel without credentials succeeded")
	}
	checkDomainErrors(t, err, []error{ingest.ErrIVSCredentials})
	if n := emu.TotalCalls(); n != 0 {
		t.Errorf("%d calls reached IVS without credentials, want 0", n)
	}
}

// The call budget's refusals: a reservation or a call with no slot within
// the wait allowed is an *ingest.BusyError saying when to come back; a
// seller's spent share passes through as the budget's *limit.LimitedError.
func TestTranslateBudgetRefusals(t *testing.T) {
	t.Parallel()
	// One call every 10 s, no wait: the second of anything is refused.
	calls := budget.New(budget.NewLocal(), 0.1, 0).
		ShareBySeller(limit.NewLocal(), testRegion, limit.Rate{Interval: time.Hour, Burst: budget.MinSellerBurst})
	client, emu, arn := newEmulated(t, Config{Budget: calls})
	// Batch claims wait for a free slot unless their context would end
	// first: this one ends before the next slot is free.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	first, err := client.Reserve(ctx, ingest.Claim{Calls: 1, ChannelARN: arn, Priority: ingest.Batch})
	if err != nil {
		t.Fatalf("first reservation: %v", err)
	}
	if _, err := first.GetChannel(ctx, arn); err != nil {
		t.Fatalf("first reservation's call: %v", err)
	}

	wantBusy := func(what string, err error) {
		t.Helper()
		checkDomainErrors(t, err, []error{ingest.ErrIVSBusy})
		var busy *ingest.BusyError
		if !errors.As(err, &busy) || busy.RetryAfter <= 0 || busy.RetryAfter > 10*time.Second {
			t.Errorf("%s = %v, want an *ingest.BusyError with a retry after within 10s", what, err)
		}
		if !errors.Is(err, budget.ErrExhausted) {
			t.Errorf("%s = %v, want the budget's refusal kept in the chain", what, err)
		}
	}
	_, err = client.Reserve(ctx, ingest.Claim{Calls: 1, ChannelARN: arn, Priority: ingest.Batch})
	wantBusy("a reservation with the budget spent", err)
	// A call beyond its reservation's slots takes one of its own.
	_, err = first.GetChannel(ctx, arn)
	wantBusy("a call beyond its reservation with the budget spent", err)
	_, err = client.GetChannel(ctx, arn)
	wantBusy("a call outside any reservation with the budget spent", err)
	if n := emu.TotalCalls(); n != 1 {
		t.Errorf("IVS saw %d calls, want only the first", n)
	}

	// The seller's share is charged before any slot is reserved.
	seller := ingest.Claim{Calls: budget.MinSellerBurst, SellerID: "seller-1", ChannelARN: arn, Priority: ingest.Interactive}
	if _, err := client.Reserve(ctx, seller); !errors.Is(err, ingest.ErrIVSBusy) {
		t.Fatalf("seller's first reservation = %v, want refused by the spent budget", err)
	}
	unlimited := budget.New(budget.NewLocal(), 0, 0).
		ShareBySeller(limit.NewLocal(), testRegion, limit.Rate{Interval: time.Hour, Burst: budget.MinSellerBurst})
	client, _, arn = newEmulated(t, Config{Budget: unlimited})
	seller.ChannelARN = arn
	if _, err := client.Reserve(ctx, seller); err != nil {
		t.Fatalf("seller's first reservation: %v", err)
	}
	_, err = client.Reserve(ctx, seller)
	var over *limit.LimitedError
	if !errors.As(err, &over) || over.Limit != budget.LimitSellerShare {
		t.Errorf("seller's reservation over their share = %v, want the budget's *limit.LimitedError", err)
	}
	checkDomainErrors(t, err, nil)
	// Background and batch work is charged to no seller.
	for _, p := range []ingest.Priority{ingest.Background, ingest.Batch} {
		c := seller
		c.Priority = p
		if _, err := client.Reserve(ctx, c); err != nil {
			t.Errorf("Reserve(%+v) with the seller's share spent = %v, want reserved", c, err)
		}
	}
}
