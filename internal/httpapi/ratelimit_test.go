package httpapi

import (
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/limit"
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
		l := newRequestLimits(nil, c.perMinute, c.perMinute)
		if got := l.user.Rate(); got != c.want {
			t.Errorf("per-user rate for %d a minute = %+v, want %+v", c.perMinute, got, c.want)
		}
		if got := l.ip.Rate(); got != c.want {
			t.Errorf("per-IP rate for %d a minute = %+v, want %+v", c.perMinute, got, c.want)
		}
	}
}
