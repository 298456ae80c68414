package sqsemu

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsjson"
)

// SQS's limits, as the emulator enforces them.
const (
	DefaultVisibilityTimeout = 30 * time.Second
	maxVisibilityTimeout     = 12 * time.Hour
	maxWaitTime              = 20 * time.Second
	maxMessages              = 10
	maxDelay                 = 15 * time.Minute
	maxBodyBytes             = 1 << 20 // 1 MiB, SQS's limit since August 2025
	maxReceiveCountLimit     = 1000
)

var queueNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// queue is one standard queue.
type queue struct {
	name, arn  string
	visibility time.Duration
	wait       time.Duration // ReceiveMessageWaitTimeSeconds
	delay      time.Duration // DelaySeconds
	dlq        *queue        // nil: no redrive policy
	maxReceive int           // the redrive policy's maxReceiveCount
	messages   []*message    // in the order sent
}

// message is one message of a queue.
type message struct {
	id, body, md5 string
	sent          time.Time
	firstReceive  time.Time // zero until received
	visibleAt     time.Time // receivable from then on
	receives      int
	handle        string // the latest receipt handle; "" before the first receive
	deleted       bool
}

// handle is what a receipt handle was given for.
type handle struct {
	queue *queue
	msg   *message
}

func newID() string { return awsjson.NewUUID() }

// newHandle returns a receipt handle: opaque, long, different at each
// receive, as AWS's are.
func newHandle() string {
	var b [96]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// queueURLLocked is the URL of the queue name.
func (e *Emulator) queueURLLocked(name string) string {
	return e.endpoint + "/" + e.accountID + "/" + name
}

// lookupLocked returns the queue a request's QueueUrl names. Only the path,
// /<account>/<name>, is read: the endpoint the request reached says the
// rest.
func (e *Emulator) lookupLocked(queueURL *string) (*queue, *awsjson.Error) {
	if queueURL == nil || *queueURL == "" {
		return nil, awsjson.Errorf(errMissingParameter, "The request must contain the parameter QueueUrl.")
	}
	u, err := url.Parse(*queueURL)
	if err != nil {
		return nil, awsjson.Errorf(errInvalidAddress, "The address is not valid for this endpoint.")
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 {
		return nil, awsjson.Errorf(errInvalidAddress, "The address is not valid for this endpoint.")
	}
	q := e.queues[parts[1]]
	if parts[0] != e.accountID || q == nil {
		return nil, errNoQueue()
	}
	return q, nil
}

// createLocked creates the queue name with opts (a zero VisibilityTimeout
// is zero), or returns the one of that name when its attributes are the
// same (as CreateQueue does).
func (e *Emulator) createLocked(name string, opts QueueOptions) (*queue, *awsjson.Error) {
	if !queueNamePattern.MatchString(name) {
		if strings.HasSuffix(name, ".fifo") {
			return nil, awsjson.Errorf(errInvalidParameter, "FIFO queues are not emulated.")
		}
		return nil, awsjson.Errorf(errInvalidParameter, "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	switch {
	case opts.VisibilityTimeout < 0 || opts.VisibilityTimeout > maxVisibilityTimeout || opts.VisibilityTimeout%time.Second != 0:
		return nil, awsjson.Errorf(errInvalidAttribute, "Invalid value for the parameter VisibilityTimeout.")
	case opts.ReceiveWaitTime < 0 || opts.ReceiveWaitTime > maxWaitTime || opts.ReceiveWaitTime%time.Second != 0:
		return nil, awsjson.Errorf(errInvalidAttribute, "Invalid value for the parameter ReceiveMessageWaitTimeSeconds.")
	case opts.Delay < 0 || opts.Delay > maxDelay || opts.Delay%time.Second != 0:
		return nil, awsjson.Errorf(errInvalidAttribute, "Invalid value for the parameter DelaySeconds.")
	}
	q := &queue{
		name:       name,
		arn:        "arn:aws:sqs:" + e.region + ":" + e.accountID + ":" + name,
		visibility: opts.VisibilityTimeout,
		wait:       opts.ReceiveWaitTime,
		delay:      opts.Delay,
	}
	if opts.DeadLetterQueue != "" {
		dlq := e.queues[opts.DeadLetterQueue]
		if dlq == nil || dlq.name == name {
			return nil, awsjson.Errorf(errInvalidAttribute, "Value for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.")
		}
		if opts.MaxReceiveCount < 1 || opts.MaxReceiveCount > maxReceiveCountLimit {
			return nil, awsjson.Errorf(errInvalidAttribute, "Value for parameter RedrivePolicy is invalid. Reason: Invalid value for maxReceiveCount: must be an integer from 1 to 1000.")
		}
		q.dlq, q.maxReceive = dlq, opts.MaxReceiveCount
	}
	if old := e.queues[name]; old != nil {
		if old.visibility != q.visibility || old.wait != q.wait || old.delay != q.delay || old.dlq != q.dlq || old.maxReceive != q.maxReceive {
			return nil, awsjson.Errorf(errQueueNameExists, "A queue already exists with the same name and a different value for attribute(s).")
		}
		return old, nil
	}
	e.queues[name] = q
	return q, nil
}

// sendLocked adds a message with body to q, receivable after delay.
func (e *Emulator) sendLocked(q *queue, body string, delay time.Duration) *message {
	now := e.nowLocked()
	m := &message{id: newID(), body: body, md5: md5Hex(body), sent: now, visibleAt: now.Add(delay)}
	q.messages = append(q.messages, m)
	e.wakeLocked()
	return m
}

// takeLocked receives up to n messages of q, making them invisible for
// visibility. A message already received maxReceiveCount times moves to the
// dead-letter queue instead, as SQS's redrive does. It also returns how
// long until the next message of q becomes visible (0 if none will).
func (e *Emulator) takeLocked(q *queue, n int, visibility time.Duration) ([]*message, []string, time.Duration) {
	now := e.nowLocked()
	var got []*message
	var handles []string
	var next time.Duration
	for _, m := range slices.Clone(q.messages) {
		if len(got) == n {
			break
		}
		if m.visibleAt.After(now) {
			if d := m.visibleAt.Sub(now); next == 0 || d < next {
				next = d
			}
			continue
		}
		if q.dlq != nil && m.receives >= q.maxReceive {
			e.removeLocked(q, m)
			moved := &message{id: m.id, body: m.body, md5: m.md5, sent: m.sent, visibleAt: now}
			q.dlq.messages = append(q.dlq.messages, moved)
			e.wakeLocked()
			continue
		}
		m.receives++
		if m.firstReceive.IsZero() {
			m.firstReceive = now
		}
		m.visibleAt = now.Add(visibility)
		m.handle = newHandle()
		e.handles[m.handle] = handle{queue: q, msg: m}
		got = append(got, m)
		handles = append(handles, m.handle)
	}
	return got, handles, next
}

// removeLocked deletes m from q.
func (e *Emulator) removeLocked(q *queue, m *message) {
	m.deleted = true
	q.messages = slices.DeleteFunc(q.messages, func(x *message) bool { return x == m })
}
