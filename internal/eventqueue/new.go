package eventqueue

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ivs-ingest/ivs-ingest/internal/awsconf"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// Config says which queue New consumes and how to reach it.
type Config struct {
	// QueueURL is the queue's URL (IVS_EVENTS_QUEUE_URL).
	QueueURL string
	// Region is the queue's region (config's EventsQueueRegion: the URL's
	// sqs.<region>.amazonaws.com, else AWS_REGION).
	Region string
	// Endpoint overrides SQS's endpoint (AWS_ENDPOINT_URL_SQS); "" for
	// AWS's, or for an http:// queue URL (an emulator's) that URL's origin.
	Endpoint string
	// AccessKeyID, SecretAccessKey and SessionToken are static
	// credentials; unset, the SDK's default chain.
	AccessKeyID     string
	SecretAccessKey secret.String
	SessionToken    secret.String
}

// New returns a Poller of cfg's queue through the SDK's SQS client, built
// with internal/awsconf as the service's other AWS clients are, that hands
// each message to handler. It makes no call. Each HTTP attempt is bounded
// by the long poll plus opts.CallTimeout.
func New(ctx context.Context, cfg Config, handler Handler, opts Options) (*Poller, error) {
	if cfg.QueueURL == "" {
		return nil, errors.New("eventqueue: no queue URL")
	}
	if handler == nil {
		return nil, errors.New("eventqueue: no handler")
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		u, err := url.Parse(cfg.QueueURL)
		if err != nil {
			return nil, errors.New("eventqueue: the queue URL does not parse")
		}
		if u.Scheme == "http" {
			endpoint = "http://" + u.Host
		}
	}
	resolved := opts.withDefaults()
	awsCfg, err := awsconf.Load(ctx, awsconf.Options{Region: cfg.Region, Endpoint: endpoint, AccessKeyID: cfg.AccessKeyID,
		SecretAccessKey: cfg.SecretAccessKey, SessionToken: cfg.SessionToken,
		// The long poll holds the HTTP attempt open for WaitTime.
		AttemptTimeout: resolved.WaitTime + resolved.CallTimeout + time.Second})
	if err != nil {
		return nil, fmt.Errorf("eventqueue: load aws config: %w", err)
	}
	return NewPoller(sqs.NewFromConfig(awsCfg), cfg.QueueURL, handler, opts), nil
}
