package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/metrics"
	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	return rec.Body.String()
}

func TestStreamMetrics(t *testing.T) {
	t.Parallel()
	var nilMetrics *metrics.Metrics
	nilMetrics.StreamEvent(streamstatus.KindStreamStart, streamstatus.Applied) // records nothing, does not panic
	nilMetrics.StreamReconcile("done", 3)

	m := metrics.New("test")
	before := scrape(t, m)
	for _, series := range []string{
		`ivs_ingest_stream_events_total{kind="stream_start",outcome="applied"} 0`,
		`ivs_ingest_stream_events_total{kind="starvation_end",outcome="failed"} 0`,
		`ivs_ingest_stream_events_total{kind="unparsed",outcome="malformed"} 0`,
		`ivs_ingest_stream_reconciliations_total{outcome="skipped"} 0`,
		`ivs_ingest_stream_reconcile_changed_total 0`,
	} {
		if !strings.Contains(before, series+"\n") {
			t.Errorf("a new registry lacks %s", series)
		}
	}
	m.StreamEvent(streamstatus.KindStreamEnd, streamstatus.Stale)
	m.StreamEvent(streamstatus.KindStreamEnd, streamstatus.Stale)
	m.StreamEvent("", streamstatus.Malformed)
	m.StreamReconcile("done", 3)
	m.StreamReconcile("failed", 0)
	after := scrape(t, m)
	for _, series := range []string{
		`ivs_ingest_stream_events_total{kind="stream_end",outcome="stale"} 2`,
		`ivs_ingest_stream_events_total{kind="unparsed",outcome="malformed"} 1`,
		`ivs_ingest_stream_reconciliations_total{outcome="done"} 1`,
		`ivs_ingest_stream_reconciliations_total{outcome="failed"} 1`,
		`ivs_ingest_stream_reconcile_changed_total 3`,
	} {
		if !strings.Contains(after, series+"\n") {
			t.Errorf("after counting, /metrics lacks %s", series)
		}
	}
	if strings.Contains(after, `kind=""`) {
		t.Error(`a series has an empty kind label`)
	}
}
