package sqsemu

import (
	"fmt"
	"time"
)

// QueueOptions are the attributes of a queue made by the CreateQueue hook.
type QueueOptions struct {
	// VisibilityTimeout is the queue's default visibility timeout, in whole
	// seconds up to 12 h; 0 for SQS's default, DefaultVisibilityTimeout.
	VisibilityTimeout time.Duration
	// ReceiveWaitTime is the long poll of a ReceiveMessage without
	// WaitTimeSeconds (ReceiveMessageWaitTimeSeconds), up to 20 s.
	ReceiveWaitTime time.Duration
	// Delay is the delay of each message sent (DelaySeconds).
	Delay time.Duration
	// DeadLetterQueue names an existing queue of the emulator: a message
	// received MaxReceiveCount times moves there (the RedrivePolicy).
	DeadLetterQueue string
	MaxReceiveCount int
}

// Queue is a queue made by the CreateQueue hook.
type Queue struct {
	Name string
	// URL is the queue's URL, under the emulator's endpoint
	// (SetEndpoint).
	URL string
	// ARN is arn:aws:sqs:<region>:<account>:<name>.
	ARN string
}

// SetEndpoint sets the base of the queue URLs the emulator gives from now
// on, e.g. the URL of the httptest server it is served by. Requests may name
// a queue by a URL of any host.
func (e *Emulator) SetEndpoint(url string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.endpoint = url
}

// CreateQueue creates the standard queue name, as the CreateQueue operation
// does (returning the existing one if its attributes are the same), without
// an HTTP request and without counting a call.
func (e *Emulator) CreateQueue(name string, opts QueueOptions) (Queue, error) {
	if opts.VisibilityTimeout == 0 {
		opts.VisibilityTimeout = DefaultVisibilityTimeout
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	q, aerr := e.createLocked(name, opts)
	if aerr != nil {
		return Queue{}, fmt.Errorf("sqsemu: create queue: %w", aerr)
	}
	return Queue{Name: q.name, URL: e.queueURLLocked(q.name), ARN: q.arn}, nil
}

// SendMessage adds a message with body to the queue name, as the
// SendMessage operation does, and returns its message id.
func (e *Emulator) SendMessage(name, body string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q := e.queues[name]
	if q == nil {
		return "", fmt.Errorf("sqsemu: send message: %w", errNoQueue())
	}
	return e.sendLocked(q, body, q.delay).id, nil
}

// Message is what the Messages hook shows of a message in a queue.
type Message struct {
	ID   string
	Body string
	// ReceiveCount is its ApproximateReceiveCount.
	ReceiveCount int
	// InFlight is true while it is received and not yet visible again.
	InFlight bool
}

// Messages lists the messages in the queue name (not deleted, not moved to
// its dead-letter queue), in the order sent; nil if there is no such queue.
func (e *Emulator) Messages(name string) []Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	q := e.queues[name]
	if q == nil {
		return nil
	}
	now := e.nowLocked()
	out := []Message{}
	for _, m := range q.messages {
		out = append(out, Message{ID: m.id, Body: m.body, ReceiveCount: m.receives, InFlight: m.receives > 0 && m.visibleAt.After(now)})
	}
	return out
}

// Advance moves the emulator's clock d ahead: messages whose visibility
// timeout or delay ends within d become receivable, and long polls waiting
// for them answer.
func (e *Emulator) Advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.offset += max(d, 0)
	e.wakeLocked()
}

// Waiting returns how many ReceiveMessage long polls are waiting now for a
// message: a test knows its poll is under way when it is positive.
func (e *Emulator) Waiting() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.waiting
}

// StopClock stops the emulator's clock at the time it reads: from then on
// only Advance moves it.
func (e *Emulator) StopClock() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped == nil {
		now := time.Now()
		e.stopped = &now
	}
}
