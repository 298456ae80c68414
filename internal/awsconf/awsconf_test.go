package awsconf_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ivs-ingest/ivs-ingest/internal/awsconf"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

func TestLoad(t *testing.T) {
	ctx := context.Background()
	// The default chain must find nothing of this machine's.
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAFROMTHEENVIRONMT")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "from-the-environment")

	cfg, err := awsconf.Load(ctx, awsconf.Options{Region: "eu-west-1", Endpoint: "http://127.0.0.1:9",
		AccessKeyID: "AKIASTATICSTATICSTAT", SecretAccessKey: secret.New("static-secret"), SessionToken: secret.New("token"),
		AttemptTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID != "AKIASTATICSTATICSTAT" || creds.SecretAccessKey != "static-secret" || creds.SessionToken != "token" {
		t.Errorf("static credentials not used: got access key %q", creds.AccessKeyID)
	}
	if cfg.Region != "eu-west-1" || aws.ToString(cfg.BaseEndpoint) != "http://127.0.0.1:9" {
		t.Errorf("region %q, endpoint %q; want eu-west-1, http://127.0.0.1:9", cfg.Region, aws.ToString(cfg.BaseEndpoint))
	}

	// Only one part of the static pair: the default chain (here the
	// environment's) decides.
	cfg, err = awsconf.Load(ctx, awsconf.Options{Region: "us-east-1", AccessKeyID: "AKIASTATICSTATICSTAT", AttemptTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if creds, err := cfg.Credentials.Retrieve(ctx); err != nil || creds.AccessKeyID != "AKIAFROMTHEENVIRONMT" {
		t.Errorf("half a static pair: access key %q, %v; want the default chain's", creds.AccessKeyID, err)
	}
	if cfg.BaseEndpoint != nil {
		t.Errorf("no endpoint given, BaseEndpoint = %q", aws.ToString(cfg.BaseEndpoint))
	}
}
