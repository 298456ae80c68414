// Package smemu emulates AWS Secrets Manager (API version 2017-10-17) as an
// http.Handler, closely enough for the unmodified aws-sdk-go-v2 Secrets
// Manager client: the AWS JSON 1.1 protocol (POST /, X-Amz-Target:
// secretsmanager.<Op>, Content-Type: application/x-amz-json-1.1, blobs as
// base64, timestamps as epoch seconds), errors as {"__type": ...,
// "Message": ...}, and SigV4 verified for the service name secretsmanager
// (with internal/awsemu/sigv4, as ivsemu verifies ivs and kmsemu kms).
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
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/sigv4"
)

// Defaults applied by New to an empty Config field.
const (
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "123456789012"
)

const (
	// sigService is the service name requests must be signed for.
	sigService = "secretsmanager"
	// maxBodyBytes bounds a request body; Secrets Manager's values are at
	// most 64 KiB, and a GetSecretValue request is a few hundred bytes.
	maxBodyBytes = 1 << 20
	// statusClientClosed is recorded for a request whose client went away
	// during the injected latency; nothing is written back.
	statusClientClosed = 499
)

var (
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
)

// Config configures an Emulator.
type Config struct {
	// Region is the emulated region; requests must be signed for it and
	// secret ARNs name it. Default DefaultRegion.
	Region string
	// AccountID is the 12-digit account in every ARN. Default
	// DefaultAccountID.
	AccountID string
	// AccessKeyID and SecretAccessKey are the only credentials accepted.
	// Both are required.
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken, when set, must be sent (and signed) as
	// X-Amz-Security-Token; when empty, a request carrying one is refused.
	SessionToken string
}

// String implements fmt.Stringer with the secret and token redacted, so a
// Config can be printed or logged.
func (c Config) String() string {
	return fmt.Sprintf("{Region:%s AccountID:%s AccessKeyID:%s SecretAccessKey:%s SessionToken:%s}",
		c.Region, c.AccountID, c.AccessKeyID, redact(c.SecretAccessKey), redact(c.SessionToken))
}

// GoString implements fmt.GoStringer, covering %#v.
func (c Config) GoString() string { return "smemu.Config" + c.String() }

// LogValue implements slog.LogValuer.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("region", c.Region),
		slog.String("account_id", c.AccountID),
		slog.String("access_key_id", c.AccessKeyID),
		slog.String("secret_access_key", redact(c.SecretAccessKey)),
		slog.String("session_token", redact(c.SessionToken)),
	)
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return "[REDACTED]"
}

// Emulator is an emulated Secrets Manager endpoint for one account and
// region. Create it with New and serve it, e.g. with httptest.NewServer.
type Emulator struct {
	region    string
	accountID string
	creds     sigv4.Credentials
	now       func() time.Time

	mu      sync.Mutex
	secrets map[string]*secret // by ARN
	names   map[string]string  // name -> ARN

	latency   time.Duration
	failures  map[string]*failure
	calls     map[string]int
	succeeded map[string]int
	total     int
}

// New returns an Emulator for cfg, with no secrets.
func New(cfg Config) (*Emulator, error) {
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.AccountID == "" {
		cfg.AccountID = DefaultAccountID
	}
	switch {
	case !regionPattern.MatchString(cfg.Region):
		return nil, fmt.Errorf("smemu: invalid region %q", cfg.Region)
	case !accountPattern.MatchString(cfg.AccountID):
		return nil, fmt.Errorf("smemu: account id %q is not 12 digits", cfg.AccountID)
	case cfg.AccessKeyID == "" || cfg.SecretAccessKey == "":
		return nil, errors.New("smemu: access key id and secret access key are required")
	}
	return &Emulator{
		region:    cfg.Region,
		accountID: cfg.AccountID,
		creds: sigv4.Credentials{
			AccessKeyID:     cfg.AccessKeyID,
			SecretAccessKey: cfg.SecretAccessKey,
			SessionToken:    cfg.SessionToken,
		},
		now:       time.Now,
		secrets:   map[string]*secret{},
		names:     map[string]string{},
		failures:  map[string]*failure{},
		calls:     map[string]int{},
		succeeded: map[string]int{},
	}, nil
}

// response is a rendered answer, kept apart from writing so that the call is
// recorded before the client can see the answer: a test that checks Calls
// right after the SDK returns must see its own call.
type response struct {
	status  int
	errName string // "" on success
	body    []byte // nil for an empty body
}

// ServeHTTP implements http.Handler: every operation is POST / with its name
// in X-Amz-Target.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", newUUID())
	op, handle := operation(r)
	if handle == nil {
		write(w, errorResponse(newError(errUnknownOperation, "unknown operation")))
		return
	}
	resp, ok := e.serve(r, op, handle)
	if !ok {
		e.record(op, response{status: statusClientClosed, errName: "RequestCanceled"})
		return
	}
	e.record(op, resp)
	write(w, resp)
}

// serve runs the stages every operation goes through: body, latency,
// authentication, injected failure, operation. It reports false if the
// client went away.
func (e *Emulator) serve(r *http.Request, op string, handle opFunc) (response, bool) {
	body, readErr := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	// The body is read before sleeping: net/http notices a client that hangs
	// up, and cancels r's context, only once the body has been consumed.
	e.mu.Lock()
	latency := e.latency
	e.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return response{}, false
		}
	}
	if readErr != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(readErr, &tooLarge) {
			return errorResponse(newError(errTooLarge, "request body exceeds %d bytes", maxBodyBytes)), true
		}
		return errorResponse(newError(errSerialization, "could not read the request body")), true
	}
	if err := sigv4.Verify(r, body, e.creds, sigService, e.region, e.now()); err != nil {
		return errorResponse(signatureError(err)), true
	}
	if aerr := e.injected(op); aerr != nil {
		return errorResponse(aerr), true
	}
	out, aerr := handle(e, body)
	if aerr != nil {
		return errorResponse(aerr), true
	}
	return successResponse(out), true
}

// write sends resp. Headers are all set before WriteHeader.
func write(w http.ResponseWriter, resp response) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(resp.status)
	if resp.body != nil {
		w.Write(resp.body)
	}
}

// injected returns the failure injected for the next call of op, if any.
func (e *Emulator) injected(op string) *apiError {
	e.mu.Lock()
	defer e.mu.Unlock()
	if f := e.failures[op]; f != nil {
		if f.next > 0 {
			f.next--
			return newError(f.nextName, "injected failure")
		}
		if f.always != "" {
			return newError(f.always, "injected failure")
		}
	}
	return nil
}

// record counts a call of op.
func (e *Emulator) record(op string, resp response) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls[op]++
	e.total++
	if resp.status >= 200 && resp.status < 300 {
		e.succeeded[op]++
	}
}
