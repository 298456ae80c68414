package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/config"
)

// STREAM_RECONCILE_INTERVAL: as set, else on (1m) only when IVS events are
// received.
func TestStreamReconcileInterval(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		value        string
		token, queue bool
		want         time.Duration
	}{
		{"", false, false, 0},
		{"", true, false, time.Minute},
		{"", false, true, time.Minute},
		{" ", true, true, time.Minute},
		{"0", true, false, 0},
		{"5m", false, false, 5 * time.Minute},
		{"10s", true, false, 10 * time.Second},
		{"24h", false, true, 24 * time.Hour},
	} {
		vars := map[string]string{"STREAM_RECONCILE_INTERVAL": tt.value}
		if tt.token {
			vars["IVS_EVENTS_TOKEN"] = "0123456789abcdef0123"
		}
		if tt.queue {
			vars["IVS_EVENTS_QUEUE_URL"] = "https://sqs.us-east-1.amazonaws.com/123456789012/ivs-events"
		}
		c, err := config.Load(env(vars))
		if err != nil {
			t.Fatalf("STREAM_RECONCILE_INTERVAL=%q: %v", tt.value, err)
		}
		if got := c.StreamReconcileInterval(); got != tt.want {
			t.Errorf("STREAM_RECONCILE_INTERVAL=%q, token %v, queue %v: StreamReconcileInterval() = %v, want %v",
				tt.value, tt.token, tt.queue, got, tt.want)
		}
	}
	for _, bad := range []string{"1s", "9s", "25h", "-1m", "often"} {
		c, err := config.Load(env(map[string]string{"STREAM_RECONCILE_INTERVAL": bad}))
		var ve *config.VarError
		if !errors.As(err, &ve) || ve.Name != "STREAM_RECONCILE_INTERVAL" {
			t.Errorf("STREAM_RECONCILE_INTERVAL=%q: error %v, want one naming STREAM_RECONCILE_INTERVAL", bad, err)
		}
		if got := c.StreamReconcileInterval(); got != 0 {
			t.Errorf("STREAM_RECONCILE_INTERVAL=%q: StreamReconcileInterval() = %v, want the default 0", bad, got)
		}
	}
	if got := printed(t, map[string]string{"STREAM_RECONCILE_INTERVAL": "90s"}); !strings.Contains(got, "STREAM_RECONCILE_INTERVAL=1m30s\n") {
		t.Errorf("Print() lacks STREAM_RECONCILE_INTERVAL=1m30s:\n%s", got)
	}
}
