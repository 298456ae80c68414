// Package awsemutest holds what the tests of the AWS emulators (kmsemu,
// smemu) share to drive them with the real aws-sdk-go-v2: a client
// configuration pointed at an emulator, the SDK's signer for hand-made
// requests, and reading an SDK error's code and status. Only tests import
// it; the emulators themselves stay free of third-party dependencies.
package awsemutest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
)

// noBackoff keeps the SDK's standard retry policy (3 attempts, retry on 5xx
// and throttling) but without waiting between attempts.
type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

// ClientConfig returns the configuration of a real SDK client pointed at the
// emulator at url, with static credentials and the standard retryer without
// delays. Pass it to a service's NewFromConfig.
func ClientConfig(url, region string, creds aws.Credentials) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken),
		BaseEndpoint: aws.String(url),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) { so.Backoff = noBackoff{} })
		},
	}
}

// Sign signs req, whose body is body, with the SDK's signer for service in
// region, replacing any signature it had.
func Sign(t *testing.T, req *http.Request, body []byte, creds aws.Credentials, service, region string) {
	t.Helper()
	req.Header.Del("Authorization")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
}

// ErrorCode returns the API error code of err, or "" if err is not an API
// error.
func ErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// HTTPStatus returns the HTTP status behind an SDK error, or 0.
func HTTPStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// WantError fails t unless err is the API error code answered with status.
func WantError(t *testing.T, call string, err error, code string, status int) {
	t.Helper()
	if ErrorCode(err) != code || HTTPStatus(err) != status {
		t.Errorf("%s = %v (code %q, status %d), want %d %s", call, err, ErrorCode(err), HTTPStatus(err), status, code)
	}
}
