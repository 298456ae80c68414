package config_test

import (
	"strings"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/config"
)

func TestIVSEventsToken(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(map[string]string{}))
	if err != nil || !c.IVSEventsToken.IsZero() {
		t.Fatalf("Load() without IVS_EVENTS_TOKEN = %v, token set %v; want no error and no token (no events route)", err, !c.IVSEventsToken.IsZero())
	}
	const token = "ivs-events-token-DO-NOT-LEAK-0123"
	c, err = config.Load(env(map[string]string{"IVS_EVENTS_TOKEN": token}))
	if err != nil || c.IVSEventsToken.Reveal() != token {
		t.Fatalf("Load(IVS_EVENTS_TOKEN of %d characters) = %v; want it taken", len(token), err)
	}
	// Too short: an error naming the variable, never the value.
	_, err = config.Load(env(map[string]string{"IVS_EVENTS_TOKEN": "short-DO-NOT-L"}))
	wantVarError(t, "short token", err, "IVS_EVENTS_TOKEN", "IVS_EVENTS_TOKEN: is 14 characters long, want at least 16")
	if err != nil && strings.Contains(err.Error(), "short-DO-NOT-L") {
		t.Errorf("short token: the error quotes the token")
	}
	// Given as a file, like every other secret; the file is named.
	c, err = loadFrom(map[string]string{"IVS_EVENTS_TOKEN_FILE": file(t, token+"\n")}, nil)
	if err != nil || c.IVSEventsToken.Reveal() != token {
		t.Fatalf("IVS_EVENTS_TOKEN_FILE: %v; want the file's token", err)
	}
	path := file(t, "short\n")
	_, err = loadFrom(map[string]string{"IVS_EVENTS_TOKEN_FILE": path}, nil)
	wantVarError(t, "short token from a file", err, "IVS_EVENTS_TOKEN", "IVS_EVENTS_TOKEN (from IVS_EVENTS_TOKEN_FILE): is 5 characters long")
	// And from Secrets Manager.
	const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ivs-events-AbCdEf"
	c, err = loadFrom(map[string]string{"IVS_EVENTS_TOKEN_SECRET_ARN": arn}, &secretsManager{values: map[string]string{arn: token}})
	if err != nil || c.IVSEventsToken.Reveal() != token {
		t.Fatalf("IVS_EVENTS_TOKEN_SECRET_ARN: %v; want the secret's token", err)
	}
}

func TestStreamStatusRequestsPerMinute(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		value string
		want  int
	}{{"", 60}, {"0", 0}, {"600", 600}} {
		c, err := config.Load(env(map[string]string{"STREAM_STATUS_REQUESTS_PER_MINUTE": tt.value}))
		if err != nil || c.StreamStatusRequestsPerMinute != tt.want {
			t.Errorf("STREAM_STATUS_REQUESTS_PER_MINUTE=%q: %d, %v; want %d", tt.value, c.StreamStatusRequestsPerMinute, err, tt.want)
		}
	}
	for _, bad := range []string{"-1", "lots"} {
		_, err := config.Load(env(map[string]string{"STREAM_STATUS_REQUESTS_PER_MINUTE": bad}))
		if err == nil || !strings.Contains(err.Error(), "STREAM_STATUS_REQUESTS_PER_MINUTE") {
			t.Errorf("STREAM_STATUS_REQUESTS_PER_MINUTE=%q: error %v, want one naming the variable", bad, err)
		}
	}
}
