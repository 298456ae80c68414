package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PoolStats is a snapshot of a database connection pool.
type PoolStats struct {
	MaxConns          int32
	AcquiredConns     int32
	IdleConns         int32
	ConstructingConns int32
	// Cumulative since the pool opened.
	AcquireCount         int64
	AcquireDuration      time.Duration
	EmptyAcquireCount    int64 // acquires that had to wait for a connection
	CanceledAcquireCount int64
}

// WatchPool registers collectors that read stats at each scrape.
func (m *Metrics) WatchPool(stats func() PoolStats) error {
	if m == nil {
		return nil
	}
	return m.Register(poolCollector{stats: stats})
}

var (
	poolConns = prometheus.NewDesc(namespace+"_db_pool_connections",
		"Connections in the database pool, by state (acquired, idle, constructing).", []string{"state"}, nil)
	poolMax = prometheus.NewDesc(namespace+"_db_pool_max_connections",
		"The database pool's size limit (DATABASE_MAX_CONNS).", nil, nil)
	poolAcquires = prometheus.NewDesc(namespace+"_db_pool_acquires_total",
		"Connections acquired from the database pool.", nil, nil)
	poolAcquireWait = prometheus.NewDesc(namespace+"_db_pool_acquire_duration_seconds_total",
		"Total time spent acquiring connections from the database pool.", nil, nil)
	poolEmptyAcquires = prometheus.NewDesc(namespace+"_db_pool_empty_acquires_total",
		"Acquires that found no idle connection and had to wait for one; a steady rise means the pool is too small.", nil, nil)
	poolCanceledAcquires = prometheus.NewDesc(namespace+"_db_pool_canceled_acquires_total",
		"Acquires abandoned because the request's context ended first.", nil, nil)
)

type poolCollector struct{ stats func() PoolStats }

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolConns, poolMax, poolAcquires, poolAcquireWait, poolEmptyAcquires, poolCanceledAcquires} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(s.AcquiredConns), "acquired")
	ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(s.IdleConns), "idle")
	ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(s.ConstructingConns), "constructing")
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxConns))
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(s.AcquireCount))
	ch <- prometheus.MustNewConstMetric(poolAcquireWait, prometheus.CounterValue, s.AcquireDuration.Seconds())
	ch <- prometheus.MustNewConstMetric(poolEmptyAcquires, prometheus.CounterValue, float64(s.EmptyAcquireCount))
	ch <- prometheus.MustNewConstMetric(poolCanceledAcquires, prometheus.CounterValue, float64(s.CanceledAcquireCount))
}
