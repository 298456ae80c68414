// Package awsjson is the server side of the AWS JSON 1.1 and 1.0 protocols,
// shared by the repository's emulators of AWS JSON services (kmsemu, smemu
// speak 1.1, sqsemu 1.0): POST / with the operation in X-Amz-Target:
// <prefix>.<Op> and Content-Type: application/x-amz-json-1.1 (or -1.0), a
// bounded body, SigV4 verified with internal/awsemu/sigv4 for the service's
// signing name, a request id in x-amzn-RequestId, and errors as
// {"__type": ..., "message": ...} (with X-Amzn-Query-Error for the services,
// like SQS, that moved from the AWS Query protocol and keep its error codes).
//
// A Server takes the service's table of operations; the emulator keeps its
// operations, its state and its seeding hooks. Its exported methods other
// than ServeHTTP are the hooks every emulator offers its tests: call counts,
// injected failures and latency. All are safe for concurrent use. It has no
// third-party dependencies, so the emulators stay free of them too.
package awsjson

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/sigv4"
)

// ContentType is the content type of AWS JSON 1.1 requests and answers.
const ContentType = "application/x-amz-json-1.1"

// ContentType10 is the content type of AWS JSON 1.0 requests and answers.
const ContentType10 = "application/x-amz-json-1.0"

// MaxBodyBytes bounds a request body. The emulated services' requests are
// small: KMS's at most a few kilobytes (a 4096-byte plaintext or 6144-byte
// ciphertext in base64), Secrets Manager's a few hundred bytes (its values,
// at most 64 KiB, are only seeded by hooks).
const MaxBodyBytes = 1 << 20

// statusClientClosed is recorded for a request whose client went away
// during the injected latency; nothing is written back.
const statusClientClosed = 499

// Op runs one operation on a verified request body. It returns the value to
// encode as JSON, or nil for an empty body.
type Op func(body []byte) (any, *Error)

// ContextOp is an Op that also gets the request's context, for an operation
// that waits (SQS's long poll): the context ends when the client hangs up.
type ContextOp func(ctx context.Context, body []byte) (any, *Error)

// QueryError is the AWS Query error code and HTTP status a service that
// moved from the Query protocol answers for one of its errors: the SDK of
// such a service (awsQueryCompatible) takes the error code from the
// X-Amzn-Query-Error header when it is there.
type QueryError struct {
	Code   string
	Status int
}

// Service describes the AWS JSON service a Server emulates.
type Service struct {
	// Version is the protocol's version: "1.1" (the default when empty) or
	// "1.0".
	Version string
	// Name names the emulator in its hooks' panics, e.g. "kmsemu".
	Name string
	// SigningName is the service name requests must be signed for, e.g.
	// "kms".
	SigningName string
	// TargetPrefix is X-Amz-Target's prefix, dot included, e.g.
	// "TrentService.".
	TargetPrefix string
	// Ops are the operations served, by name.
	Ops map[string]Op
	// ContextOps are more operations served, by name, that get the
	// request's context.
	ContextOps map[string]ContextOp
	// ClientFaults are the service's error names answered with 400, and
	// ServerFaults those answered with 500, beside the front end's.
	ClientFaults, ServerFaults []string
	// Internal is the error answered when an output cannot be encoded.
	Internal Error
	// MessageMember is the error document's message member: "message", or
	// "Message" for the services that capitalize it.
	MessageMember string
	// ErrorNamespace, when set, qualifies the error document's __type as
	// <namespace>#<name> (e.g. "com.amazonaws.sqs"), as some services write
	// it; the SDK keeps what follows the '#'.
	ErrorNamespace string
	// QueryErrors are the Query protocol's codes and statuses of the
	// service's errors, for a service that keeps them (SQS); an error
	// listed here is answered with its status and an X-Amzn-Query-Error
	// header, "<code>;Sender" (or ";Receiver" for a 5xx status).
	QueryErrors map[string]QueryError
}

// contentType is the content type of the Service's protocol version.
func (svc Service) contentType() string {
	if svc.Version == "1.0" {
		return ContentType10
	}
	return ContentType
}

// op returns the served operation name, as a ContextOp, or nil.
func (svc Service) op(name string) ContextOp {
	if op := svc.ContextOps[name]; op != nil {
		return op
	}
	if op := svc.Ops[name]; op != nil {
		return func(_ context.Context, body []byte) (any, *Error) { return op(body) }
	}
	return nil
}

// Server is an http.Handler for one AWS JSON service. Create it with
// NewServer.
type Server struct {
	svc      Service
	region   string
	creds    sigv4.Credentials
	statuses map[string]int
	now      func() time.Time

	mu        sync.Mutex
	latency   time.Duration
	failures  map[string]*failure
	calls     map[string]int
	succeeded map[string]int
	total     int
}

// NewServer returns a Server for svc that accepts requests signed with
// cfg's credentials for cfg's region. cfg must be resolved (Config.Resolve).
func NewServer(cfg Config, svc Service) *Server {
	return &Server{
		svc:       svc,
		region:    cfg.Region,
		creds:     cfg.credentials(),
		statuses:  statusTable(svc),
		now:       time.Now,
		failures:  map[string]*failure{},
		calls:     map[string]int{},
		succeeded: map[string]int{},
	}
}

// ServeHTTP implements http.Handler: every operation is POST / with its name
// in X-Amz-Target.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", NewUUID())
	op, handle := s.operation(r)
	if handle == nil {
		s.write(w, s.errorResponse(Errorf(UnknownOperation, "unknown operation")))
		return
	}
	resp, ok := s.serve(r, op, handle)
	if !ok {
		s.record(op, response{status: statusClientClosed, errName: "RequestCanceled"})
		return
	}
	s.record(op, resp)
	s.write(w, resp)
}

// operation returns the operation r addresses, or a nil ContextOp if r is
// not an AWS JSON request of the service's version for an operation that is
// served.
func (s *Server) operation(r *http.Request) (string, ContextOp) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return "", nil
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != s.svc.contentType() {
		return "", nil
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), s.svc.TargetPrefix)
	if !ok {
		return "", nil
	}
	return op, s.svc.op(op)
}

// serve runs the stages every operation goes through: body, latency,
// authentication, injected failure, operation. It reports false if the
// client went away.
func (s *Server) serve(r *http.Request, op string, handle ContextOp) (response, bool) {
	body, readErr := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	// The body is read before sleeping: net/http notices a client that hangs
	// up, and cancels r's context, only once the body has been consumed.
	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
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
			return s.errorResponse(Errorf(TooLarge, "request body exceeds %d bytes", MaxBodyBytes)), true
		}
		return s.errorResponse(Errorf(Serialization, "could not read the request body")), true
	}
	if err := sigv4.Verify(r, body, s.creds, s.svc.SigningName, s.region, s.now()); err != nil {
		return s.errorResponse(s.signatureError(err)), true
	}
	if aerr := s.injected(op); aerr != nil {
		return s.errorResponse(aerr), true
	}
	out, aerr := handle(r.Context(), body)
	if aerr != nil {
		return s.errorResponse(aerr), true
	}
	return s.successResponse(out), true
}

// write sends resp. Headers are all set before WriteHeader.
func (s *Server) write(w http.ResponseWriter, resp response) {
	w.Header().Set("Content-Type", s.svc.contentType())
	if resp.queryError != "" {
		w.Header().Set("X-Amzn-Query-Error", resp.queryError)
	}
	w.WriteHeader(resp.status)
	if resp.body != nil {
		w.Write(resp.body)
	}
}

// record counts a call of op.
func (s *Server) record(op string, resp response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	s.total++
	if resp.status >= 200 && resp.status < 300 {
		s.succeeded[op]++
	}
}

// Decode unmarshals an operation's body into v. An empty body is an empty
// input, as the SDK sends "{}" but hand-written clients may not. Blobs
// arrive as standard base64, which encoding/json decodes into []byte.
func Decode(body []byte, v any) *Error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		// The decoder's message may quote request content (a plaintext, a
		// secret): don't echo it.
		return Errorf(Serialization, "the request body is not a valid JSON document for this operation")
	}
	return nil
}

// NewUUID returns a random (version 4) UUID in lowercase, the form of
// request ids and of many AWS resource ids.
func NewUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
