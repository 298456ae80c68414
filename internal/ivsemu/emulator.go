// Package ivsemu emulates Amazon IVS (low-latency streaming, API version
// 2020-07-14) as an http.Handler, closely enough that the unmodified
// aws-sdk-go-v2 IVS client cannot tell it from AWS: same paths, JSON shapes,
// error encoding, SigV4 verification, quotas and formats of ARNs, stream key
// values and endpoints.
//
// It serves CreateChannel, GetChannel, DeleteChannel, ListChannels,
// CreateStreamKey, GetStreamKey, ListStreamKeys, DeleteStreamKey,
// BatchGetStreamKey, GetStream, StopStream and ListStreams. Point a client at it with
// ivs.Options.BaseEndpoint (or AWS_ENDPOINT_URL_IVS) and the credentials
// given in Config. An Emulator serves one region; Regions serves several at
// one endpoint, each reached by the clients that sign for it.
//
// Exported methods other than ServeHTTP are hooks for tests, benchmarks and
// the local dev mode: seeding, marking channels live, call counts, injected
// failures, latency and a request-rate limit. All are safe for concurrent
// use.
package ivsemu

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/sigv4"
)

// Defaults applied by New to an empty Config field.
const (
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "123456789012"
)

// sigService is the service name requests must be signed for.
const sigService = "ivs"

// maxBodyBytes bounds a request body; IVS requests are a few hundred bytes.
const maxBodyBytes = 1 << 20

// maxCallLog bounds CallLog; older entries are dropped first.
const maxCallLog = 1 << 16

// Config configures an Emulator.
type Config struct {
	// Region is the emulated region; requests must be signed for it.
	// Default DefaultRegion.
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
	// StateFile, when set, is where channels and keys persist: loaded by New
	// (a missing file is an empty state) and rewritten after every mutation.
	// It holds stream key values and is written with mode 0600.
	StateFile string
	// Latency is added to every operation (see SetLatency).
	Latency time.Duration
	// RateLimit is the initial requests-per-second limit (see SetRateLimit);
	// 0 means unlimited.
	RateLimit int
	// Logger receives the errors the emulator cannot answer with, such as a
	// failed state save. Nil discards them.
	Logger *slog.Logger
}

// String implements fmt.Stringer with the secret and token redacted, so a
// Config can be printed or logged.
func (c Config) String() string {
	return fmt.Sprintf("{Region:%s AccountID:%s AccessKeyID:%s SecretAccessKey:%s SessionToken:%s StateFile:%s Latency:%s RateLimit:%d}",
		c.Region, c.AccountID, c.AccessKeyID, redact(c.SecretAccessKey), redact(c.SessionToken), c.StateFile, c.Latency, c.RateLimit)
}

// GoString implements fmt.GoStringer, covering %#v.
func (c Config) GoString() string { return "ivsemu.Config" + c.String() }

// LogValue implements slog.LogValuer.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("region", c.Region),
		slog.String("account_id", c.AccountID),
		slog.String("access_key_id", c.AccessKeyID),
		slog.String("secret_access_key", redact(c.SecretAccessKey)),
		slog.String("session_token", redact(c.SessionToken)),
		slog.String("state_file", c.StateFile),
		slog.Duration("latency", c.Latency),
		slog.Int("rate_limit", c.RateLimit),
	)
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return "[REDACTED]"
}

// Emulator is an emulated IVS endpoint for one account and region. Create it
// with New and serve it, e.g. with httptest.NewServer.
type Emulator struct {
	region     string
	accountID  string
	creds      sigv4.Credentials
	stateFile  string
	hostPrefix string // the account's subdomain on live-video.net
	now        func() time.Time
	logger     *slog.Logger

	mu       sync.Mutex
	channels map[string]*channel   // by ARN
	keys     map[string]*streamKey // by ARN
	streams  map[string]*stream    // by channel ARN, live channels only

	latency   time.Duration
	rateLimit int
	admitted  []time.Time // admission times within the last second, oldest first
	failures  map[string]*failure
	before    map[string]func() // run once before the next call of an op
	calls     map[string]int
	succeeded map[string]int
	total     int
	throttled int
	log       []Call
}

// New returns an Emulator for cfg, loading cfg.StateFile if it exists.
func New(cfg Config) (*Emulator, error) {
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.AccountID == "" {
		cfg.AccountID = DefaultAccountID
	}
	switch {
	case !regionPattern.MatchString(cfg.Region):
		return nil, fmt.Errorf("ivsemu: invalid region %q", cfg.Region)
	case !accountPattern.MatchString(cfg.AccountID):
		return nil, fmt.Errorf("ivsemu: account id %q is not 12 digits", cfg.AccountID)
	case cfg.AccessKeyID == "" || cfg.SecretAccessKey == "":
		return nil, errors.New("ivsemu: access key id and secret access key are required")
	case cfg.Latency < 0 || cfg.RateLimit < 0:
		return nil, errors.New("ivsemu: latency and rate limit must not be negative")
	}
	e := &Emulator{
		region:    cfg.Region,
		accountID: cfg.AccountID,
		creds: sigv4.Credentials{
			AccessKeyID:     cfg.AccessKeyID,
			SecretAccessKey: cfg.SecretAccessKey,
			SessionToken:    cfg.SessionToken,
		},
		stateFile: cfg.StateFile,
		now:       time.Now,
		logger:    cfg.Logger,
		channels:  map[string]*channel{},
		keys:      map[string]*streamKey{},
		streams:   map[string]*stream{},
		latency:   cfg.Latency,
		rateLimit: cfg.RateLimit,
		failures:  map[string]*failure{},
		calls:     map[string]int{},
		succeeded: map[string]int{},
	}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.StateFile != "" {
		st, err := loadState(cfg.StateFile, e.region, e.accountID)
		if err != nil {
			return nil, fmt.Errorf("ivsemu: %w", err)
		}
		if st != nil {
			e.hostPrefix = st.HostPrefix
			for _, c := range st.Channels {
				c.Tags = nonNil(c.Tags)
				e.channels[c.ARN] = c
			}
			for _, k := range st.StreamKeys {
				k.Tags = nonNil(k.Tags)
				e.keys[k.ARN] = k
			}
		}
	}
	if !hostPrefixPattern.MatchString(e.hostPrefix) {
		e.hostPrefix = randomHex(12)
	}
	return e, nil
}

// response is a rendered answer, kept apart from writing so that the call is
// recorded before the client can see the answer: a test that checks Calls
// right after the SDK returns must see its own call.
type response struct {
	status  int
	errName string // "" on success
	body    []byte // nil for an empty body
}

// statusClientClosed is recorded for a request whose client went away
// during the injected latency; nothing is written back.
const statusClientClosed = 499

// ServeHTTP implements http.Handler: every operation is POST /<Operation>.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", newUUID())
	op, handle := e.operation(r)
	if handle == nil {
		e.write(w, errorResponse(newError("UnknownOperationException", "unknown operation")))
		return
	}
	at := e.now()
	resp, ok := e.serve(r, op, at, handle)
	if !ok {
		e.record(op, at, response{status: statusClientClosed, errName: "RequestCanceled"})
		return
	}
	e.record(op, at, resp)
	e.write(w, resp)
}

// serve runs the stages every operation goes through: body, latency,
// authentication, rate limit, injected failure, operation.
// It reports false if the client went away.
func (e *Emulator) serve(r *http.Request, op string, at time.Time, handle opFunc) (response, bool) {
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
			return errorResponse(newError("RequestEntityTooLargeException", "request body exceeds %d bytes", maxBodyBytes)), true
		}
		return errorResponse(errValidation("could not read the request body")), true
	}
	if err := sigv4.Verify(r, body, e.creds, sigService, e.region, e.now()); err != nil {
		return errorResponse(signatureError(err)), true
	}
	if aerr := e.admit(op, at); aerr != nil {
		return errorResponse(aerr), true
	}
	if fn := e.takeBefore(op); fn != nil {
		fn()
	}
	status, out, aerr := handle(e, body)
	if aerr != nil {
		return errorResponse(aerr), true
	}
	return successResponse(status, out), true
}

// write sends resp. Headers are all set before WriteHeader.
func (e *Emulator) write(w http.ResponseWriter, resp response) {
	if resp.errName != "" {
		w.Header().Set("x-amzn-ErrorType", resp.errName)
	}
	if resp.body != nil {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(resp.status)
	if resp.body != nil {
		w.Write(resp.body)
	}
}

// admit applies the rate limit, then any injected failure, to a call of op.
func (e *Emulator) admit(op string, at time.Time) *apiError {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rateLimit > 0 {
		// A sliding one-second window over every operation, like AWS's
		// per-account quota, on the calls' arrival times: AWS counts a
		// call at its front door, before this emulator's body read and
		// signature check, whose time on a loaded machine would bunch
		// calls the client spaced. Throttled calls do not enter the window.
		i := 0
		for i < len(e.admitted) && at.Sub(e.admitted[i]) >= time.Second {
			i++
		}
		e.admitted = e.admitted[i:]
		if len(e.admitted) >= e.rateLimit {
			e.throttled++
			return newError("ThrottlingException", "Rate exceeded")
		}
		// Kept in arrival order: concurrent calls may be admitted out of it.
		j := len(e.admitted)
		for j > 0 && e.admitted[j-1].After(at) {
			j--
		}
		e.admitted = slices.Insert(e.admitted, j, at)
	}
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

// record counts a call of op that arrived at at.
func (e *Emulator) record(op string, at time.Time, resp response) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls[op]++
	e.total++
	if resp.status >= 200 && resp.status < 300 {
		e.succeeded[op]++
	}
	if len(e.log) >= maxCallLog {
		e.log = append(e.log[:0], e.log[len(e.log)-maxCallLog/2:]...)
	}
	e.log = append(e.log, Call{Op: op, At: at, Status: resp.status, Error: resp.errName})
}
