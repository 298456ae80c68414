package httpapi

import (
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/budget"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/limit"
	"github.com/ivs-ingest/ivs-ingest/internal/metrics"
)

// A user's (or an address's) burst is at most 10 requests, whatever the
// rate: a larger one would let a token start that many IVS-bound requests
// together.
func TestRequestBurstIsCapped(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		perMinute int
		want      limit.Rate
	}{
		{120, limit.Rate{Interval: 500 * time.Millisecond, Burst: 10}},
		{3, limit.Rate{Interval: 20 * time.Second, Burst: 3}},
		{0, limit.Rate{}},
	} {
		l := newRequestLimits(nil, c.perMinute, c.perMinute, c.perMinute)
		if got := l.user.Rate(); got != c.want {
			t.Errorf("per-user rate for %d a minute = %+v, want %+v", c.perMinute, got, c.want)
		}
		if got := l.ip.Rate(); got != c.want {
			t.Errorf("per-IP rate for %d a minute = %+v, want %+v", c.perMinute, got, c.want)
		}
		if got := l.status.Rate(); got != c.want {
			t.Errorf("per-user stream status rate for %d a minute = %+v, want %+v", c.perMinute, got, c.want)
		}
	}
}

func TestLimitKeyOfIP(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"203.0.113.7":          "203.0.113.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"::ffff:203.0.113.7":   "::ffff:203.0.113.7",
		"not an address":       "not an address",
	} {
		if got := limitKeyOfIP(in); got != want {
			t.Errorf("limitKeyOfIP(%q) = %q, want %q", in, got, want)
		}
	}
}

// The limits' names are the metrics' labels of their refusals.
func TestLimitNamesAreMetricLabels(t *testing.T) {
	t.Parallel()
	for got, want := range map[string]string{
		limitUserRequests:       metrics.LimitUserRequests,
		limitIPRequests:         metrics.LimitIPRequests,
		ingest.LimitRevocations: metrics.LimitRevocations,
		budget.LimitSellerShare: metrics.LimitSellerShare,
	} {
		if got != want {
			t.Errorf("limit %q is labelled %q in metrics", got, want)
		}
	}
}
