package ivs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/ivs-ingest/ivs-ingest/internal/budget"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

var _ ingest.IVS = (*Client)(nil)

// Reserve implements ingest.IVS over the client's budget: an interactive
// claim is charged to its seller's share first (a spent share refuses it
// with the budget's *limit.LimitedError), then its slots are reserved (a
// budget with no slot within its wait refuses it with an *ingest.BusyError).
// Without a budget, the calls are not spaced.
func (c *Client) Reserve(ctx context.Context, claim ingest.Claim) (ingest.Calls, error) {
	if c.budget == nil {
		return calls{c: c}, nil
	}
	r, err := c.budget.Reserve(ctx, budget.Claim{Calls: claim.Calls, SellerID: claim.SellerID, Priority: priority(claim.Priority)})
	if err != nil {
		return nil, translate(err)
	}
	return calls{c: c, r: r}, nil
}

// priority is the budget's name for p.
func priority(p ingest.Priority) budget.Priority {
	switch p {
	case ingest.Interactive:
		return budget.Interactive
	case ingest.Background:
		return budget.Background
	}
	return budget.Batch
}

// calls are IVS calls drawing on one reservation r; with r nil, each
// attempt reserves a slot of its own (when the client has a budget).
type calls struct {
	c *Client
	r *budget.Reservation
}

// Ready implements ingest.Calls.
func (k calls) Ready(ctx context.Context) error {
	if k.r == nil {
		return nil
	}
	return k.r.Ready(ctx)
}

// Delay implements ingest.Calls.
func (k calls) Delay() time.Duration {
	if k.r == nil {
		return 0
	}
	return k.r.Delay()
}

// Hold implements ingest.Calls.
func (k calls) Hold(wait time.Duration) {
	if k.r != nil {
		k.r.Hold(wait)
	}
}

// Requeue implements ingest.Calls.
func (k calls) Requeue(ctx context.Context) (ingest.Calls, error) {
	if k.r == nil {
		return k, nil
	}
	r, err := k.r.Requeue(ctx)
	if err != nil {
		return nil, translate(err)
	}
	return calls{c: k.c, r: r}, nil
}

// Missed implements ingest.Calls.
func (k calls) Missed() bool { return k.r != nil && k.r.Missed() }

// Release implements ingest.Calls.
func (k calls) Release(ctx context.Context) error {
	if k.r == nil {
		return nil
	}
	return k.r.Release(ctx)
}

// withSlots makes a call's every attempt wait for its slot of r (one slot
// of its own when r is nil). It runs after the retry middleware, so retries
// are counted too, and before signing, so a long wait cannot outlive the
// signature.
func (c *Client) withSlots(r *budget.Reservation) func(*ivs.Options) {
	return func(o *ivs.Options) {
		if c.budget == nil {
			return
		}
		mw := middleware.FinalizeMiddlewareFunc("IVSCallBudget", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			slot := r
			if slot == nil {
				var err error
				// An operator's command (doctor, dev): it waits for a free
				// slot, behind every seller.
				if slot, err = c.budget.Reserve(ctx, budget.Claim{Calls: 1, Priority: budget.Batch}); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, err
				}
			}
			if err := slot.Wait(ctx); err != nil {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, err
			}
			return next.HandleFinalize(ctx, in)
		})
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Finalize.Insert(mw, "Retry", middleware.After)
		})
	}
}

// GetChannel implements ingest.Calls.
func (k calls) GetChannel(ctx context.Context, arn string) (ingest.Channel, error) {
	out, err := k.c.api.GetChannel(ctx, &ivs.GetChannelInput{Arn: aws.String(arn)}, k.c.withSlots(k.r))
	if err != nil {
		return ingest.Channel{}, translate(err)
	}
	if out.Channel == nil {
		return ingest.Channel{}, errors.New("ivs: GetChannel returned no channel")
	}
	ch := ingest.Channel{
		ARN:            aws.ToString(out.Channel.Arn),
		IngestEndpoint: aws.ToString(out.Channel.IngestEndpoint),
	}
	if srt := out.Channel.Srt; srt != nil {
		ch.SRT = ingest.SRT{Endpoint: aws.ToString(srt.Endpoint), Passphrase: secret.New(aws.ToString(srt.Passphrase))}
	}
	return ch, nil
}

// GetStreamKey implements ingest.Calls.
func (k calls) GetStreamKey(ctx context.Context, arn string) (ingest.StreamKey, error) {
	out, err := k.c.api.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: aws.String(arn)}, k.c.withSlots(k.r))
	if err != nil {
		return ingest.StreamKey{}, translate(err)
	}
	return streamKey(out.StreamKey)
}

// ListStreamKeys implements ingest.Calls, reading every page.
func (k calls) ListStreamKeys(ctx context.Context, channelARN string) ([]string, error) {
	var arns []string
	p := ivs.NewListStreamKeysPaginator(k.c.api, &ivs.ListStreamKeysInput{
		ChannelArn: aws.String(channelARN),
		MaxResults: aws.Int32(50),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx, k.c.withSlots(k.r))
		if err != nil {
			return nil, translate(err)
		}
		for _, key := range page.StreamKeys {
			arns = append(arns, aws.ToString(key.Arn))
		}
	}
	return arns, nil
}

// CreateStreamKey implements ingest.Calls.
func (k calls) CreateStreamKey(ctx context.Context, channelARN string) (ingest.StreamKey, error) {
	out, err := k.c.api.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: aws.String(channelARN)}, k.c.withSlots(k.r))
	if err != nil {
		return ingest.StreamKey{}, translate(err)
	}
	return streamKey(out.StreamKey)
}

// DeleteStreamKey implements ingest.Calls.
func (k calls) DeleteStreamKey(ctx context.Context, arn string) error {
	if _, err := k.c.api.DeleteStreamKey(ctx, &ivs.DeleteStreamKeyInput{Arn: aws.String(arn)}, k.c.withSlots(k.r)); err != nil {
		return translate(err)
	}
	return nil
}

// StopStream implements ingest.Calls.
func (k calls) StopStream(ctx context.Context, channelARN string) error {
	if _, err := k.c.api.StopStream(ctx, &ivs.StopStreamInput{ChannelArn: aws.String(channelARN)}, k.c.withSlots(k.r)); err != nil {
		return translate(err)
	}
	return nil
}

// Live implements ingest.Calls.
func (k calls) Live(ctx context.Context, channelARN string) (bool, error) {
	_, err := k.c.api.GetStream(ctx, &ivs.GetStreamInput{ChannelArn: aws.String(channelARN)}, k.c.withSlots(k.r))
	var notBroadcasting *types.ChannelNotBroadcasting
	switch {
	case errors.As(err, &notBroadcasting):
		return false, nil
	case err != nil:
		return false, translate(err)
	}
	return true, nil
}

// The operations outside a reservation, for doctor and dev: each attempt
// takes a slot of its own, as a Batch claim.

// GetChannel reads a channel.
func (c *Client) GetChannel(ctx context.Context, arn string) (ingest.Channel, error) {
	return calls{c: c}.GetChannel(ctx, arn)
}

// GetStreamKey reads a stream key.
func (c *Client) GetStreamKey(ctx context.Context, arn string) (ingest.StreamKey, error) {
	return calls{c: c}.GetStreamKey(ctx, arn)
}

// ListStreamKeys returns the ARNs of every key of the channel.
func (c *Client) ListStreamKeys(ctx context.Context, channelARN string) ([]string, error) {
	return calls{c: c}.ListStreamKeys(ctx, channelARN)
}

// CreateStreamKey creates a key for the channel.
func (c *Client) CreateStreamKey(ctx context.Context, channelARN string) (ingest.StreamKey, error) {
	return calls{c: c}.CreateStreamKey(ctx, channelARN)
}

// DeleteStreamKey deletes a key.
func (c *Client) DeleteStreamKey(ctx context.Context, arn string) error {
	return calls{c: c}.DeleteStreamKey(ctx, arn)
}

// StopStream ends the channel's live stream.
func (c *Client) StopStream(ctx context.Context, channelARN string) error {
	return calls{c: c}.StopStream(ctx, channelARN)
}

// Live reports whether the channel is broadcasting.
func (c *Client) Live(ctx context.Context, channelARN string) (bool, error) {
	return calls{c: c}.Live(ctx, channelARN)
}

func streamKey(k *types.StreamKey) (ingest.StreamKey, error) {
	if k == nil || aws.ToString(k.Arn) == "" || aws.ToString(k.Value) == "" {
		return ingest.StreamKey{}, errors.New("ivs: response carried no stream key")
	}
	return ingest.StreamKey{
		ARN:        aws.ToString(k.Arn),
		ChannelARN: aws.ToString(k.ChannelArn),
		Value:      secret.New(aws.ToString(k.Value)),
	}, nil
}

// translate maps the SDK's typed errors, and the budget's refusals, to the
// domain's, keeping the original error (operation, status, request id;
// never a key value) in the chain.
func translate(err error) error {
	var (
		notFound        *types.ResourceNotFoundException
		quota           *types.ServiceQuotaExceededException
		notBroadcasting *types.ChannelNotBroadcasting
		exhausted       *budget.ExhaustedError
	)
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &exhausted):
		// No call slot within the wait allowed: the caller is told when
		// one would be free.
		return &ingest.BusyError{RetryAfter: exhausted.RetryAfter, Err: err}
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "ThrottlingException":
		// Still throttled after every retry: the caller is told to come
		// back, like a request that would wait too long for budget.
		return fmt.Errorf("%w: %w", ingest.ErrIVSThrottled, &ingest.BusyError{RetryAfter: ingest.ThrottledRetryAfter, Err: err})
	case errors.As(err, &notBroadcasting):
		return fmt.Errorf("%w: %w", ingest.ErrIVSNotBroadcasting, err)
	case errors.As(err, &notFound):
		return fmt.Errorf("%w: %w", ingest.ErrIVSNotFound, err)
	case errors.As(err, &quota):
		return fmt.Errorf("%w: %w", ingest.ErrIVSKeyQuota, err)
	}
	return err
}
