package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/ivs-ingest/ivs-ingest/internal/awsconf"
	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// SecretTimeout bounds each Secrets Manager read of LoadConfig, its
// retries included: a start-up that cannot reach Secrets Manager fails
// within it instead of hanging.
const SecretTimeout = 10 * time.Second

// LoadConfig loads the configuration as every command that needs secrets
// does (serve, Lambda, migrate, doctor, the batch commands, token, dev):
// the environment through getenv, and each secret given as X_FILE or
// X_SECRET_ARN read once from its file or from AWS Secrets Manager (see
// SecretSources).
func LoadConfig(ctx context.Context, getenv func(string) string) (config.Config, error) {
	return config.LoadFrom(ctx, getenv, SecretSources(getenv, SecretTimeout))
}

// SecretSources are the real config.Sources: files, and AWS Secrets Manager
// in the region of each secret's ARN, each read bounded by timeout.
//
// The credentials are AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN from getenv when set (as the IVS client takes them, and
// as Lambda sets them), the SDK's default chain otherwise (profiles, web
// identity, container and instance roles); the endpoint is
// AWS_ENDPOINT_URL_SECRETS_MANAGER's, else AWS_ENDPOINT_URL's, else AWS's.
// They are read from getenv, not from the loaded configuration, which does
// not exist yet: the secrets are part of it.
func SecretSources(getenv func(string) string, timeout time.Duration) config.Sources {
	sm := &secretsManager{getenv: getenv, timeout: timeout}
	return config.Sources{ReadFile: readSecretFile, SecretValue: sm.value}
}

// readSecretFile reads at most one byte more than config accepts, so that a
// path naming something endless (a device, a growing log) still returns.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, config.MaxSecretFileBytes+1))
}

// secretsManager reads secrets with the aws-sdk-go-v2 Secrets Manager
// client, one client per read: a load reads each secret once.
type secretsManager struct {
	getenv  func(string) string
	timeout time.Duration
}

func (s *secretsManager) value(ctx context.Context, ref config.SecretRef) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	endpoint := strings.TrimSpace(s.getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER"))
	if endpoint == "" {
		endpoint = strings.TrimSpace(s.getenv("AWS_ENDPOINT_URL"))
	}
	awsCfg, err := awsconf.Load(ctx, awsconf.Options{Region: ref.Region, Endpoint: endpoint,
		AccessKeyID: strings.TrimSpace(s.getenv("AWS_ACCESS_KEY_ID")), SecretAccessKey: secret.New(s.getenv("AWS_SECRET_ACCESS_KEY")),
		SessionToken: secret.New(s.getenv("AWS_SESSION_TOKEN")), AttemptTimeout: s.timeout})
	if err != nil {
		return "", fmt.Errorf("load aws config: %w", err)
	}
	out, err := secretsmanager.NewFromConfig(awsCfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ref.ARN)})
	if err != nil {
		return "", explainSecretError(err, s.timeout)
	}
	switch {
	case out.SecretString != nil:
		return *out.SecretString, nil
	case utf8.Valid(out.SecretBinary):
		return string(out.SecretBinary), nil
	}
	return "", errors.New("its SecretBinary is not UTF-8 text")
}

// secretError is a Secrets Manager failure said plainly, wrapping the SDK's
// error (whose text, request id and all, is the log's business).
type secretError struct {
	msg string
	err error
}

func (e *secretError) Error() string { return e.msg }
func (e *secretError) Unwrap() error { return e.err }

// explainSecretError says what a failed GetSecretValue means for the
// operator. Neither it nor the SDK's errors carry a secret's value.
func explainSecretError(err error, timeout time.Duration) error {
	var apiErr smithy.APIError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		return &secretError{fmt.Sprintf("Secrets Manager did not answer within %s", timeout), err}
	case errors.As(err, &apiErr):
		switch code := apiErr.ErrorCode(); code {
		case "ResourceNotFoundException":
			return &secretError{"no such secret in its account and region (ResourceNotFoundException)", err}
		case "AccessDeniedException":
			return &secretError{"access denied (AccessDeniedException): the identity needs secretsmanager:GetSecretValue on the secret, " +
				"and kms:Decrypt on its KMS key when that is a customer-managed one", err}
		case "DecryptionFailure":
			return &secretError{"Secrets Manager could not decrypt it (DecryptionFailure): the identity needs kms:Decrypt on the secret's KMS key", err}
		default:
			return &secretError{fmt.Sprintf("GetSecretValue failed: %s: %s", code, apiErr.ErrorMessage()), err}
		}
	}
	if strings.Contains(err.Error(), "failed to retrieve credentials") {
		return &secretError{"no AWS credentials to read it with: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give the process a role", err}
	}
	return &secretError{"GetSecretValue failed: " + err.Error(), err}
}
