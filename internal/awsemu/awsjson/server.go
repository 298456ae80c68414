// Package awsjson is the server side of the AWS JSON 1.1 protocol, shared by
// the repository's emulators of AWS JSON services (kmsemu, smemu): POST /
// with the operation in X-Amz-Target: <prefix>.<Op> and Content-Type:
// application/x-amz-json-1.1, a bounded body, SigV4 verified with
// internal/awsemu/sigv4 for the service's signing name, a request id in
// x-amzn-RequestId, and errors as {"__type": ..., "message": ...}.
//
// A Server takes the service's table of operations; the emulator keeps its
// operations, its state and its seeding hooks. Its exported methods other
// than ServeHTTP are the hooks every emulator offers its tests: call counts,
// injected failures and latency. All are safe for concurrent use. It has no
// third-party dependencies, so the emulators stay free of them too.
package awsjson

import (
	"bytes"
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

// Service describes the AWS JSON 1.1 service a Server emulates.
type Service struct {
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
	// ClientFaults are the service's error names answered with 400, and
	// ServerFaults those answered with 500, beside the front end's.
	ClientFaults, ServerFaults []string
	// Internal is the error answered when an output cannot be encoded.
	Internal Error
	// MessageMember is the error document's message member: "message", or
	// "Message" for the services that capitalize it.
	MessageMember string
}

// Server is an http.Handler for one AWS JSON 1.1 service. Create it with
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
		write(w, s.errorResponse(Errorf(UnknownOperation, "unknown operation")))
		return
	}
	resp, ok := s.serve(r, op, handle)
	if !ok {
		s.record(op, response{status: statusClientClosed, errName: "RequestCanceled"})
		return
	}
	s.record(op, resp)
	write(w, resp)
}

// operation returns the operation r addresses, or a nil Op if r is not an
// AWS JSON 1.1 request for an operation of the service that is served.
func (s *Server) operation(r *http.Request) (string, Op) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return "", nil
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != ContentType {
		return "", nil
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), s.svc.TargetPrefix)
	if !ok {
		return "", nil
	}
	return op, s.svc.Ops[op]
}

// serve runs the stages every operation goes through: body, latency,
// authentication, injected failure, operation. It reports false if the
// client went away.
func (s *Server) serve(r *http.Request, op string, handle Op) (response, bool) {
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
	out, aerr := handle(body)
	if aerr != nil {
		return s.errorResponse(aerr), true
	}
	return s.successResponse(out), true
}

// write sends resp. Headers are all set before WriteHeader.
func write(w http.ResponseWriter, resp response) {
	w.Header().Set("Content-Type", ContentType)
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
