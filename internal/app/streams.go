package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/eventqueue"
	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
)

// ReceiveEvent applies one EventBridge event, whatever carried it (a direct
// Lambda invocation, an SQS message): nil when it was taken (applied, stale,
// duplicate or irrelevant), an error matching streamstatus.ErrMalformed for
// a body that is no event, any other error when the store could not apply
// it (the carrier redelivers).
func (d *Domain) ReceiveEvent(ctx context.Context, body []byte) error {
	_, err := d.Streams.Receive(ctx, body)
	return err
}

// StartStreamReconcile reconciles the stored stream states with IVS's
// ListStreams every interval, in the background, one replica at a time
// through a lease, until Close. It does nothing when interval is 0
// (STREAM_RECONCILE_INTERVAL off).
func (d *Domain) StartStreamReconcile(interval time.Duration) {
	if interval <= 0 {
		d.logger.Info("stream reconciliation off: STREAM_RECONCILE_INTERVAL is 0")
		return
	}
	d.background(func(ctx context.Context) { d.Streams.Run(ctx, interval) })
}

// StartEventQueue long-polls IVS_EVENTS_QUEUE_URL's SQS queue in the
// background until Close, applying each message's event: a message is
// deleted once applied (or when it is no event at all), and a failed one
// is left for redelivery. It does nothing without a queue.
func (d *Domain) StartEventQueue(ctx context.Context, cfg config.Config) error {
	if cfg.EventsQueueURL == "" {
		return nil
	}
	poller, err := eventqueue.New(ctx, eventqueue.Config{
		QueueURL: cfg.EventsQueueURL, Region: cfg.EventsQueueRegion, Endpoint: cfg.AWSEndpointSQS,
		AccessKeyID: cfg.AWSAccessKeyID, SecretAccessKey: cfg.AWSSecretAccessKey, SessionToken: cfg.AWSSessionToken,
	}, func(ctx context.Context, body []byte) error {
		err := d.ReceiveEvent(ctx, body)
		if errors.Is(err, streamstatus.ErrMalformed) {
			// Why delete it: no redelivery makes it an event.
			return eventqueue.Final(err)
		}
		return err
	}, eventqueue.Options{Logger: d.logger, Metrics: d.Metrics})
	if err != nil {
		return fmt.Errorf("IVS_EVENTS_QUEUE_URL: %w", err)
	}
	d.background(poller.Run)
	return nil
}

// background runs fn until Close, which cancels its context and waits for
// it to return before anything else closes (the store it uses).
func (d *Domain) background(fn func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ctx)
	}()
	d.closers = append([]func(){func() { cancel(); <-done }}, d.closers...)
}
