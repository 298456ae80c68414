package eventqueue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsemutest"
	"github.com/ivs-ingest/ivs-ingest/internal/metrics"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
	"github.com/ivs-ingest/ivs-ingest/internal/sqsemu"
	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
)

const (
	testRegion = "eu-west-1"
	testKeyID  = "AKIAEVENTQUEUETEST01"
	testSecret = "eventqueue/secret+Key0123456789abcdefgh"
	// bodyMarker is in every message body: no log line may carry it.
	bodyMarker = "BODY-DO-NOT-LOG"
)

// counts is the Metrics of a test.
type counts struct {
	received, deleted, malformed, retried, receiveErrors atomic.Int64
}

func (c *counts) EventQueueReceived(n int) { c.received.Add(int64(n)) }
func (c *counts) EventQueueDeleted()       { c.deleted.Add(1) }
func (c *counts) EventQueueMalformed()     { c.malformed.Add(1) }
func (c *counts) EventQueueRetried()       { c.retried.Add(1) }
func (c *counts) EventQueueReceiveError()  { c.receiveErrors.Add(1) }
func (c *counts) String() string {
	return fmt.Sprintf("received %d, deleted %d, malformed %d, retried %d, receive errors %d",
		c.received.Load(), c.deleted.Load(), c.malformed.Load(), c.retried.Load(), c.receiveErrors.Load())
}

// syncBuffer is a log destination the poller's goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is an emulated queue, the real SDK client on it, and what a poller
// of it reports.
type env struct {
	emu     *sqsemu.Emulator
	client  *sqs.Client
	url     string // the emulator's
	queue   sqsemu.Queue
	metrics *counts
	logs    *syncBuffer
}

func newEnv(t *testing.T, opts sqsemu.QueueOptions) *env {
	t.Helper()
	emu, err := sqsemu.New(sqsemu.Config{Region: testRegion, AccessKeyID: testKeyID, SecretAccessKey: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	emu.StopClock()
	if opts.DeadLetterQueue != "" {
		if _, err := emu.CreateQueue(opts.DeadLetterQueue, sqsemu.QueueOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	q, err := emu.CreateQueue("ivs-events", opts)
	if err != nil {
		t.Fatal(err)
	}
	client := sqs.NewFromConfig(awsemutest.ClientConfig(srv.URL, testRegion, aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}))
	return &env{emu: emu, client: client, url: srv.URL, queue: q, metrics: &counts{}, logs: &syncBuffer{}}
}

func (e *env) options() Options {
	return Options{
		WaitTime:       20 * time.Second,
		RetryBase:      time.Second,
		RetryMax:       4 * time.Second,
		ReceiveBackoff: 20 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics:        e.metrics,
	}
}

func (e *env) send(t *testing.T, body string) {
	t.Helper()
	if _, err := e.emu.SendMessage("ivs-events", body); err != nil {
		t.Fatal(err)
	}
}

// run starts p and returns a function that stops it and waits for Run to
// return (failing t if it does not within 10 s).
func run(t *testing.T, p *Poller) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return within 10 s of its context's end")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not within 10 s", what)
		}
	}
}

func (e *env) noBodyInLogs(t *testing.T) {
	t.Helper()
	if logs := e.logs.String(); strings.Contains(logs, bodyMarker) {
		t.Errorf("a log line carries a message body:\n%s", logs)
	}
}

func TestAppliedMessagesAreDeleted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqsemu.QueueOptions{})
	var mu sync.Mutex
	var got []string
	p := NewPoller(e.client, e.queue.URL, func(_ context.Context, body []byte) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, string(body))
		return nil
	}, e.options())
	for i := range 3 {
		e.send(t, fmt.Sprintf(`{"n":%d,"m":%q}`, i, bodyMarker))
	}
	run(t, p)
	waitFor(t, "3 deletions", func() bool { return e.metrics.deleted.Load() == 3 })
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || len(e.emu.Messages("ivs-events")) != 0 || e.metrics.received.Load() != 3 || e.metrics.retried.Load() != 0 {
		t.Errorf("handled %q, queue %+v, metrics %v; want 3 handled, none left", got, e.emu.Messages("ivs-events"), e.metrics)
	}
	e.noBodyInLogs(t)
}

// TestMalformedIsDeleted: the handler's final error (streamstatus's
// ErrMalformed, as the wiring marks it) deletes the message and counts it.
func TestMalformedIsDeleted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqsemu.QueueOptions{})
	p := NewPoller(e.client, e.queue.URL, func(context.Context, []byte) error {
		return Final(fmt.Errorf("parse: %w", streamstatus.ErrMalformed))
	}, e.options())
	e.send(t, "not json "+bodyMarker)
	run(t, p)
	waitFor(t, "the deletion", func() bool { return e.metrics.deleted.Load() == 1 })
	if e.metrics.malformed.Load() != 1 || e.metrics.retried.Load() != 0 || len(e.emu.Messages("ivs-events")) != 0 {
		t.Errorf("metrics %v, queue %+v; want the message deleted and counted malformed", e.metrics, e.emu.Messages("ivs-events"))
	}
	e.noBodyInLogs(t)
}

func TestFinal(t *testing.T) {
	t.Parallel()
	err := Final(fmt.Errorf("x: %w", streamstatus.ErrMalformed))
	if !IsFinal(err) || !errors.Is(err, streamstatus.ErrMalformed) || !IsFinal(fmt.Errorf("wrapped: %w", err)) {
		t.Errorf("Final(ErrMalformed): IsFinal %v, Is(ErrMalformed) %v; want both", IsFinal(err), errors.Is(err, streamstatus.ErrMalformed))
	}
	if Final(nil) != nil || IsFinal(errors.New("transient")) || IsFinal(nil) {
		t.Error("Final(nil) is not nil, or an unmarked error is final")
	}
}

// TestFailureIsRedelivered: a message whose handler fails stays, invisible
// for RetryBase; it comes back with ApproximateReceiveCount 2, is handled
// and deleted.
func TestFailureIsRedelivered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqsemu.QueueOptions{})
	var calls atomic.Int64
	var secondCount atomic.Int64
	p := NewPoller(e.client, e.queue.URL, func(context.Context, []byte) error {
		if calls.Add(1) == 1 {
			return errors.New("database down")
		}
		secondCount.Store(int64(e.emu.Messages("ivs-events")[0].ReceiveCount))
		return nil
	}, e.options())
	e.send(t, bodyMarker)
	run(t, p)
	waitFor(t, "the retry", func() bool { return e.metrics.retried.Load() == 1 })
	m := e.emu.Messages("ivs-events")
	if len(m) != 1 || !m[0].InFlight || m[0].ReceiveCount != 1 || e.metrics.deleted.Load() != 0 {
		t.Fatalf("after a failure: queue %+v, metrics %v; want the message kept, in flight", m, e.metrics)
	}
	e.emu.Advance(999 * time.Millisecond)
	if m := e.emu.Messages("ivs-events"); !m[0].InFlight {
		t.Fatalf("the message is visible again before RetryBase (1 s): %+v", m)
	}
	e.emu.Advance(time.Millisecond)
	waitFor(t, "the deletion", func() bool { return e.metrics.deleted.Load() == 1 })
	if calls.Load() != 2 || secondCount.Load() != 2 || len(e.emu.Messages("ivs-events")) != 0 {
		t.Errorf("handler calls %d, receive count at the second %d, queue %+v; want 2, 2, empty", calls.Load(), secondCount.Load(), e.emu.Messages("ivs-events"))
	}
	if !strings.Contains(e.logs.String(), "database down") {
		t.Errorf("the handler's error was not logged:\n%s", e.logs)
	}
	e.noBodyInLogs(t)
}

// TestDeadLetter: a message that always fails is received maxReceiveCount
// times, further off each time, then moved to the dead-letter queue by the
// queue's redrive policy.
func TestDeadLetter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqsemu.QueueOptions{DeadLetterQueue: "ivs-events-dlq", MaxReceiveCount: 3})
	var calls atomic.Int64
	p := NewPoller(e.client, e.queue.URL, func(context.Context, []byte) error {
		calls.Add(1)
		return errors.New("always fails")
	}, e.options())
	e.send(t, bodyMarker)
	run(t, p)
	for i := int64(1); i <= 3; i++ {
		waitFor(t, fmt.Sprintf("retry %d", i), func() bool { return e.metrics.retried.Load() == i })
		e.emu.Advance(p.retryDelay(int(i)))
	}
	waitFor(t, "the dead letter", func() bool { return len(e.emu.Messages("ivs-events-dlq")) == 1 })
	if calls.Load() != 3 || len(e.emu.Messages("ivs-events")) != 0 || e.metrics.deleted.Load() != 0 {
		t.Errorf("handler calls %d, queue %+v, metrics %v; want 3 calls, the message only in the dead-letter queue", calls.Load(), e.emu.Messages("ivs-events"), e.metrics)
	}
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	p := NewPoller(nil, "", nil, Options{RetryBase: 1500 * time.Millisecond, RetryMax: 10 * time.Second})
	for count, want := range map[int]time.Duration{0: 2 * time.Second, 1: 2 * time.Second, 2: 3 * time.Second, 3: 6 * time.Second, 4: 10 * time.Second, 50: 10 * time.Second} {
		if got := p.retryDelay(count); got != want {
			t.Errorf("retryDelay(%d) = %v, want %v", count, got, want)
		}
	}
	def := NewPoller(nil, "", nil, Options{})
	if got := def.retryDelay(1000); got != DefaultRetryMax {
		t.Errorf("retryDelay(1000) with the defaults = %v, want %v", got, DefaultRetryMax)
	}
}

// TestShutdownDuringLongPoll: cancelling Run's context ends the long poll
// at once (the emulator sees the client go), not after its 20 s.
func TestShutdownDuringLongPoll(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqsemu.QueueOptions{})
	p := NewPoller(e.client, e.queue.URL, func(context.Context, []byte) error { return nil }, e.options())
	stop := run(t, p)
	waitFor(t, "the long poll", func() bool { return e.emu.Waiting() == 1 })
	stop() // fails the test unless Run returns
	waitFor(t, "the emulator to see the poll end", func() bool { return e.emu.Waiting() == 0 })
	e.send(t, "after")
	if m := e.emu.Messages("ivs-events"); m[0].ReceiveCount != 0 || e.metrics.receiveErrors.Load() != 0 {
		t.Errorf("queue %+v, metrics %v; want the message never received and no receive error counted", m, e.metrics)
	}
}

// TestShutdownFinishesMessageInHand: Run returns only after the message in
// hand is handled and deleted; the rest of its batch is made visible again.
func TestShutdownFinishesMessageInHand(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqsemu.QueueOptions{})
	started, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	var ctxErr atomic.Value
	p := NewPoller(e.client, e.queue.URL, func(ctx context.Context, _ []byte) error {
		if calls.Add(1) == 1 {
			close(started)
			<-release
			ctxErr.Store(fmt.Sprint(ctx.Err()))
		}
		return nil
	}, e.options())
	e.send(t, "first")
	e.send(t, "second")
	stop := run(t, p)
	<-started
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Run returned while a message was being handled")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	<-stopped
	m := e.emu.Messages("ivs-events")
	if calls.Load() != 1 || ctxErr.Load() != "<nil>" || len(m) != 1 || m[0].Body != "second" || m[0].InFlight || e.metrics.deleted.Load() != 1 {
		t.Errorf("calls %d, handler ctx err %v, queue %+v, metrics %v; want the first handled (ctx alive) and deleted, the second visible again",
			calls.Load(), ctxErr.Load(), m, e.metrics)
	}
}

// TestReceiveErrorBackoff: failed receives are counted and followed by a
// growing, jittered, capped pause, never a spin; receiving resumes after.
func TestReceiveErrorBackoff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqsemu.QueueOptions{})
	opts := e.options()
	opts.ReceiveBackoff, opts.ReceiveBackoffMax = 100*time.Millisecond, 300*time.Millisecond
	p := NewPoller(e.client, e.queue.URL, func(context.Context, []byte) error { return nil }, opts)
	var mu sync.Mutex
	var pauses []time.Duration
	p.pause = func(ctx context.Context, d time.Duration) bool {
		mu.Lock()
		pauses = append(pauses, d)
		mu.Unlock()
		return pause(ctx, time.Millisecond)
	}
	// The SDK makes 3 attempts per call: 12 failures are 4 failed calls.
	e.emu.FailNext("ReceiveMessage", "InternalFailure", 12)
	e.send(t, bodyMarker)
	run(t, p)
	waitFor(t, "the message", func() bool { return e.metrics.deleted.Load() == 1 })
	mu.Lock()
	defer mu.Unlock()
	if e.metrics.receiveErrors.Load() != 4 || len(pauses) != 4 {
		t.Fatalf("receive errors %d, pauses %v; want 4 of each", e.metrics.receiveErrors.Load(), pauses)
	}
	for i, base := range []time.Duration{100, 200, 300, 300} {
		base *= time.Millisecond
		if pauses[i] < base/2 || pauses[i] > base {
			t.Errorf("pause %d = %v, want within [%v, %v]", i+1, pauses[i], base/2, base)
		}
	}
	if e.emu.Calls("ReceiveMessage") < 13 {
		t.Errorf("ReceiveMessage calls = %d, want the 12 failed attempts and a successful one", e.emu.Calls("ReceiveMessage"))
	}
}

// TestNew builds the poller as the wiring will: from a Config, through
// internal/awsconf, the endpoint override and static credentials.
func TestNew(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqsemu.QueueOptions{})
	handled := make(chan string, 1)
	// AWS's form of queue URL, with the endpoint (AWS_ENDPOINT_URL_SQS)
	// pointing at the emulator.
	p, err := New(context.Background(), Config{QueueURL: e.queue.URL, Region: testRegion, Endpoint: e.url,
		AccessKeyID: testKeyID, SecretAccessKey: secret.New(testSecret)},
		func(_ context.Context, b []byte) error { handled <- string(b); return nil }, e.options())
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	if !strings.HasPrefix(e.queue.URL, "https://sqs.eu-west-1.amazonaws.com/") {
		t.Fatalf("queue URL %s, want AWS's form", e.queue.URL)
	}
	e.send(t, "via New")
	run(t, p)
	if got := <-handled; got != "via New" {
		t.Errorf("handled %q", got)
	}
	for _, bad := range []Config{{}, {QueueURL: "://"}} {
		if _, err := New(context.Background(), bad, func(context.Context, []byte) error { return nil }, Options{}); err == nil {
			t.Errorf("New(%+v) = nil error", bad)
		}
	}
}

// TestNewLoopbackQueueURL: an http:// queue URL (an emulator's, as dev
// sets it) is its own endpoint.
func TestNewLoopbackQueueURL(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqsemu.QueueOptions{})
	e.emu.SetEndpoint(e.url)
	q, err := e.emu.CreateQueue("local", sqsemu.QueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(q.URL, "http://127.0.0.1:") {
		t.Fatalf("queue URL %s, want the emulator's", q.URL)
	}
	handled := make(chan string, 1)
	p, err := New(context.Background(), Config{QueueURL: q.URL, Region: testRegion, AccessKeyID: testKeyID, SecretAccessKey: secret.New(testSecret)},
		func(_ context.Context, b []byte) error { handled <- string(b); return nil }, e.options())
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	if _, err := e.emu.SendMessage("local", "local"); err != nil {
		t.Fatal(err)
	}
	run(t, p)
	if got := <-handled; got != "local" {
		t.Errorf("handled %q", got)
	}
}

var _ Metrics = (*metrics.Metrics)(nil)

// While handling fails (the database down), the rest of a failing batch is
// put back unhandled, and the poller probes one message per receive, so an
// outage does not spend the receive counts of the whole queue towards its
// dead-letter queue.
func TestFailingBatchIsPutBackAndProbed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqsemu.QueueOptions{})
	var calls atomic.Int64
	p := NewPoller(e.client, e.queue.URL, func(context.Context, []byte) error {
		calls.Add(1)
		return errors.New("database down")
	}, e.options())
	for range 5 {
		e.send(t, bodyMarker)
	}
	run(t, p)
	waitFor(t, "the batch put back", func() bool { return e.metrics.retried.Load() == 5 })
	if calls.Load() != 1 {
		t.Fatalf("handler calls for a failing batch of 5 = %d, want 1 (the rest put back unhandled)", calls.Load())
	}
	for _, m := range e.emu.Messages("ivs-events") {
		if !m.InFlight || m.ReceiveCount != 1 {
			t.Fatalf("after the failing batch: %+v; want every message in flight, received once", e.emu.Messages("ivs-events"))
		}
	}
	receives := e.emu.Calls("ReceiveMessage")
	e.emu.Advance(time.Second) // all five visible again
	waitFor(t, "five probes", func() bool { return calls.Load() == 6 })
	if n := e.emu.Calls("ReceiveMessage") - receives; n < 5 {
		t.Errorf("%d receives handed out 5 messages while failing, want one message per receive", n)
	}
}
