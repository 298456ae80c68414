// Package kmsemu emulates AWS KMS (API version 2014-11-01) as an
// http.Handler, closely enough for the unmodified aws-sdk-go-v2 KMS client:
// the AWS JSON 1.1 protocol (POST /, X-Amz-Target: TrentService.<Op>,
// Content-Type: application/x-amz-json-1.1, blobs as base64), errors as
// {"__type": ..., "message": ...}, SigV4 verified for the service name kms
// (with internal/awsemu/sigv4, as ivsemu verifies ivs), and KMS's ways of
// naming a key: key id, key ARN, alias/<name> and alias ARN. The protocol,
// the signature check and the test hooks are internal/awsemu/awsjson's,
// shared with smemu.
//
// It serves CreateKey (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT only), CreateAlias,
// DescribeKey, DisableKey, EnableKey, Encrypt, Decrypt and GenerateDataKey.
// Point a client at it with kms.Options.BaseEndpoint (or
// AWS_ENDPOINT_URL_KMS) and the credentials given in Config.
//
// Ciphertext blobs are opaque to clients, as KMS's are, but really
// encrypted: AES-256-GCM under a random secret of the key that the emulator
// never reveals, with the encryption context as additional data. So a blob
// decrypts only with exactly the encryption context it was made with, and a
// tampered blob fails with InvalidCiphertextException. Keys live in memory:
// a new Emulator has none.
//
// Exported methods other than ServeHTTP are hooks for tests: seeding keys
// and aliases, disabling keys, call counts, injected failures and latency.
// All are safe for concurrent use. To make KMS unreachable, close the
// server the emulator is served by (httptest.Server.Close).
package kmsemu

import (
	"sync"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsjson"
)

// Defaults applied by New to an empty Config field.
const (
	DefaultRegion    = awsjson.DefaultRegion
	DefaultAccountID = awsjson.DefaultAccountID
)

// Config configures an Emulator: its region and account (key ARNs name
// them) and the one set of credentials it accepts. Its String, GoString and
// LogValue redact the secret and the token.
type Config = awsjson.Config

// Emulator is an emulated KMS endpoint for one account and region. Create it
// with New and serve it, e.g. with httptest.NewServer. Its ServeHTTP, call
// counts (Calls, Succeeded, TotalCalls, ResetCounts), injected failures
// (FailNext, Fail, ClearFailures) and SetLatency are awsjson.Server's.
type Emulator struct {
	*awsjson.Server

	region, accountID string // of the ARNs

	mu      sync.Mutex
	keys    map[string]*key   // by key id
	aliases map[string]string // alias name ("alias/x") -> key id
}

// New returns an Emulator for cfg, with no keys.
func New(cfg Config) (*Emulator, error) {
	cfg, err := cfg.Resolve("kmsemu")
	if err != nil {
		return nil, err
	}
	e := &Emulator{
		region:    cfg.Region,
		accountID: cfg.AccountID,
		keys:      map[string]*key{},
		aliases:   map[string]string{},
	}
	e.Server = awsjson.NewServer(cfg, awsjson.Service{
		Name:         "kmsemu",
		SigningName:  "kms",
		TargetPrefix: "TrentService.",
		Ops: map[string]awsjson.Op{
			"CreateKey":       e.createKey,
			"CreateAlias":     e.createAlias,
			"DescribeKey":     e.describeKey,
			"DisableKey":      e.disableKey,
			"EnableKey":       e.enableKey,
			"Encrypt":         e.encrypt,
			"Decrypt":         e.decrypt,
			"GenerateDataKey": e.generateDataKey,
		},
		ClientFaults:  clientFaults,
		ServerFaults:  serverFaults,
		Internal:      awsjson.Error{Name: errInternal, Message: "unexpected error during processing of request"},
		MessageMember: "message",
	})
	return e, nil
}
