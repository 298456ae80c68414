package metrics

import "github.com/prometheus/client_golang/prometheus"

// The events of the SQS event queue's poller, as the label values of
// ivs_ingest_event_queue_messages_total.
const (
	queueReceived  = "received"
	queueDeleted   = "deleted"
	queueMalformed = "malformed"
	queueRetried   = "retried"
)

// eventQueueMetrics are the collectors of the event queue (IVS_EVENTS_QUEUE_URL).
type eventQueueMetrics struct {
	messages      *prometheus.CounterVec
	receiveErrors prometheus.Counter
}

// newEventQueueMetrics registers the event queue's collectors on reg, each
// series at zero, so a dashboard sees them before the first message.
func newEventQueueMetrics(reg *prometheus.Registry) *eventQueueMetrics {
	q := &eventQueueMetrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "event_queue_messages_total",
			Help: "Messages of the IVS event queue (IVS_EVENTS_QUEUE_URL), by event: received, deleted (handled, or malformed), " +
				"malformed (no event: deleted without retry), retried (left for redelivery after a failure).",
		}, []string{"event"}),
		receiveErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "event_queue_receive_errors_total",
			Help: "ReceiveMessage calls to the IVS event queue that failed (after the SDK's retries); each is followed by a backoff.",
		}),
	}
	reg.MustRegister(q.messages, q.receiveErrors)
	for _, e := range []string{queueReceived, queueDeleted, queueMalformed, queueRetried} {
		q.messages.WithLabelValues(e)
	}
	return q
}

// EventQueueReceived records n messages received from the event queue.
func (m *Metrics) EventQueueReceived(n int) {
	if m == nil {
		return
	}
	m.eventQueue.messages.WithLabelValues(queueReceived).Add(float64(n))
}

// EventQueueDeleted records a message deleted from the event queue.
func (m *Metrics) EventQueueDeleted() {
	if m == nil {
		return
	}
	m.eventQueue.messages.WithLabelValues(queueDeleted).Inc()
}

// EventQueueMalformed records a message of the event queue that is no
// event, deleted without retry.
func (m *Metrics) EventQueueMalformed() {
	if m == nil {
		return
	}
	m.eventQueue.messages.WithLabelValues(queueMalformed).Inc()
}

// EventQueueRetried records a message of the event queue left for
// redelivery.
func (m *Metrics) EventQueueRetried() {
	if m == nil {
		return
	}
	m.eventQueue.messages.WithLabelValues(queueRetried).Inc()
}

// EventQueueReceiveError records a failed ReceiveMessage call.
func (m *Metrics) EventQueueReceiveError() {
	if m == nil {
		return
	}
	m.eventQueue.receiveErrors.Inc()
}
