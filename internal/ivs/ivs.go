// Package ivs adapts the aws-sdk-go-v2 Amazon IVS client to the calls the
// ingest domain makes, and translates its errors into the domain's.
package ivs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/ivs-ingest/ivs-ingest/internal/budget"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// Config says how to reach IVS.
type Config struct {
	Region string
	// Endpoint overrides the IVS endpoint (AWS_ENDPOINT_URL_IVS); "" for AWS's.
	Endpoint string
	// AccessKeyID and SecretAccessKey, when both are set, are used as static
	// credentials, as the SDK's default chain would use them from the
	// environment. Otherwise the default chain (profiles, web identity,
	// container and instance roles) resolves credentials.
	AccessKeyID     string
	SecretAccessKey secret.String
	SessionToken    secret.String
	// AttemptTimeout bounds each HTTP attempt; 0 means 10s.
	AttemptTimeout time.Duration
	// Budget spaces every attempt of every call (SDK retries included),
	// shared with the other replicas; nil for no budget. A call whose
	// context carries a budget.Reservation uses it; any other reserves one
	// slot.
	Budget *budget.Budget
	// Metrics counts every HTTP attempt made to IVS; nil for none.
	Metrics Metrics
}

// Metrics is what the client reports about its calls.
type Metrics interface {
	// IVSCall reports one HTTP attempt: the API operation, its outcome
	// (one of the Outcome constants) and how long it took.
	IVSCall(operation, outcome string, d time.Duration)
}

// Client calls IVS.
type Client struct {
	api *ivs.Client
}

// New returns a Client for cfg. Credentials are resolved on first use, so a
// missing credential surfaces per call (as ingest.ErrIVSCredentials), not
// here. When the AWS configuration itself cannot be loaded (a profile that
// does not exist, a broken shared config file), New still returns a Client,
// whose every call fails with ingest.ErrIVSCredentials, and an error saying
// why: the service starts and answers what it can without AWS.
func New(ctx context.Context, cfg Config, optFns ...func(*ivs.Options)) (*Client, error) {
	timeout := cfg.AttemptTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(cfg.Region),
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(timeout)),
	}
	if cfg.AccessKeyID != "" && !cfg.SecretAccessKey.IsZero() {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
			cfg.AccessKeyID, cfg.SecretAccessKey.Reveal(), cfg.SessionToken.Reveal())))
	}
	if cfg.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(cfg.Endpoint))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		err = fmt.Errorf("load aws config: %w", err)
		broken := aws.Config{
			Region:      cfg.Region,
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return aws.Credentials{}, err }),
		}
		if cfg.Endpoint != "" {
			broken.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		awsCfg = broken
	}
	awsCfg.Credentials = markedCredentials{awsCfg.Credentials}
	clientOpts := append([]func(*ivs.Options){func(o *ivs.Options) {
		// A throttle that still happens is retried with backoff beyond the
		// SDK's usual three attempts; each attempt waits for budget.
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 6
			so.MaxBackoff = 5 * time.Second
			so.RateLimiter = ratelimit.None
		})
		// Both insert themselves right after Retry, so the budget runs
		// first: only attempts actually sent are measured.
		o.APIOptions = append(o.APIOptions, metricsMiddleware(cfg.Metrics), budgetMiddleware(cfg.Budget))
	}}, optFns...)
	return &Client{api: ivs.NewFromConfig(awsCfg, clientOpts...)}, err
}

// budgetMiddleware makes every attempt wait for its call slot. It runs after
// the retry middleware, so retries are counted too, and before signing, so a
// long wait cannot outlive the signature.
func budgetMiddleware(b *budget.Budget) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		if b == nil {
			return nil
		}
		mw := middleware.FinalizeMiddlewareFunc("IVSCallBudget", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			r := budget.FromContext(ctx)
			if r == nil {
				var err error
				if r, err = b.Reserve(ctx, budget.Claim{Calls: 1, Priority: budget.Background}); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, err
				}
			}
			if err := r.Wait(ctx); err != nil {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, err
			}
			return next.HandleFinalize(ctx, in)
		})
		return stack.Finalize.Insert(mw, "Retry", middleware.After)
	}
}

// markedCredentials marks credential failures so the domain can tell "AWS is
// not configured" from "IVS said no".
type markedCredentials struct {
	aws.CredentialsProvider
}

func (m markedCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if m.CredentialsProvider == nil {
		return aws.Credentials{}, fmt.Errorf("%w: no credentials provider", ingest.ErrIVSCredentials)
	}
	c, err := m.CredentialsProvider.Retrieve(ctx)
	if err != nil {
		return c, fmt.Errorf("%w: %w", ingest.ErrIVSCredentials, err)
	}
	return c, nil
}

// GetChannel implements ingest.IVS.
func (c *Client) GetChannel(ctx context.Context, arn string) (ingest.Channel, error) {
	out, err := c.api.GetChannel(ctx, &ivs.GetChannelInput{Arn: aws.String(arn)})
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

// GetStreamKey implements ingest.IVS.
func (c *Client) GetStreamKey(ctx context.Context, arn string) (ingest.StreamKey, error) {
	out, err := c.api.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: aws.String(arn)})
	if err != nil {
		return ingest.StreamKey{}, translate(err)
	}
	return streamKey(out.StreamKey)
}

// ListStreamKeys implements ingest.IVS, reading every page.
func (c *Client) ListStreamKeys(ctx context.Context, channelARN string) ([]string, error) {
	var arns []string
	p := ivs.NewListStreamKeysPaginator(c.api, &ivs.ListStreamKeysInput{
		ChannelArn: aws.String(channelARN),
		MaxResults: aws.Int32(50),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, translate(err)
		}
		for _, k := range page.StreamKeys {
			arns = append(arns, aws.ToString(k.Arn))
		}
	}
	return arns, nil
}

// CreateStreamKey implements ingest.IVS.
func (c *Client) CreateStreamKey(ctx context.Context, channelARN string) (ingest.StreamKey, error) {
	out, err := c.api.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: aws.String(channelARN)})
	if err != nil {
		return ingest.StreamKey{}, translate(err)
	}
	return streamKey(out.StreamKey)
}

// DeleteStreamKey implements ingest.IVS.
func (c *Client) DeleteStreamKey(ctx context.Context, arn string) error {
	if _, err := c.api.DeleteStreamKey(ctx, &ivs.DeleteStreamKeyInput{Arn: aws.String(arn)}); err != nil {
		return translate(err)
	}
	return nil
}

// StopStream implements ingest.IVS.
func (c *Client) StopStream(ctx context.Context, channelARN string) error {
	if _, err := c.api.StopStream(ctx, &ivs.StopStreamInput{ChannelArn: aws.String(channelARN)}); err != nil {
		return translate(err)
	}
	return nil
}

// Live implements ingest.IVS.
func (c *Client) Live(ctx context.Context, channelARN string) (bool, error) {
	_, err := c.api.GetStream(ctx, &ivs.GetStreamInput{ChannelArn: aws.String(channelARN)})
	var notBroadcasting *types.ChannelNotBroadcasting
	switch {
	case errors.As(err, &notBroadcasting):
		return false, nil
	case err != nil:
		return false, translate(err)
	}
	return true, nil
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

// translate maps the SDK's typed errors to the domain's, keeping the SDK's
// error (operation, status, request id; never a key value) in the chain.
func translate(err error) error {
	var (
		notFound        *types.ResourceNotFoundException
		quota           *types.ServiceQuotaExceededException
		notBroadcasting *types.ChannelNotBroadcasting
	)
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "ThrottlingException":
		// Still throttled after every retry: the caller is told to come
		// back, like a request that would wait too long for budget.
		return fmt.Errorf("%w: %w", ingest.ErrIVSThrottled, &budget.ExhaustedError{RetryAfter: 5 * time.Second})
	case errors.As(err, &notBroadcasting):
		return fmt.Errorf("%w: %w", ingest.ErrIVSNotBroadcasting, err)
	case errors.As(err, &notFound):
		return fmt.Errorf("%w: %w", ingest.ErrIVSNotFound, err)
	case errors.As(err, &quota):
		return fmt.Errorf("%w: %w", ingest.ErrIVSKeyQuota, err)
	}
	return err
}

// CreateChannel creates a channel named name, tagged as made by ivs-ingest's
// dev mode. Only `ivs-ingest dev` calls it, to give its demo shows channels;
// the service itself never creates channels.
func (c *Client) CreateChannel(ctx context.Context, name string) (ingest.Channel, error) {
	out, err := c.api.CreateChannel(ctx, &ivs.CreateChannelInput{
		Name: aws.String(name),
		Tags: map[string]string{"created-by": "ivs-ingest-dev"},
	})
	if err != nil {
		return ingest.Channel{}, translate(err)
	}
	if out.Channel == nil {
		return ingest.Channel{}, errors.New("ivs: CreateChannel returned no channel")
	}
	return ingest.Channel{ARN: aws.ToString(out.Channel.Arn), IngestEndpoint: aws.ToString(out.Channel.IngestEndpoint)}, nil
}
