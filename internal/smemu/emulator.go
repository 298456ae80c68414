// Package smemu emulates AWS Secrets Manager (API version 2017-10-17) as an
// http.Handler, closely enough for the unmodified aws-sdk-go-v2 Secrets
// Manager client: the AWS JSON 1.1 protocol (POST /, X-Amz-Target:
// secretsmanager.<Op>, Content-Type: application/x-amz-json-1.1, blobs as
// base64, timestamps as epoch seconds), errors as {"__type": ...,
// "Message": ...}, and SigV4 verified for the service name secretsmanager
// (with internal/awsemu/sigv4, as ivsemu verifies ivs and kmsemu kms). The
// protocol, the signature check and the test hooks are
// internal/awsemu/awsjson's, shared with kmsemu.
//
// It serves GetSecretValue, the one operation ivs-ingest calls, naming the
// secret by its ARN or its name, with Secrets Manager's version stages
// (AWSCURRENT, AWSPREVIOUS) and version ids. Secrets are seeded with the
// CreateSecret and PutSecretValue hooks. Point a client at it with
// secretsmanager.Options.BaseEndpoint (or AWS_ENDPOINT_URL_SECRETS_MANAGER)
// and the credentials given in Config. Secrets live in memory: a new
// Emulator has none.
//
// Exported methods other than ServeHTTP are hooks for tests: seeding, call
// counts, injected failures (AccessDeniedException, as an identity without
// secretsmanager:GetSecretValue gets, or InternalServiceError, which the
// SDK retries) and latency. All are safe for concurrent use. To make Secrets
// Manager unreachable, close the server the emulator is served by.
package smemu

import (
	"sync"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsjson"
)

// Defaults applied by New to an empty Config field.
const (
	DefaultRegion    = awsjson.DefaultRegion
	DefaultAccountID = awsjson.DefaultAccountID
)

// Config configures an Emulator: its region and account (secret ARNs name
// them) and the one set of credentials it accepts. Its String, GoString and
// LogValue redact the secret and the token.
type Config = awsjson.Config

// Emulator is an emulated Secrets Manager endpoint for one account and
// region. Create it with New and serve it, e.g. with httptest.NewServer. Its
// ServeHTTP, call counts (Calls, Succeeded, TotalCalls, ResetCounts),
// injected failures (FailNext, Fail, ClearFailures) and SetLatency are
// awsjson.Server's.
type Emulator struct {
	*awsjson.Server

	region, accountID string // of the ARNs

	mu      sync.Mutex
	secrets map[string]*secret // by ARN
	names   map[string]string  // name -> ARN
}

// New returns an Emulator for cfg, with no secrets.
func New(cfg Config) (*Emulator, error) {
	cfg, err := cfg.Resolve("smemu")
	if err != nil {
		return nil, err
	}
	e := &Emulator{
		region:    cfg.Region,
		accountID: cfg.AccountID,
		secrets:   map[string]*secret{},
		names:     map[string]string{},
	}
	e.Server = awsjson.NewServer(cfg, awsjson.Service{
		Name:          "smemu",
		SigningName:   "secretsmanager",
		TargetPrefix:  "secretsmanager.",
		Ops:           map[string]awsjson.Op{"GetSecretValue": e.getSecretValue},
		ClientFaults:  clientFaults,
		ServerFaults:  serverFaults,
		Internal:      awsjson.Error{Name: errInternal, Message: "An error occurred on the server side."},
		MessageMember: "Message",
	})
	return e, nil
}
