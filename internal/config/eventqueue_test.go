package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/config"
)

// IVS_EVENTS_QUEUE_URL: an https queue URL (http:// only on a loopback
// host), its region from the host, else AWS_REGION.
func TestEventsQueueURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		url, region string
		wantRegion  string
		wantErr     bool
	}{
		{"", "", "", false},
		{"https://sqs.eu-west-1.amazonaws.com/123456789012/ivs-events", "us-east-1", "eu-west-1", false},
		{"https://sqs.cn-north-1.amazonaws.com.cn/123456789012/ivs-events", "", "cn-north-1", false},
		{"https://ap-southeast-2.queue.amazonaws.com/123456789012/ivs-events", "", "ap-southeast-2", false},
		{"https://vpce-0abc-1234.sqs.eu-west-1.vpce.amazonaws.com/123456789012/ivs-events", "eu-central-1", "eu-central-1", false},
		{"https://sqs.us-east-2.amazonaws.com/123456789012/ivs-events.fifo", "", "us-east-2", false},
		{"http://127.0.0.1:4566/000000000000/ivs-events", "ca-central-1", "ca-central-1", false},
		{"http://localhost:9324/000000000000/ivs-events", "", "us-east-1", false},
		{"http://sqs.eu-west-1.amazonaws.com/123456789012/ivs-events", "", "", true}, // plain HTTP to AWS
		{"http://10.0.0.5/123456789012/ivs-events", "", "", true},
		{"ftp://sqs.eu-west-1.amazonaws.com/123456789012/ivs-events", "", "", true},
		{"https://sqs.eu-west-1.amazonaws.com/ivs-events", "", "", true},              // no account
		{"https://sqs.eu-west-1.amazonaws.com/123456789012/ivs events", "", "", true}, // bad name
		{"https://sqs.eu-west-1.amazonaws.com/123456789012/q?x=1", "", "", true},
		{"https://user:pw@sqs.eu-west-1.amazonaws.com/123456789012/q", "", "", true},
		{"ivs-events", "", "", true},
	} {
		c, err := config.Load(env(map[string]string{"SUPABASE_URL": "https://abc.supabase.co", "AWS_REGION": tt.region, "IVS_EVENTS_QUEUE_URL": tt.url}))
		if tt.wantErr {
			var verr *config.VarError
			if !errors.As(err, &verr) || verr.Name != "IVS_EVENTS_QUEUE_URL" || strings.Contains(err.Error(), "pw@") {
				t.Errorf("Load(IVS_EVENTS_QUEUE_URL=%s) = %v, want an error naming the variable (without a password)", tt.url, err)
			}
			continue
		}
		if err != nil || c.EventsQueueURL != tt.url || c.EventsQueueRegion != tt.wantRegion {
			t.Errorf("Load(IVS_EVENTS_QUEUE_URL=%s, AWS_REGION=%s) = %q in %q, %v; want region %q",
				tt.url, tt.region, c.EventsQueueURL, c.EventsQueueRegion, err, tt.wantRegion)
		}
	}
}

func TestSQSEndpoint(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, ""},
		{map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, "http://127.0.0.1:4566"},
		{map[string]string{"AWS_ENDPOINT_URL": "http://a", "AWS_ENDPOINT_URL_SQS": "http://sqs"}, "http://sqs"},
	} {
		tt.env["SUPABASE_URL"] = "https://abc.supabase.co"
		c, err := config.Load(env(tt.env))
		if err != nil || c.AWSEndpointSQS != tt.want {
			t.Errorf("Load(%v) = SQS endpoint %q, %v; want %q", tt.env, c.AWSEndpointSQS, err, tt.want)
		}
	}
	if _, err := config.Load(env(map[string]string{"SUPABASE_URL": "https://abc.supabase.co", "AWS_ENDPOINT_URL_SQS": "sqs"})); err == nil {
		t.Error("Load(AWS_ENDPOINT_URL_SQS=sqs) = nil error, want one")
	}
}
