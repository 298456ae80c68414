// Package sqsemu emulates Amazon SQS as an http.Handler, closely enough for
// the unmodified aws-sdk-go-v2 SQS client: the AWS JSON 1.0 protocol current
// SQS clients speak (POST /, X-Amz-Target: AmazonSQS.<Op>, Content-Type:
// application/x-amz-json-1.0), errors as {"__type": "com.amazonaws.sqs#...",
// "message": ...} with the Query protocol's code in X-Amzn-Query-Error (the
// SDK reports that code, e.g. AWS.SimpleQueueService.NonExistentQueue), and
// SigV4 verified for the service name sqs. The protocol, the signature check
// and the test hooks are internal/awsemu/awsjson's, shared with kmsemu and
// smemu.
//
// It serves the operations a consumer of a standard queue calls:
// SendMessage, ReceiveMessage (up to 10 messages, a long poll that answers
// as soon as a message arrives, a visibility timeout, the
// ApproximateReceiveCount attribute), DeleteMessage and
// ChangeMessageVisibility by receipt handle, and CreateQueue and
// GetQueueUrl. A queue may have a dead-letter queue: a message received
// maxReceiveCount times moves there instead of being received again. Queues
// are created with the CreateQueue hook (or operation). Point a client at it
// with sqs.Options.BaseEndpoint (or AWS_ENDPOINT_URL_SQS) and the
// credentials given in Config. Queues live in memory.
//
// Receipt handles behave as AWS documents: each receive of a message gives a
// new handle; DeleteMessage with an older handle of a message received again
// since succeeds and deletes nothing, as does deleting a message already
// deleted; a handle the emulator never gave is ReceiptHandleIsInvalid.
//
// Time: visibility timeouts and delays run on the emulator's clock, which is
// the real one moved ahead by Advance, so a test sees a message come back
// without sleeping through its visibility timeout; after StopClock only
// Advance moves it, for a test that checks a timeout to the millisecond. A long poll waits in real
// time, and is woken early by a message that arrives or becomes visible.
//
// Exported methods other than ServeHTTP are hooks for tests: queues,
// messages, the clock, call counts, injected failures (FailNext("
// ReceiveMessage", "InternalFailure", n) fails the next n calls) and
// latency. All are safe for concurrent use. To make SQS unreachable, close
// the server the emulator is served by.
package sqsemu

import (
	"sync"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsjson"
)

// Defaults applied by New to an empty Config field.
const (
	DefaultRegion    = awsjson.DefaultRegion
	DefaultAccountID = awsjson.DefaultAccountID
)

// Config configures an Emulator: its region and account (queue URLs and
// ARNs name them) and the one set of credentials it accepts. Its String,
// GoString and LogValue redact the secret and the token.
type Config = awsjson.Config

// Emulator is an emulated SQS endpoint for one account and region. Create it
// with New and serve it, e.g. with httptest.NewServer. Its ServeHTTP, call
// counts (Calls, Succeeded, TotalCalls, ResetCounts), injected failures
// (FailNext, Fail, ClearFailures) and SetLatency are awsjson.Server's.
type Emulator struct {
	*awsjson.Server

	region, accountID string

	mu       sync.Mutex
	endpoint string            // the base of queue URLs
	offset   time.Duration     // Advance's, added to the real clock
	stopped  *time.Time        // StopClock's time, when stopped
	queues   map[string]*queue // by name
	handles  map[string]handle // every receipt handle given, by its value (kept: an emulator lives for a test)
	// changed is closed, and replaced, whenever a message may have become
	// receivable, waking the long polls.
	changed chan struct{}
	waiting int // long polls waiting now
}

// New returns an Emulator for cfg, with no queues. Queue URLs read
// https://sqs.<region>.amazonaws.com/<account>/<name>, as AWS's do, until
// SetEndpoint says otherwise; a request may name a queue by a URL of any
// host, as only its path is read.
func New(cfg Config) (*Emulator, error) {
	cfg, err := cfg.Resolve("sqsemu")
	if err != nil {
		return nil, err
	}
	e := &Emulator{
		region:    cfg.Region,
		accountID: cfg.AccountID,
		endpoint:  "https://sqs." + cfg.Region + ".amazonaws.com",
		queues:    map[string]*queue{},
		handles:   map[string]handle{},
		changed:   make(chan struct{}),
	}
	e.Server = awsjson.NewServer(cfg, awsjson.Service{
		Version:      "1.0",
		Name:         "sqsemu",
		SigningName:  "sqs",
		TargetPrefix: "AmazonSQS.",
		Ops: map[string]awsjson.Op{
			"SendMessage":             e.sendMessage,
			"DeleteMessage":           e.deleteMessage,
			"ChangeMessageVisibility": e.changeMessageVisibility,
			"CreateQueue":             e.createQueue,
			"GetQueueUrl":             e.getQueueURL,
		},
		ContextOps:     map[string]awsjson.ContextOp{"ReceiveMessage": e.receiveMessage},
		ClientFaults:   clientFaults,
		ServerFaults:   serverFaults,
		Internal:       awsjson.Error{Name: errInternal, Message: "We encountered an internal error. Please try again."},
		MessageMember:  "message",
		ErrorNamespace: "com.amazonaws.sqs",
		QueryErrors:    queryErrors,
	})
	return e, nil
}

// nowLocked is the emulator's clock: the real one (or the time it was
// stopped at), moved ahead by Advance.
func (e *Emulator) nowLocked() time.Time {
	if e.stopped != nil {
		return e.stopped.Add(e.offset)
	}
	return time.Now().Add(e.offset)
}

// wakeLocked wakes every long poll, to look at the queues again.
func (e *Emulator) wakeLocked() {
	close(e.changed)
	e.changed = make(chan struct{})
}
