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
	"github.com/aws/aws-sdk-go-v2/service/ivs"

	"github.com/ivs-ingest/ivs-ingest/internal/awsconf"
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
	// shared with the other replicas; nil for no budget. The calls of a
	// reservation (Client.Reserve) use its slots; any other call reserves
	// one slot per attempt.
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

// Client calls IVS in one region.
type Client struct {
	api    *ivs.Client
	region string
	budget *budget.Budget // nil: calls are not spaced
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
	awsCfg, err := awsconf.Load(ctx, awsconf.Options{Region: cfg.Region, Endpoint: cfg.Endpoint, AccessKeyID: cfg.AccessKeyID,
		SecretAccessKey: cfg.SecretAccessKey, SessionToken: cfg.SessionToken, AttemptTimeout: timeout})
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
		// The budget's middleware, added to each call (withSlots), also
		// inserts itself right after Retry, so it runs first: only
		// attempts actually sent are measured.
		o.APIOptions = append(o.APIOptions, metricsMiddleware(cfg.Metrics))
	}}, optFns...)
	api := ivs.NewFromConfig(awsCfg, clientOpts...)
	return &Client{api: api, region: api.Options().Region, budget: cfg.Budget}, err
}

// Region is the region the client calls and signs for.
func (c *Client) Region() string { return c.region }

// inRegion returns a client like c (credentials, endpoint override,
// retries, metrics) for region, spacing its calls with b.
func (c *Client) inRegion(region string, b *budget.Budget) *Client {
	api := ivs.New(c.api.Options(), func(o *ivs.Options) { o.Region = region })
	return &Client{api: api, region: region, budget: b}
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

// CreateChannel creates a channel named name, tagged as made by ivs-ingest's
// dev mode. Only `ivs-ingest dev` calls it, to give its demo shows channels;
// the service itself never creates channels.
func (c *Client) CreateChannel(ctx context.Context, name string) (ingest.Channel, error) {
	out, err := c.api.CreateChannel(ctx, &ivs.CreateChannelInput{
		Name: aws.String(name),
		Tags: map[string]string{"created-by": "ivs-ingest-dev"},
	}, c.withSlots(nil))
	if err != nil {
		return ingest.Channel{}, translate(err)
	}
	if out.Channel == nil {
		return ingest.Channel{}, errors.New("ivs: CreateChannel returned no channel")
	}
	return ingest.Channel{ARN: aws.ToString(out.Channel.Arn), IngestEndpoint: aws.ToString(out.Channel.IngestEndpoint)}, nil
}
