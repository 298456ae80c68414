package lambdahttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
)

// ivsEvent is AWS's sample IVS Stream State Change event (Amazon IVS User
// Guide, "Using Amazon EventBridge with IVS"), as a rule whose target is the
// function hands it over.
const ivsEvent = `{
  "version": "0",
  "id": "01234567-0123-0123-0123-012345678901",
  "detail-type": "IVS Stream State Change",
  "source": "aws.ivs",
  "account": "123456789012",
  "time": "2017-06-12T10:23:43Z",
  "region": "us-west-2",
  "resources": ["arn:aws:ivs:us-west-2:123456789012:channel/12345678-1a23-4567-a1bc-1a2b34567890"],
  "detail": {"event_name": "Stream Start", "channel_name": "Your Channel DO-NOT-LOG", "stream_id": "st-ABCDEfghij01234KLMN5678"}
}`

// applier stands for streamstatus.Service.Receive: it refuses an IVS event
// without a channel ARN as malformed, as Receive does, and fails while the
// store is down.
type applier struct {
	mu      sync.Mutex
	applied []string
	down    bool
}

func (a *applier) apply(_ context.Context, raw []byte) error {
	var ev struct {
		Resources []string `json:"resources"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil || len(ev.Resources) == 0 {
		return fmt.Errorf("%w: no channel ARN in resources", streamstatus.ErrMalformed)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.down {
		return errors.New("apply stream event: dial tcp 10.0.0.5:5432: connection refused")
	}
	a.applied = append(a.applied, string(raw))
	return nil
}

func TestEventBridgeEventsGoToTheirHandler(t *testing.T) {
	t.Parallel()
	httpCalls := 0
	a := &applier{}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	h := New(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { httpCalls++ }), logger, WithEventBridge(a.apply))

	// Applied: the event whole, no HTTP handler.
	if _, err := h.Invoke(context.Background(), []byte(ivsEvent)); err != nil {
		t.Fatalf("Invoke(IVS event) = %v, want it applied", err)
	}
	if len(a.applied) != 1 || a.applied[0] != ivsEvent {
		t.Errorf("applied %q, want the event as handed over", a.applied)
	}

	// Malformed: dropped, and the invocation succeeds so Lambda does not
	// retry it.
	noChannel := strings.Replace(ivsEvent, `["arn:aws:ivs:us-west-2:123456789012:channel/12345678-1a23-4567-a1bc-1a2b34567890"]`, `[]`, 1)
	if _, err := h.Invoke(context.Background(), []byte(noChannel)); err != nil {
		t.Errorf("Invoke(IVS event without a channel) = %v, want nil: Lambda must not retry bad input", err)
	}
	if !strings.Contains(logs.String(), "malformed") {
		t.Errorf("the malformed event was not logged: %s", logs.String())
	}

	// The store down: the invocation fails, so Lambda retries it.
	a.down = true
	if _, err := h.Invoke(context.Background(), []byte(ivsEvent)); err == nil {
		t.Error("Invoke(IVS event) with the store down = nil, want an error (Lambda retries)")
	}
	a.down = false
	if httpCalls != 0 {
		t.Errorf("the HTTP handler ran %d times for EventBridge events", httpCalls)
	}
	if strings.Contains(logs.String(), "DO-NOT-LOG") {
		t.Errorf("the log quotes the event: %s", logs.String())
	}

	// HTTP events still go to the HTTP handler.
	payload, err := json.Marshal(functionURLEvent())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Invoke(context.Background(), payload); err != nil || httpCalls != 1 {
		t.Errorf("Invoke(function URL event) = %v, HTTP handler ran %d times; want it served once", err, httpCalls)
	}
}

// Only the whole shape of an EventBridge event is one; every other event
// that is not an HTTP one fails closed, as without the option.
func TestOtherEventsStillFailClosed(t *testing.T) {
	t.Parallel()
	a := &applier{}
	h := New(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("the HTTP handler ran") }), nil, WithEventBridge(a.apply))
	var withoutDetail map[string]any
	if err := json.Unmarshal([]byte(ivsEvent), &withoutDetail); err != nil {
		t.Fatal(err)
	}
	delete(withoutDetail, "detail")
	partial, _ := json.Marshal(withoutDetail)
	var withContext map[string]any
	_ = json.Unmarshal([]byte(ivsEvent), &withContext)
	withContext["requestContext"] = map[string]any{"http": map[string]any{"method": "POST"}}
	disguised, _ := json.Marshal(withContext)
	for name, payload := range map[string]string{
		"not json":                         `{"version":"0","detail-type":`,
		"an array":                         `[` + ivsEvent + `]`,
		"an S3 event":                      `{"Records":[{"eventSource":"aws:s3"}]}`,
		"an SQS event":                     `{"Records":[{"eventSource":"aws:sqs","body":` + fmt.Sprintf("%q", ivsEvent) + `}]}`,
		"EventBridge fields but no detail": string(partial),
		"EventBridge and HTTP fields":      string(disguised),
		"a REST API (1.0) event":           `{"resource":"/","path":"/","httpMethod":"GET","headers":{},"requestContext":{"httpMethod":"GET"}}`,
	} {
		if _, err := h.Invoke(context.Background(), []byte(payload)); err == nil {
			t.Errorf("Invoke(%s) = nil error, want the invocation to fail", name)
		}
	}
	if len(a.applied) != 0 {
		t.Errorf("applied %d events that are not EventBridge events", len(a.applied))
	}

	// Without the option, an EventBridge event fails like any other.
	bare := New(http.NotFoundHandler(), nil)
	if _, err := bare.Invoke(context.Background(), []byte(ivsEvent)); err == nil {
		t.Error("Invoke(IVS event) without WithEventBridge = nil error, want a failure")
	}
}

func TestEventBridgePanicFailsTheInvocation(t *testing.T) {
	t.Parallel()
	h := New(http.NotFoundHandler(), nil, WithEventBridge(func(context.Context, []byte) error { panic("boom") }))
	if _, err := h.Invoke(context.Background(), []byte(ivsEvent)); err == nil {
		t.Error("Invoke of a panicking apply = nil error, want a failed invocation (Lambda retries)")
	}
}
