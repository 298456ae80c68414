// Package eventqueue consumes an Amazon SQS queue of IVS's EventBridge
// events, for a container that exposes no public route: a Poller long-polls
// the queue, hands each message's body to a Handler (streamstatus's
// Receive, in the wiring), deletes the message once handled, and leaves a
// failed one for redelivery, further off each time, so that the queue's
// dead-letter policy ends a message that never succeeds.
//
// A message's body is never logged: it is an event about a seller's channel,
// and only its id, receive count and the handler's error (which never
// quotes it) are.
package eventqueue

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Handler handles one message's body. It returns nil when the message is
// done with (applied, or nothing to apply), an error marked with Final when
// it never can be (a body that is no event: retrying cannot help), and any
// other error when it should be tried again later.
type Handler func(ctx context.Context, body []byte) error

// finalError marks an error as final.
type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }
func (e *finalError) Unwrap() error { return e.err }

// Final marks err as final: the Poller deletes the message and counts it as
// malformed instead of leaving it for redelivery. errors.Is and errors.As
// still see err through it. Final(nil) is nil.
func Final(err error) error {
	if err == nil {
		return nil
	}
	return &finalError{err: err}
}

// IsFinal reports whether err, or an error it wraps, was marked by Final.
func IsFinal(err error) bool {
	var f *finalError
	return errors.As(err, &f)
}

// API is the part of the SQS client a Poller calls (*sqs.Client is one).
type API interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Metrics is what a Poller reports (*metrics.Metrics implements it).
type Metrics interface {
	// EventQueueReceived counts n messages received.
	EventQueueReceived(n int)
	// EventQueueDeleted counts a message deleted: handled, or final.
	EventQueueDeleted()
	// EventQueueMalformed counts a message deleted because its handler
	// said it never can succeed (Final).
	EventQueueMalformed()
	// EventQueueRetried counts a message left for redelivery.
	EventQueueRetried()
	// EventQueueReceiveError counts a ReceiveMessage call that failed.
	EventQueueReceiveError()
}

// Defaults of Options.
const (
	DefaultWaitTime          = 20 * time.Second
	DefaultMaxMessages       = 10
	DefaultCallTimeout       = 10 * time.Second
	DefaultHandleTimeout     = 30 * time.Second
	DefaultRetryBase         = 10 * time.Second
	DefaultRetryMax          = 5 * time.Minute
	DefaultReceiveBackoff    = time.Second
	DefaultReceiveBackoffMax = time.Minute
)

// Options tune a Poller; a zero field takes its default.
type Options struct {
	// WaitTime is the long poll of each ReceiveMessage (whole seconds, at
	// most SQS's 20 s). Default DefaultWaitTime.
	WaitTime time.Duration
	// MaxMessages is how many messages one ReceiveMessage asks for (1 to
	// 10). Default DefaultMaxMessages.
	MaxMessages int
	// CallTimeout bounds each DeleteMessage and ChangeMessageVisibility
	// call; a ReceiveMessage gets WaitTime more. Default DefaultCallTimeout.
	CallTimeout time.Duration
	// HandleTimeout bounds the handling of one message. Keep it below the
	// queue's visibility timeout, or a slow message is received twice.
	// Default DefaultHandleTimeout.
	HandleTimeout time.Duration
	// RetryBase is how long a message whose handler failed stays invisible
	// after its first receive: RetryBase × 2^(ApproximateReceiveCount-1),
	// at most RetryMax, in whole seconds. Defaults DefaultRetryBase and
	// DefaultRetryMax.
	RetryBase, RetryMax time.Duration
	// ReceiveBackoff is the pause after a failed ReceiveMessage, doubling
	// with each failure in a row up to ReceiveBackoffMax, with jitter (a
	// random part of up to half of it). Defaults DefaultReceiveBackoff and
	// DefaultReceiveBackoffMax.
	ReceiveBackoff, ReceiveBackoffMax time.Duration
	// Logger; nil for none.
	Logger *slog.Logger
	// Metrics; nil for none.
	Metrics Metrics
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.WaitTime, DefaultWaitTime)
	o.WaitTime = min(o.WaitTime.Truncate(time.Second), 20*time.Second)
	def(&o.WaitTime, time.Second)
	if o.MaxMessages <= 0 || o.MaxMessages > 10 {
		o.MaxMessages = DefaultMaxMessages
	}
	def(&o.CallTimeout, DefaultCallTimeout)
	def(&o.HandleTimeout, DefaultHandleTimeout)
	def(&o.RetryBase, DefaultRetryBase)
	def(&o.RetryMax, DefaultRetryMax)
	def(&o.ReceiveBackoff, DefaultReceiveBackoff)
	def(&o.ReceiveBackoffMax, DefaultReceiveBackoffMax)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = noMetrics{}
	}
	return o
}

type noMetrics struct{}

func (noMetrics) EventQueueReceived(int)  {}
func (noMetrics) EventQueueDeleted()      {}
func (noMetrics) EventQueueMalformed()    {}
func (noMetrics) EventQueueRetried()      {}
func (noMetrics) EventQueueReceiveError() {}

// Poller consumes one queue. Create it with NewPoller (or New) and call Run.
type Poller struct {
	client   API
	queueURL string
	handle   Handler
	opts     Options
	// pause waits d or until ctx ends, reporting false then; a test
	// replaces it to see the backoff.
	pause func(ctx context.Context, d time.Duration) bool
}

// NewPoller returns a Poller of the queue at queueURL through client.
func NewPoller(client API, queueURL string, handler Handler, opts Options) *Poller {
	return &Poller{client: client, queueURL: queueURL, handle: handler, opts: opts.withDefaults(), pause: pause}
}

// Run consumes the queue until ctx ends. Cancelling ctx cancels the long
// poll at once; a message being handled is finished (within HandleTimeout)
// and deleted or left as usual, and the messages of its batch not yet
// handled are made visible again for another replica. Run returns when all
// that is done.
func (p *Poller) Run(ctx context.Context) {
	failures := 0
	// failing counts the batches in a row whose handling failed (the
	// database down). Why it matters: every receive adds one to a message's
	// receive count, and the queue's redrive policy dead-letters a message
	// at maxReceiveCount; so while handling fails, the poller backs off and
	// receives one message at a time, as a probe, instead of burning the
	// receive counts of the whole queue.
	failing := 0
	for ctx.Err() == nil {
		start := time.Now()
		n := p.opts.MaxMessages
		if failing > 0 {
			n = 1
		}
		msgs, err := p.receive(ctx, n)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			d := p.receiveBackoff(failures)
			p.opts.Metrics.EventQueueReceiveError()
			p.opts.Logger.Warn("event queue: receive failed", "error", err, "retry_in", d.String())
			p.pause(ctx, d)
			continue
		}
		failures = 0
		if len(msgs) == 0 {
			// A long poll answers empty after WaitTime; one that answers
			// at once (an endpoint that ignores WaitTimeSeconds) must not
			// make this loop spin.
			if time.Since(start) < p.opts.WaitTime/2 {
				p.pause(ctx, p.opts.ReceiveBackoff)
			}
			continue
		}
		p.opts.Metrics.EventQueueReceived(len(msgs))
		failed := false
		for i, m := range msgs {
			if ctx.Err() != nil {
				p.release(ctx, msgs[i:])
				return
			}
			if failed {
				// The rest of a failing batch would fail too: each comes
				// back after its retry delay, unhandled.
				p.postpone(ctx, m)
				continue
			}
			failed = !p.process(ctx, m)
		}
		if !failed {
			failing = 0
			continue
		}
		failing++
		p.pause(ctx, p.receiveBackoff(failing))
	}
}

// postpone leaves m, received but not handled, for redelivery after its
// retry delay.
func (p *Poller) postpone(ctx context.Context, m types.Message) {
	ctx = context.WithoutCancel(ctx)
	if err := p.setVisibility(ctx, m, p.retryDelay(receiveCount(m))); err != nil {
		p.opts.Logger.Warn("event queue: could not delay the message's redelivery", "message_id", aws.ToString(m.MessageId), "error", err)
	}
	p.opts.Metrics.EventQueueRetried()
}

func (p *Poller) receive(ctx context.Context, n int) ([]types.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.WaitTime+p.opts.CallTimeout)
	defer cancel()
	out, err := p.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(p.queueURL),
		MaxNumberOfMessages:         int32(n),
		WaitTimeSeconds:             int32(p.opts.WaitTime / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// process handles one message and deletes it or leaves it for redelivery;
// it reports whether the handler took it (applied, or refused for good).
// Shutdown does not cut it short: the message in hand is finished, within
// HandleTimeout, and its delete or visibility change bounded by
// CallTimeout.
func (p *Poller) process(ctx context.Context, m types.Message) bool {
	ctx = context.WithoutCancel(ctx)
	count := receiveCount(m)
	log := p.opts.Logger.With("message_id", aws.ToString(m.MessageId), "receive_count", count)
	hctx, cancel := context.WithTimeout(ctx, p.opts.HandleTimeout)
	err := p.handle(hctx, []byte(aws.ToString(m.Body)))
	cancel()
	switch {
	case err == nil:
		p.delete(ctx, m, log)
	case IsFinal(err):
		log.Warn("event queue: message refused for good, deleting it", "error", err)
		p.opts.Metrics.EventQueueMalformed()
		p.delete(ctx, m, log)
	default:
		d := p.retryDelay(count)
		log.Warn("event queue: message failed, leaving it for redelivery", "error", err, "retry_in", d.String())
		if err := p.setVisibility(ctx, m, d); err != nil {
			// It comes back after the queue's own visibility timeout.
			log.Warn("event queue: could not delay the message's redelivery", "error", err)
		}
		p.opts.Metrics.EventQueueRetried()
		return false
	}
	return true
}

func (p *Poller) delete(ctx context.Context, m types.Message, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.CallTimeout)
	defer cancel()
	_, err := p.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(p.queueURL), ReceiptHandle: m.ReceiptHandle})
	if err != nil {
		// It will be received again, and handled again: the handler's
		// events are idempotent (a duplicate changes nothing).
		log.Warn("event queue: could not delete a handled message", "error", err)
		return
	}
	p.opts.Metrics.EventQueueDeleted()
}

func (p *Poller) setVisibility(ctx context.Context, m types.Message, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, p.opts.CallTimeout)
	defer cancel()
	_, err := p.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(p.queueURL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: int32(d / time.Second)})
	return err
}

// release makes messages received but not handled before shutdown visible
// again at once, rather than after the queue's visibility timeout.
func (p *Poller) release(ctx context.Context, msgs []types.Message) {
	ctx = context.WithoutCancel(ctx)
	for _, m := range msgs {
		if err := p.setVisibility(ctx, m, 0); err != nil {
			p.opts.Logger.Warn("event queue: could not release a message at shutdown", "message_id", aws.ToString(m.MessageId), "error", err)
		}
	}
}

// retryDelay is how long a message whose handler failed at its count-th
// receive stays invisible: RetryBase doubled at each receive, at most
// RetryMax, rounded up to whole seconds (SQS's unit).
func (p *Poller) retryDelay(count int) time.Duration {
	d := p.opts.RetryBase
	for i := 1; i < count && d < p.opts.RetryMax; i++ {
		d *= 2
	}
	d = min(d, p.opts.RetryMax)
	if r := d % time.Second; r != 0 {
		d += time.Second - r
	}
	return d
}

// receiveBackoff is the pause after the n-th failed receive in a row:
// ReceiveBackoff doubled n-1 times, at most ReceiveBackoffMax, of which
// the upper half is random, so replicas that failed together do not retry
// together.
func (p *Poller) receiveBackoff(n int) time.Duration {
	d := p.opts.ReceiveBackoff
	for i := 1; i < n && d < p.opts.ReceiveBackoffMax; i++ {
		d *= 2
	}
	d = min(d, p.opts.ReceiveBackoffMax)
	return d/2 + rand.N(d/2+1)
}

// receiveCount is the message's ApproximateReceiveCount; 1 when absent.
func receiveCount(m types.Message) int {
	n, err := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
