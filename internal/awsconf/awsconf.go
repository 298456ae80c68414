// Package awsconf loads the aws-sdk-go-v2 configuration every AWS client of
// the service is built from (IVS, KMS, Secrets Manager), the same way for
// each: static credentials when both parts are given, else the SDK's default
// chain (profiles, web identity, container and instance roles); a bound on
// each HTTP attempt; an endpoint override.
package awsconf

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// Options says how to reach one AWS service.
type Options struct {
	Region string
	// Endpoint overrides the service's endpoint; "" for AWS's.
	Endpoint string
	// AccessKeyID and SecretAccessKey, when both are set, are used as
	// static credentials, with SessionToken; otherwise the default chain
	// resolves credentials.
	AccessKeyID     string
	SecretAccessKey secret.String
	SessionToken    secret.String
	// AttemptTimeout bounds each HTTP attempt; it must be positive.
	AttemptTimeout time.Duration
}

// Load returns the SDK configuration for o. Credentials are resolved on
// first use, not here.
func Load(ctx context.Context, o Options) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(o.Region),
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(o.AttemptTimeout)),
	}
	if o.AccessKeyID != "" && !o.SecretAccessKey.IsZero() {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
			o.AccessKeyID, o.SecretAccessKey.Reveal(), o.SessionToken.Reveal())))
	}
	if o.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(o.Endpoint))
	}
	return config.LoadDefaultConfig(ctx, opts...)
}
