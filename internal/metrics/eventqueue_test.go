package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, err := io.ReadAll(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEventQueue(t *testing.T) {
	t.Parallel()
	m := New("test")
	if out := scrape(t, m); !strings.Contains(out, `ivs_ingest_event_queue_messages_total{event="malformed"} 0`) ||
		!strings.Contains(out, "ivs_ingest_event_queue_receive_errors_total 0") {
		t.Fatalf("before any message, the series are missing:\n%s", out)
	}
	m.EventQueueReceived(3)
	m.EventQueueDeleted()
	m.EventQueueDeleted()
	m.EventQueueMalformed()
	m.EventQueueRetried()
	m.EventQueueReceiveError()
	out := scrape(t, m)
	for _, want := range []string{
		`ivs_ingest_event_queue_messages_total{event="received"} 3`,
		`ivs_ingest_event_queue_messages_total{event="deleted"} 2`,
		`ivs_ingest_event_queue_messages_total{event="malformed"} 1`,
		`ivs_ingest_event_queue_messages_total{event="retried"} 1`,
		`ivs_ingest_event_queue_receive_errors_total 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	var none *Metrics
	none.EventQueueReceived(1) // a nil *Metrics records nothing, and does not panic
	none.EventQueueReceiveError()
}
