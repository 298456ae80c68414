// Package kms is the adapter over aws-sdk-go-v2's KMS client for the key
// store's KMS option: a Wrapper makes a data key (kms:GenerateDataKey,
// AES_256) and unwraps one (kms:Decrypt), both under one encryption
// context, and says plainly what a failure means. It never returns, logs or
// quotes a data key in clear except as the secret.String of Plaintext.
package kms

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/ivs-ingest/ivs-ingest/internal/awsconf"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// EncryptionContext is the KMS encryption context of every call: a data key
// made for the key store unwraps only with it, and the IAM policy's
// kms:EncryptionContext:* conditions name it, so the service's role can use
// the KMS key for nothing else.
func EncryptionContext() map[string]string {
	return map[string]string{"service": "ivs-ingest", "purpose": "stream-key-store"}
}

// Config configures a Wrapper.
type Config struct {
	// KeyID names the KMS key: key id, key ARN, alias/<name> or alias ARN.
	KeyID string
	// Region is the KMS key's region.
	Region string
	// Endpoint overrides KMS's (AWS_ENDPOINT_URL_KMS); "" for AWS's.
	Endpoint string
	// AccessKeyID, SecretAccessKey and SessionToken are static
	// credentials; unset, the SDK's default chain.
	AccessKeyID     string
	SecretAccessKey secret.String
	SessionToken    secret.String
	// AttemptTimeout bounds each HTTP attempt; 0 for 5 s.
	AttemptTimeout time.Duration
}

// Wrapper makes and unwraps the key store's data keys with one KMS key.
type Wrapper struct {
	client *awskms.Client
	keyID  string
}

// New returns a Wrapper for cfg. It makes no call.
func New(ctx context.Context, cfg Config) (*Wrapper, error) {
	if strings.TrimSpace(cfg.KeyID) == "" {
		return nil, errors.New("kms: no KMS key id")
	}
	timeout := cfg.AttemptTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	awsCfg, err := awsconf.Load(ctx, awsconf.Options{Region: cfg.Region, Endpoint: cfg.Endpoint, AccessKeyID: cfg.AccessKeyID,
		SecretAccessKey: cfg.SecretAccessKey, SessionToken: cfg.SessionToken, AttemptTimeout: timeout})
	if err != nil {
		return nil, fmt.Errorf("kms: load aws config: %w", err)
	}
	return &Wrapper{client: awskms.NewFromConfig(awsCfg), keyID: cfg.KeyID}, nil
}

// KeyID is the KMS key the Wrapper was configured with.
func (w *Wrapper) KeyID() string { return w.keyID }

// DataKey is a data key KMS made: its plaintext, to seal with, and its
// wrapped form, to store.
type DataKey struct {
	// Plaintext is the 32-byte key in standard base64.
	Plaintext secret.String
	// Wrapped is KMS's ciphertext blob of it.
	Wrapped []byte
	// KMSKeyARN is the ARN of the KMS key that wrapped it.
	KMSKeyARN string
}

// GenerateDataKey makes a 256-bit data key under the KMS key, with
// EncryptionContext.
func (w *Wrapper) GenerateDataKey(ctx context.Context) (DataKey, error) {
	out, err := w.client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{
		KeyId:             aws.String(w.keyID),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: EncryptionContext(),
	})
	if err != nil {
		return DataKey{}, explain("GenerateDataKey", w.keyID, err)
	}
	if len(out.Plaintext) != 32 {
		return DataKey{}, fmt.Errorf("kms: GenerateDataKey returned a %d-byte key, want 32", len(out.Plaintext))
	}
	return DataKey{Plaintext: encode(out.Plaintext), Wrapped: out.CiphertextBlob, KMSKeyARN: aws.ToString(out.KeyId)}, nil
}

// Decrypt unwraps a data key GenerateDataKey made under kmsKeyARN (the
// call names the key, so a blob of another key is refused), with
// EncryptionContext. It returns the key in standard base64.
func (w *Wrapper) Decrypt(ctx context.Context, wrapped []byte, kmsKeyARN string) (secret.String, error) {
	in := &awskms.DecryptInput{CiphertextBlob: wrapped, EncryptionContext: EncryptionContext()}
	if kmsKeyARN != "" {
		in.KeyId = aws.String(kmsKeyARN)
	}
	out, err := w.client.Decrypt(ctx, in)
	if err != nil {
		return secret.String{}, explain("Decrypt", kmsKeyARN, err)
	}
	if len(out.Plaintext) != 32 {
		return secret.String{}, fmt.Errorf("kms: Decrypt returned a %d-byte key, want 32", len(out.Plaintext))
	}
	return encode(out.Plaintext), nil
}

// encode is b in base64, after which b is zeroed.
func encode(b []byte) secret.String {
	s := secret.New(base64.StdEncoding.EncodeToString(b))
	clear(b)
	return s
}

// Error is a KMS failure said plainly. Its message names the call, the KMS
// key and what to do; it wraps the SDK's error (request id and all). None
// carries a key.
type Error struct {
	// Op is the KMS call: GenerateDataKey or Decrypt.
	Op string
	// Unreachable is true when KMS did not answer (network, timeout), as
	// opposed to answering no.
	Unreachable bool
	msg         string
	err         error
}

func (e *Error) Error() string { return "kms " + e.Op + ": " + e.msg }
func (e *Error) Unwrap() error { return e.err }

// explain says what a failed call means for the operator.
func explain(op, keyID string, err error) error {
	var apiErr smithy.APIError
	var netErr net.Error
	e := &Error{Op: op, err: err}
	switch {
	case errors.As(err, &apiErr):
		switch code := apiErr.ErrorCode(); code {
		case "NotFoundException":
			e.msg = fmt.Sprintf("no KMS key %q in this account and region (NotFoundException): check STREAM_KEY_KMS_KEY_ID and AWS_REGION", keyID)
		case "DisabledException":
			e.msg = fmt.Sprintf("the KMS key %q is disabled (DisabledException): enable it", keyID)
		case "KMSInvalidStateException":
			e.msg = fmt.Sprintf("the KMS key %q cannot be used in its state (KMSInvalidStateException): pending deletion or import?", keyID)
		case "AccessDeniedException":
			e.msg = fmt.Sprintf("access denied (AccessDeniedException): the identity needs kms:%s on %q with the encryption context "+
				"service=ivs-ingest, purpose=stream-key-store (docs/key-store.md)", op, keyID)
		case "InvalidCiphertextException":
			e.msg = "the stored data key does not unwrap (InvalidCiphertextException): it was wrapped with another encryption " +
				"context, or it is damaged"
		case "IncorrectKeyException":
			e.msg = fmt.Sprintf("the stored data key was not wrapped by the KMS key %q (IncorrectKeyException)", keyID)
		case "KeyUnavailableException", "DependencyTimeoutException", "KMSInternalException", "ThrottlingException":
			e.Unreachable = true
			e.msg = fmt.Sprintf("KMS is not available (%s): retrying", code)
		default:
			e.msg = fmt.Sprintf("%s: %s", code, apiErr.ErrorMessage())
		}
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr):
		e.Unreachable = true
		e.msg = "KMS did not answer (unreachable or timed out)"
	case strings.Contains(err.Error(), "failed to retrieve credentials"):
		e.msg = "no AWS credentials to call KMS with: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give the process a role"
	default:
		e.Unreachable = true
		e.msg = "KMS did not answer: " + err.Error()
	}
	return e
}
