package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
)

// streamMetrics are the collectors of the stream status (internal/streamstatus).
type streamMetrics struct {
	events          *prometheus.CounterVec
	reconciliations *prometheus.CounterVec
	changed         prometheus.Counter
}

// KindUnparsed is the kind label of a body that was no event (outcome
// malformed): it has no kind.
const KindUnparsed = "unparsed"

// The outcomes of a reconciliation run (streamstatus.Metrics.StreamReconcile).
var reconcileOutcomes = []string{"done", "skipped", "failed"}

func newStreamMetrics(reg *prometheus.Registry) *streamMetrics {
	m := &streamMetrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "stream_events_total",
			Help: "IVS stream events received (EventBridge, through the route, a direct Lambda invocation or SQS), by kind " +
				"(stream_start, stream_end, session_ended, stream_failure, starvation_start, starvation_end, irrelevant, unparsed) and outcome " +
				"(applied, stale, duplicate, unknown_channel, irrelevant, malformed, failed).",
		}, []string{"kind", "outcome"}),
		reconciliations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "stream_reconciliations_total",
			Help: "Stream state reconciliations with IVS ListStreams, by outcome: done, skipped (another replica holds the lease), failed (in one region at least).",
		}, []string{"outcome"}),
		changed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "stream_reconcile_changed_total",
			Help: "Channels whose stored stream state a reconciliation corrected (events it missed or that were lost).",
		}),
	}
	reg.MustRegister(m.events, m.reconciliations, m.changed)
	for _, k := range []streamstatus.Kind{streamstatus.KindStreamStart, streamstatus.KindStreamEnd, streamstatus.KindSessionEnded,
		streamstatus.KindStreamFailure, streamstatus.KindStarvationStart, streamstatus.KindStarvationEnd} {
		for _, o := range []streamstatus.Outcome{streamstatus.Applied, streamstatus.Stale, streamstatus.Duplicate,
			streamstatus.UnknownChannel, streamstatus.Failed} {
			m.events.WithLabelValues(string(k), string(o))
		}
	}
	m.events.WithLabelValues(string(streamstatus.KindIrrelevant), string(streamstatus.Irrelevant))
	m.events.WithLabelValues(KindUnparsed, string(streamstatus.Malformed))
	for _, o := range reconcileOutcomes {
		m.reconciliations.WithLabelValues(o)
	}
	return m
}

// StreamEvent implements streamstatus.Metrics. An empty kind (a body that
// was no event) is counted as KindUnparsed.
func (m *Metrics) StreamEvent(kind streamstatus.Kind, outcome streamstatus.Outcome) {
	if m == nil {
		return
	}
	k := string(kind)
	if k == "" {
		k = KindUnparsed
	}
	m.stream.events.WithLabelValues(k, string(outcome)).Inc()
}

// StreamReconcile implements streamstatus.Metrics.
func (m *Metrics) StreamReconcile(outcome string, changed int) {
	if m == nil {
		return
	}
	m.stream.reconciliations.WithLabelValues(outcome).Inc()
	if changed > 0 {
		m.stream.changed.Add(float64(changed))
	}
}

var _ streamstatus.Metrics = (*Metrics)(nil)
