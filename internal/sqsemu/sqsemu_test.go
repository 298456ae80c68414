package sqsemu

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsemutest"
)

const (
	testRegion    = "eu-central-1"
	testAccountID = "111122223333"
	testKeyID     = "AKIASQSEMULATORTEST1"
	testSecret    = "sqsemu/secret+Key0123456789abcdefghijklm"
)

var testCreds = aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}

// startEmulator serves an Emulator whose queue URLs are under its server's
// URL, and returns it with the real SDK client pointed at it.
func startEmulator(t *testing.T) (*Emulator, *sqs.Client, string) {
	t.Helper()
	emu, err := New(Config{Region: testRegion, AccountID: testAccountID, AccessKeyID: testKeyID, SecretAccessKey: testSecret})
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	emu.SetEndpoint(srv.URL)
	return emu, sqs.NewFromConfig(awsemutest.ClientConfig(srv.URL, testRegion, testCreds)), srv.URL
}

func mustQueue(t *testing.T, emu *Emulator, name string, opts QueueOptions) Queue {
	t.Helper()
	q, err := emu.CreateQueue(name, opts)
	if err != nil {
		t.Fatalf("CreateQueue(%s) = %v", name, err)
	}
	return q
}

func send(t *testing.T, c *sqs.Client, url, body string) string {
	t.Helper()
	out, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)})
	if err != nil {
		t.Fatalf("SendMessage = %v", err)
	}
	return aws.ToString(out.MessageId)
}

func receive(t *testing.T, c *sqs.Client, url string, wait int32) []types.Message {
	t.Helper()
	out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: wait,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		t.Fatalf("ReceiveMessage = %v", err)
	}
	return out.Messages
}

func receiveCount(m types.Message) int {
	n, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	return n
}

// The SDK checks MD5OfMessageBody and MD5OfBody itself: a wrong digest
// fails SendMessage or ReceiveMessage.
func TestSendReceiveDelete(t *testing.T) {
	t.Parallel()
	emu, c, base := startEmulator(t)
	q := mustQueue(t, emu, "events", QueueOptions{})
	if want := base + "/" + testAccountID + "/events"; q.URL != want || q.ARN != "arn:aws:sqs:eu-central-1:111122223333:events" {
		t.Fatalf("CreateQueue = %+v, want URL %s", q, want)
	}
	id := send(t, c, q.URL, `{"source":"aws.ivs"}`)
	send(t, c, q.URL, "second")
	msgs := receive(t, c, q.URL, 0)
	if len(msgs) != 2 || aws.ToString(msgs[0].MessageId) != id || aws.ToString(msgs[0].Body) != `{"source":"aws.ivs"}` || receiveCount(msgs[0]) != 1 {
		t.Fatalf("ReceiveMessage = %+v, want both messages, the first %s received once", msgs, id)
	}
	if _, ok := msgs[0].Attributes["SentTimestamp"]; ok {
		t.Errorf("ReceiveMessage answered SentTimestamp, which was not asked for")
	}
	if again := receive(t, c, q.URL, 0); len(again) != 0 {
		t.Errorf("ReceiveMessage during the visibility timeout = %d messages, want 0", len(again))
	}
	for _, m := range msgs {
		if _, err := c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(q.URL), ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatalf("DeleteMessage = %v", err)
		}
	}
	if left := emu.Messages("events"); len(left) != 0 {
		t.Errorf("Messages after DeleteMessage = %+v, want none", left)
	}
}

func deleteMessage(c *sqs.Client, url string, handle *string) error {
	_, err := c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: handle})
	return err
}

func changeVisibility(c *sqs.Client, url string, handle *string, seconds int32) error {
	_, err := c.ChangeMessageVisibility(context.Background(), &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(url), ReceiptHandle: handle, VisibilityTimeout: seconds})
	return err
}

// TestRedelivery: a message not deleted comes back after its visibility
// timeout with a new receipt handle and ApproximateReceiveCount 2; the old
// handle then deletes nothing (and succeeds), as AWS documents, and cannot
// change the visibility; the new one deletes.
func TestRedelivery(t *testing.T) {
	t.Parallel()
	emu, c, _ := startEmulator(t)
	emu.StopClock()
	q := mustQueue(t, emu, "events", QueueOptions{VisibilityTimeout: 60 * time.Second})
	send(t, c, q.URL, "body")
	first := receive(t, c, q.URL, 0)
	if len(first) != 1 || !emu.Messages("events")[0].InFlight {
		t.Fatalf("first ReceiveMessage = %d messages (in flight: %+v), want 1", len(first), emu.Messages("events"))
	}
	emu.Advance(60*time.Second - time.Millisecond)
	if got := receive(t, c, q.URL, 0); len(got) != 0 {
		t.Fatalf("ReceiveMessage 1 ms before the end of a 60 s visibility timeout = %d messages, want 0", len(got))
	}
	emu.Advance(time.Millisecond)
	second := receive(t, c, q.URL, 0)
	if len(second) != 1 || receiveCount(second[0]) != 2 || aws.ToString(second[0].ReceiptHandle) == aws.ToString(first[0].ReceiptHandle) {
		t.Fatalf("ReceiveMessage after the visibility timeout = %+v, want the message again, count 2, with a new handle", second)
	}
	if err := deleteMessage(c, q.URL, first[0].ReceiptHandle); err != nil {
		t.Fatalf("DeleteMessage(stale handle) = %v, want success", err)
	}
	if n := len(emu.Messages("events")); n != 1 {
		t.Fatalf("after DeleteMessage(stale handle): %d messages, want 1 (nothing deleted)", n)
	}
	err := changeVisibility(c, q.URL, first[0].ReceiptHandle, 0)
	awsemutest.WantError(t, "ChangeMessageVisibility(stale handle)", err, "ReceiptHandleIsInvalid", 404)
	var invalid *types.ReceiptHandleIsInvalid
	if !errors.As(err, &invalid) {
		t.Errorf("ChangeMessageVisibility(stale handle) = %T, want *types.ReceiptHandleIsInvalid", err)
	}
	if err := deleteMessage(c, q.URL, second[0].ReceiptHandle); err != nil {
		t.Fatalf("DeleteMessage(current handle) = %v", err)
	}
	if n := len(emu.Messages("events")); n != 0 {
		t.Fatalf("after DeleteMessage(current handle): %d messages, want 0", n)
	}
	if err := deleteMessage(c, q.URL, second[0].ReceiptHandle); err != nil {
		t.Errorf("DeleteMessage(already deleted) = %v, want success", err)
	}
	awsemutest.WantError(t, "DeleteMessage(never given)", deleteMessage(c, q.URL, aws.String("bm90IGEgaGFuZGxl")), "ReceiptHandleIsInvalid", 404)
}

func TestChangeMessageVisibility(t *testing.T) {
	t.Parallel()
	emu, c, _ := startEmulator(t)
	q := mustQueue(t, emu, "events", QueueOptions{})
	send(t, c, q.URL, "body")
	m := receive(t, c, q.URL, 0)[0]
	if err := changeVisibility(c, q.URL, m.ReceiptHandle, 120); err != nil {
		t.Fatalf("ChangeMessageVisibility(120) = %v", err)
	}
	emu.Advance(119 * time.Second) // past the queue's 30 s
	if got := receive(t, c, q.URL, 0); len(got) != 0 {
		t.Fatalf("ReceiveMessage 119 s into a visibility of 120 s = %d messages, want 0", len(got))
	}
	if err := changeVisibility(c, q.URL, m.ReceiptHandle, 0); err != nil {
		t.Fatalf("ChangeMessageVisibility(0) = %v", err)
	}
	m2 := receive(t, c, q.URL, 0)
	if len(m2) != 1 || receiveCount(m2[0]) != 2 {
		t.Fatalf("ReceiveMessage after ChangeMessageVisibility(0) = %+v, want the message, count 2", m2)
	}
	emu.Advance(30 * time.Second)
	err := changeVisibility(c, q.URL, m2[0].ReceiptHandle, 10)
	awsemutest.WantError(t, "ChangeMessageVisibility(not in flight)", err, "AWS.SimpleQueueService.MessageNotInflight", 400)
	awsemutest.WantError(t, "ChangeMessageVisibility(43201)", changeVisibility(c, q.URL, m2[0].ReceiptHandle, 43201), "InvalidParameterValue", 400)
}

// TestLongPoll: a long poll answers as soon as a message is sent, or becomes
// visible again, and an empty one answers when its wait is over.
func TestLongPoll(t *testing.T) {
	t.Parallel()
	emu, c, _ := startEmulator(t)
	q := mustQueue(t, emu, "events", QueueOptions{})
	type result struct {
		msgs []types.Message
		d    time.Duration
	}
	poll := func() chan result {
		ch := make(chan result, 1)
		go func() {
			t0 := time.Now()
			out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL), WaitTimeSeconds: 20, MaxNumberOfMessages: 10})
			if err != nil {
				t.Errorf("ReceiveMessage = %v", err)
			}
			ch <- result{out.Messages, time.Since(t0)}
		}()
		waitFor(t, func() bool { return emu.Waiting() > 0 })
		return ch
	}
	ch := poll()
	send(t, c, q.URL, "wake up")
	r := <-ch
	// Not a performance bound: a poll that missed the message would take
	// its whole 20 s.
	if len(r.msgs) != 1 || r.d >= 15*time.Second {
		t.Fatalf("long poll = %d messages after %v, want the message sent during it, before its 20 s", len(r.msgs), r.d)
	}
	ch = poll()
	emu.Advance(DefaultVisibilityTimeout)
	if r := <-ch; len(r.msgs) != 1 || r.d >= 15*time.Second {
		t.Fatalf("long poll = %d messages after %v, want the message whose visibility timeout ran out", len(r.msgs), r.d)
	}
	t0 := time.Now()
	if got := receive(t, c, q.URL, 1); len(got) != 0 || time.Since(t0) < time.Second {
		t.Errorf("empty 1 s long poll = %d messages after %v, want none after 1 s", len(got), time.Since(t0))
	}
}

// TestLongPollCancel: a client that gives up on its long poll gets its
// error at once, and a message sent after that is not received for it.
func TestLongPollCancel(t *testing.T) {
	t.Parallel()
	emu, c, _ := startEmulator(t)
	q := mustQueue(t, emu, "events", QueueOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL), WaitTimeSeconds: 20})
		done <- err
	}()
	waitFor(t, func() bool { return emu.Waiting() > 0 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ReceiveMessage = %v, want context.Canceled", err)
	}
	waitFor(t, func() bool { return emu.Waiting() == 0 })
	send(t, c, q.URL, "after")
	if m := emu.Messages("events"); len(m) != 1 || m[0].ReceiveCount != 0 {
		t.Errorf("Messages = %+v, want the message never received", m)
	}
}

// TestDeadLetter: a message received maxReceiveCount times moves to the
// dead-letter queue at the next receive, with its id and body.
func TestDeadLetter(t *testing.T) {
	t.Parallel()
	emu, c, _ := startEmulator(t)
	dlq := mustQueue(t, emu, "events-dlq", QueueOptions{})
	q := mustQueue(t, emu, "events", QueueOptions{DeadLetterQueue: "events-dlq", MaxReceiveCount: 2})
	id := send(t, c, q.URL, "poison")
	for i := 1; i <= 2; i++ {
		got := receive(t, c, q.URL, 0)
		if len(got) != 1 || receiveCount(got[0]) != i {
			t.Fatalf("receive %d = %+v, want the message with count %d", i, got, i)
		}
		emu.Advance(DefaultVisibilityTimeout)
	}
	if got := receive(t, c, q.URL, 0); len(got) != 0 {
		t.Fatalf("third receive = %+v, want nothing (moved to the dead-letter queue)", got)
	}
	dead := receive(t, c, dlq.URL, 0)
	if len(dead) != 1 || aws.ToString(dead[0].MessageId) != id || aws.ToString(dead[0].Body) != "poison" || len(emu.Messages("events")) != 0 {
		t.Fatalf("dead-letter queue = %+v, want the message %s", dead, id)
	}
}

// TestQueueOperations: CreateQueue with a RedrivePolicy and GetQueueUrl, as
// an operator's script would call them.
func TestQueueOperations(t *testing.T) {
	t.Parallel()
	emu, c, base := startEmulator(t)
	ctx := context.Background()
	dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("dlq")})
	if err != nil || aws.ToString(dlq.QueueUrl) != base+"/"+testAccountID+"/dlq" {
		t.Fatalf("CreateQueue(dlq) = %v, %v", dlq, err)
	}
	_, err = c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("events"), Attributes: map[string]string{
		"VisibilityTimeout": "0",
		"RedrivePolicy":     `{"deadLetterTargetArn":"arn:aws:sqs:eu-central-1:111122223333:dlq","maxReceiveCount":"1"}`,
	}})
	if err != nil {
		t.Fatalf("CreateQueue(events) = %v", err)
	}
	got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("events")})
	if err != nil {
		t.Fatalf("GetQueueUrl = %v", err)
	}
	url := aws.ToString(got.QueueUrl)
	send(t, c, url, "x")
	if m := receive(t, c, url, 0); len(m) != 1 { // visibility 0: visible again at once
		t.Fatalf("receive = %d messages, want 1", len(m))
	}
	if m := receive(t, c, url, 0); len(m) != 0 || len(emu.Messages("dlq")) != 1 {
		t.Fatalf("second receive = %d messages, dlq %+v; want the message moved after 1 receive", len(m), emu.Messages("dlq"))
	}
	_, err = c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("events"), Attributes: map[string]string{"VisibilityTimeout": "5"}})
	awsemutest.WantError(t, "CreateQueue(same name, other attributes)", err, "QueueAlreadyExists", 400)
	_, err = c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("nope")})
	awsemutest.WantError(t, "GetQueueUrl(nope)", err, "AWS.SimpleQueueService.NonExistentQueue", 400)
}

func TestErrors(t *testing.T) {
	t.Parallel()
	emu, c, base := startEmulator(t)
	q := mustQueue(t, emu, "events", QueueOptions{})
	ctx := context.Background()
	_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(base + "/" + testAccountID + "/missing")})
	awsemutest.WantError(t, "ReceiveMessage(missing queue)", err, "AWS.SimpleQueueService.NonExistentQueue", 400)
	var missing *types.QueueDoesNotExist
	if !errors.As(err, &missing) {
		t.Errorf("ReceiveMessage(missing queue) = %T, want *types.QueueDoesNotExist", err)
	}
	_, err = c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(base + "/999999999999/events")})
	awsemutest.WantError(t, "ReceiveMessage(other account)", err, "AWS.SimpleQueueService.NonExistentQueue", 400)
	_, err = c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL), MaxNumberOfMessages: 11})
	awsemutest.WantError(t, "ReceiveMessage(11 messages)", err, "InvalidParameterValue", 400)
	_, err = c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL), WaitTimeSeconds: 21})
	awsemutest.WantError(t, "ReceiveMessage(wait 21 s)", err, "InvalidParameterValue", 400)

	// A server fault is retried by the SDK: one injected failure costs one
	// more attempt, and the call succeeds.
	emu.FailNext("ReceiveMessage", "InternalFailure", 1)
	emu.ResetCounts()
	if _, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL)}); err != nil || emu.Calls("ReceiveMessage") != 2 {
		t.Errorf("ReceiveMessage after one InternalFailure = %v in %d calls, want success in 2", err, emu.Calls("ReceiveMessage"))
	}
	emu.FailNext("ReceiveMessage", "InternalFailure", 3)
	_, err = c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL)})
	awsemutest.WantError(t, "ReceiveMessage(3 InternalFailures)", err, "InternalError", 500)

	bad := sqs.NewFromConfig(awsemutest.ClientConfig(base, testRegion, aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: "wrong"}))
	_, err = bad.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL)})
	awsemutest.WantError(t, "ReceiveMessage(wrong secret)", err, "InvalidSignatureException", 400)
}

// TestEndpointFromEnvironment reaches the emulator through the SDK's own
// AWS_ENDPOINT_URL_SQS and LoadDefaultConfig. It cannot run in parallel: it
// sets environment variables.
func TestEndpointFromEnvironment(t *testing.T) {
	emu, _, base := startEmulator(t)
	q := mustQueue(t, emu, "events", QueueOptions{})
	dir := t.TempDir()
	t.Setenv("AWS_ENDPOINT_URL_SQS", base)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(testRegion),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "")))
	if err != nil {
		t.Fatalf("LoadDefaultConfig = %v", err)
	}
	send(t, sqs.NewFromConfig(cfg), q.URL, "via env")
	if m := emu.Messages("events"); len(m) != 1 || m[0].Body != "via env" {
		t.Errorf("Messages = %+v, want the message sent through AWS_ENDPOINT_URL_SQS", m)
	}
}

// waitFor polls cond until it holds, failing t after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
	}
}
