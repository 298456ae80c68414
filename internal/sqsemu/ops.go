package sqsemu

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsjson"
)

// The operations, each on the decoded AWS JSON 1.0 input. Numbers arrive as
// JSON numbers; SQS's attribute maps hold strings.

type sendMessageInput struct {
	QueueURL     *string `json:"QueueUrl"`
	MessageBody  *string
	DelaySeconds *int
}

type sendMessageOutput struct {
	MessageID        string `json:"MessageId"`
	MD5OfMessageBody string
}

func (e *Emulator) sendMessage(body []byte) (any, *awsjson.Error) {
	var in sendMessageInput
	if aerr := awsjson.Decode(body, &in); aerr != nil {
		return nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	q, aerr := e.lookupLocked(in.QueueURL)
	if aerr != nil {
		return nil, aerr
	}
	switch {
	case in.MessageBody == nil:
		return nil, awsjson.Errorf(errMissingParameter, "The request must contain the parameter MessageBody.")
	case *in.MessageBody == "":
		return nil, awsjson.Errorf(errInvalidParameter, "The message body must be at least one character long.")
	case len(*in.MessageBody) > maxBodyBytes:
		return nil, awsjson.Errorf(errInvalidParameter, "One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", maxBodyBytes)
	}
	delay := q.delay
	if in.DelaySeconds != nil {
		if *in.DelaySeconds < 0 || time.Duration(*in.DelaySeconds)*time.Second > maxDelay {
			return nil, awsjson.Errorf(errInvalidParameter, "Value %d for parameter DelaySeconds is invalid. Reason: must be between 0 and 900.", *in.DelaySeconds)
		}
		delay = time.Duration(*in.DelaySeconds) * time.Second
	}
	m := e.sendLocked(q, *in.MessageBody, delay)
	return sendMessageOutput{MessageID: m.id, MD5OfMessageBody: m.md5}, nil
}

type receiveMessageInput struct {
	QueueURL                    *string `json:"QueueUrl"`
	MaxNumberOfMessages         *int
	WaitTimeSeconds             *int
	VisibilityTimeout           *int
	AttributeNames              []string
	MessageSystemAttributeNames []string
}

type receiveMessageOutput struct {
	Messages []messageOutput `json:",omitempty"`
}

type messageOutput struct {
	MessageID     string `json:"MessageId"`
	ReceiptHandle string
	MD5OfBody     string
	Body          string
	Attributes    map[string]string `json:",omitempty"`
}

// receiveMessage answers at once with the receivable messages, or, for a
// long poll (WaitTimeSeconds, else the queue's ReceiveMessageWaitTimeSeconds),
// as soon as one is receivable or when the wait is over, with none. It
// gives up when the client hangs up, receiving nothing for it.
func (e *Emulator) receiveMessage(ctx context.Context, body []byte) (any, *awsjson.Error) {
	var in receiveMessageInput
	if aerr := awsjson.Decode(body, &in); aerr != nil {
		return nil, aerr
	}
	n := 1
	if in.MaxNumberOfMessages != nil {
		if n = *in.MaxNumberOfMessages; n < 1 || n > maxMessages {
			return nil, awsjson.Errorf(errInvalidParameter, "Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", n)
		}
	}
	if in.WaitTimeSeconds != nil && (*in.WaitTimeSeconds < 0 || time.Duration(*in.WaitTimeSeconds)*time.Second > maxWaitTime) {
		return nil, awsjson.Errorf(errInvalidParameter, "Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", *in.WaitTimeSeconds)
	}
	if in.VisibilityTimeout != nil && (*in.VisibilityTimeout < 0 || time.Duration(*in.VisibilityTimeout)*time.Second > maxVisibilityTimeout) {
		return nil, awsjson.Errorf(errInvalidParameter, "Value %d for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.", *in.VisibilityTimeout)
	}
	attrs := append(slices.Clone(in.AttributeNames), in.MessageSystemAttributeNames...)

	var deadline time.Time
	for {
		e.mu.Lock()
		q, aerr := e.lookupLocked(in.QueueURL)
		if aerr != nil {
			e.mu.Unlock()
			return nil, aerr
		}
		if deadline.IsZero() {
			wait := q.wait
			if in.WaitTimeSeconds != nil {
				wait = time.Duration(*in.WaitTimeSeconds) * time.Second
			}
			deadline = time.Now().Add(wait)
		}
		visibility := q.visibility
		if in.VisibilityTimeout != nil {
			visibility = time.Duration(*in.VisibilityTimeout) * time.Second
		}
		msgs, handles, next := e.takeLocked(q, n, visibility)
		if len(msgs) > 0 {
			out := renderLocked(msgs, handles, attrs)
			e.mu.Unlock()
			return out, nil
		}
		changed, clockRuns := e.changed, e.stopped == nil
		wait := time.Until(deadline)
		if wait <= 0 {
			e.mu.Unlock()
			return receiveMessageOutput{}, nil
		}
		e.waiting++
		e.mu.Unlock()
		// A stopped clock moves only by Advance, which wakes the poll.
		if clockRuns && next > 0 && next < wait {
			wait = next
		}
		if !sleep(ctx, changed, wait) {
			e.mu.Lock()
			e.waiting--
			e.mu.Unlock()
			return receiveMessageOutput{}, nil
		}
		e.mu.Lock()
		e.waiting--
		e.mu.Unlock()
	}
}

// sleep waits for changed to close or d to pass; it reports false if ctx
// ended first.
func sleep(ctx context.Context, changed <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-changed:
	case <-t.C:
	case <-ctx.Done():
		return false
	}
	return true
}

// renderLocked is ReceiveMessage's output for msgs, received with handles,
// with the system attributes asked for ("All" or by name).
func renderLocked(msgs []*message, handles, attrs []string) receiveMessageOutput {
	all := slices.Contains(attrs, "All")
	want := func(name string) bool { return all || slices.Contains(attrs, name) }
	var out receiveMessageOutput
	for i, m := range msgs {
		mo := messageOutput{MessageID: m.id, ReceiptHandle: handles[i], MD5OfBody: m.md5, Body: m.body}
		set := func(name, v string) {
			if want(name) {
				if mo.Attributes == nil {
					mo.Attributes = map[string]string{}
				}
				mo.Attributes[name] = v
			}
		}
		set("ApproximateReceiveCount", strconv.Itoa(m.receives))
		set("SentTimestamp", strconv.FormatInt(m.sent.UnixMilli(), 10))
		set("ApproximateFirstReceiveTimestamp", strconv.FormatInt(m.firstReceive.UnixMilli(), 10))
		out.Messages = append(out.Messages, mo)
	}
	return out
}

type receiptInput struct {
	QueueURL          *string `json:"QueueUrl"`
	ReceiptHandle     *string
	VisibilityTimeout *int
}

// receiptLocked resolves the receipt handle of in on its queue. stale is
// true when the message was deleted or received again since the handle was
// given.
func (e *Emulator) receiptLocked(in receiptInput) (h handle, stale bool, aerr *awsjson.Error) {
	q, aerr := e.lookupLocked(in.QueueURL)
	if aerr != nil {
		return handle{}, false, aerr
	}
	if in.ReceiptHandle == nil || *in.ReceiptHandle == "" {
		return handle{}, false, awsjson.Errorf(errMissingParameter, "The request must contain the parameter ReceiptHandle.")
	}
	h, ok := e.handles[*in.ReceiptHandle]
	if !ok || h.queue != q {
		// Not quoted: a receipt handle is the right to delete a message.
		return handle{}, false, awsjson.Errorf(errReceiptHandle, "The input receipt handle is not a valid receipt handle.")
	}
	return h, h.msg.deleted || h.msg.handle != *in.ReceiptHandle, nil
}

// deleteMessage deletes the message of a receipt handle. An older handle of
// a message received again since, or of a message already deleted, is
// accepted and deletes nothing, as AWS documents ("the request succeeds,
// but the message will not be deleted").
func (e *Emulator) deleteMessage(body []byte) (any, *awsjson.Error) {
	var in receiptInput
	if aerr := awsjson.Decode(body, &in); aerr != nil {
		return nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	h, stale, aerr := e.receiptLocked(in)
	if aerr != nil {
		return nil, aerr
	}
	if !stale {
		e.removeLocked(h.queue, h.msg)
	}
	return nil, nil
}

// changeMessageVisibility makes the message of a receipt handle receivable
// again after VisibilityTimeout seconds from now (0: at once). The message
// must be in flight under that handle: a message whose visibility timeout
// ran out is MessageNotInflight; one deleted or received again since is
// refused as ReceiptHandleIsInvalid.
func (e *Emulator) changeMessageVisibility(body []byte) (any, *awsjson.Error) {
	var in receiptInput
	if aerr := awsjson.Decode(body, &in); aerr != nil {
		return nil, aerr
	}
	if in.VisibilityTimeout == nil {
		return nil, awsjson.Errorf(errMissingParameter, "The request must contain the parameter VisibilityTimeout.")
	}
	d := time.Duration(*in.VisibilityTimeout) * time.Second
	if d < 0 || d > maxVisibilityTimeout {
		return nil, awsjson.Errorf(errInvalidParameter, "Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.", *in.VisibilityTimeout)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	h, stale, aerr := e.receiptLocked(in)
	switch {
	case aerr != nil:
		return nil, aerr
	case stale:
		return nil, awsjson.Errorf(errReceiptHandle, "Message does not exist or is not available for visibility timeout change.")
	}
	now := e.nowLocked()
	if !h.msg.visibleAt.After(now) {
		return nil, awsjson.Errorf(errMessageNotInflight, "The message referred to isn't in flight.")
	}
	h.msg.visibleAt = now.Add(d)
	e.wakeLocked()
	return nil, nil
}

type createQueueInput struct {
	QueueName  *string
	Attributes map[string]string
}

type queueURLOutput struct {
	QueueURL string `json:"QueueUrl"`
}

// redrivePolicy is the RedrivePolicy attribute, a JSON document in a
// string.
type redrivePolicy struct {
	DeadLetterTargetARN string `json:"deadLetterTargetArn"`
	MaxReceiveCount     json.Number
}

func (e *Emulator) createQueue(body []byte) (any, *awsjson.Error) {
	var in createQueueInput
	if aerr := awsjson.Decode(body, &in); aerr != nil {
		return nil, aerr
	}
	if in.QueueName == nil {
		return nil, awsjson.Errorf(errMissingParameter, "The request must contain the parameter QueueName.")
	}
	opts := QueueOptions{VisibilityTimeout: DefaultVisibilityTimeout}
	seconds := func(name string, into *time.Duration) *awsjson.Error {
		v, ok := in.Attributes[name]
		if !ok {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return awsjson.Errorf(errInvalidAttribute, "Invalid value for the parameter %s.", name)
		}
		*into = time.Duration(n) * time.Second
		return nil
	}
	for _, a := range []struct {
		name string
		into *time.Duration
	}{{"VisibilityTimeout", &opts.VisibilityTimeout}, {"ReceiveMessageWaitTimeSeconds", &opts.ReceiveWaitTime}, {"DelaySeconds", &opts.Delay}} {
		if aerr := seconds(a.name, a.into); aerr != nil {
			return nil, aerr
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if rp, ok := in.Attributes["RedrivePolicy"]; ok {
		var p redrivePolicy
		n, err := 0, json.Unmarshal([]byte(rp), &p)
		if err == nil {
			var n64 int64
			n64, err = p.MaxReceiveCount.Int64()
			n = int(n64)
		}
		if err != nil {
			return nil, awsjson.Errorf(errInvalidAttribute, "Value for parameter RedrivePolicy is invalid. Reason: Redrive policy is not a valid JSON map.")
		}
		opts.MaxReceiveCount = n
		for _, q := range e.queues {
			if q.arn == p.DeadLetterTargetARN {
				opts.DeadLetterQueue = q.name
			}
		}
		if opts.DeadLetterQueue == "" {
			return nil, awsjson.Errorf(errInvalidAttribute, "Value for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.")
		}
	}
	q, aerr := e.createLocked(*in.QueueName, opts)
	if aerr != nil {
		return nil, aerr
	}
	return queueURLOutput{QueueURL: e.queueURLLocked(q.name)}, nil
}

type getQueueURLInput struct {
	QueueName              *string
	QueueOwnerAWSAccountID *string `json:"QueueOwnerAWSAccountId"`
}

func (e *Emulator) getQueueURL(body []byte) (any, *awsjson.Error) {
	var in getQueueURLInput
	if aerr := awsjson.Decode(body, &in); aerr != nil {
		return nil, aerr
	}
	if in.QueueName == nil {
		return nil, awsjson.Errorf(errMissingParameter, "The request must contain the parameter QueueName.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	q := e.queues[*in.QueueName]
	if q == nil || (in.QueueOwnerAWSAccountID != nil && *in.QueueOwnerAWSAccountID != e.accountID) {
		return nil, errNoQueue()
	}
	return queueURLOutput{QueueURL: e.queueURLLocked(q.name)}, nil
}
