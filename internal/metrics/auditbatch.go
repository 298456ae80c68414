package metrics

import "github.com/prometheus/client_golang/prometheus"

// AuditBatches holds the collectors of the audit rows' group commit (the
// PostgreSQL store's). A nil *AuditBatches records nothing.
type AuditBatches struct {
	rows    prometheus.Histogram
	retried prometheus.Counter
}

// AuditBatches registers the group commit's collectors, queued reading at
// each scrape how many rows wait for their statement, and returns them;
// nil on a nil m.
func (m *Metrics) AuditBatches(queued func() int) (*AuditBatches, error) {
	if m == nil {
		return nil, nil
	}
	a := &AuditBatches{
		rows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "audit_batch_rows",
			Help: "Audit rows per INSERT of the group commit (its count is the statements sent, its sum the rows).",
			// Up to the batch's bound, 256 rows.
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		retried: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "audit_batch_retries_total",
			Help: "Group-commit INSERTs that PostgreSQL refused, whose rows were then written one by one.",
		}),
	}
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "audit_rows_queued",
		Help: "Audit rows waiting for their group-commit INSERT.",
	}, func() float64 { return float64(queued()) })
	if err := m.Register(a.rows, a.retried, queue); err != nil {
		return nil, err
	}
	return a, nil
}

// AuditBatch records one statement of rows rows, retried row by row when
// retried.
func (a *AuditBatches) AuditBatch(rows int, retried bool) {
	if a == nil {
		return
	}
	a.rows.Observe(float64(rows))
	if retried {
		a.retried.Inc()
	}
}
