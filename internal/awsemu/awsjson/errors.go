package awsjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/sigv4"
)

// Error names of AWS's front end, answered alike by every AWS JSON service
// (the Server answers the first three itself).
const (
	UnknownOperation = "UnknownOperationException"
	Serialization    = "SerializationException"
	TooLarge         = "RequestEntityTooLargeException"
	Validation       = "ValidationException"
	AccessDenied     = "AccessDeniedException"
	Throttling       = "ThrottlingException"
)

// Error is an error answered to the client: a name from the Server's error
// table and a message safe to send. Operations build the message; it must
// never quote a secret of the request or of the emulator.
type Error struct {
	Name    string
	Message string
}

func (e *Error) Error() string { return e.Name + ": " + e.Message }

// Errorf returns the Error name with a message formatted as fmt.Sprintf does.
func Errorf(name, format string, args ...any) *Error {
	return &Error{Name: name, Message: fmt.Sprintf(format, args...)}
}

// statusTable is the one table from error name to HTTP status of a Server.
// AWS JSON services answer every client fault with 400 (SDK error messages
// in the wild read "Status Code: 400; Error Code: NotFoundException"; the
// Smithy models' httpError traits, 404 and 409, are not what they send), a
// body over the limit with 413, and their server faults with 500. The
// errors of AWS's front end (signature, unknown operation, throttling,
// access denied) are client faults too. The SDK's retryer depends on it: it
// retries 5xx statuses and throttling codes, nothing else.
func statusTable(svc Service) map[string]int {
	t := map[string]int{TooLarge: http.StatusRequestEntityTooLarge}
	for _, name := range []string{
		UnknownOperation, Serialization, Validation, AccessDenied, Throttling,
		sigv4.MissingAuthenticationToken, sigv4.IncompleteSignature, sigv4.InvalidSignature, sigv4.UnrecognizedClient,
	} {
		t[name] = http.StatusBadRequest
	}
	for _, name := range svc.ClientFaults {
		t[name] = http.StatusBadRequest
	}
	for _, name := range svc.ServerFaults {
		t[name] = http.StatusInternalServerError
	}
	for name, q := range svc.QueryErrors {
		t[name] = q.Status
	}
	return t
}

// response is a rendered answer, kept apart from writing so that the call is
// recorded before the client can see the answer: a test that checks Calls
// right after the SDK returns must see its own call.
type response struct {
	status  int
	errName string // "" on success
	body    []byte // nil for an empty body
	// queryError is the X-Amzn-Query-Error header; "" for none.
	queryError string
}

// errorResponse renders e as the AWS JSON error document,
// {"__type": name, "message": message} (or "Message", as the service writes
// it): the SDK takes the error's name from __type (after any '#') and its
// message from either. A name missing from the table cannot reach here (the
// fault-injection hooks check names) but would be answered as a 500.
func (s *Server) errorResponse(e *Error) response {
	status, ok := s.statuses[e.Name]
	if !ok {
		status = http.StatusInternalServerError
	}
	typ := e.Name
	if s.svc.ErrorNamespace != "" {
		typ = s.svc.ErrorNamespace + "#" + e.Name
	}
	name, _ := json.Marshal(typ)
	msg, _ := json.Marshal(e.Message)
	body := fmt.Appendf(nil, `{"__type":%s,%q:%s}`, name, s.svc.MessageMember, msg)
	resp := response{status: status, errName: e.Name, body: body}
	if q, ok := s.svc.QueryErrors[e.Name]; ok {
		fault := "Sender"
		if q.Status >= 500 {
			fault = "Receiver"
		}
		resp.queryError = q.Code + ";" + fault
	}
	return resp
}

// successResponse renders an operation's output; nil is an empty body.
func (s *Server) successResponse(out any) response {
	if out == nil {
		return response{status: http.StatusOK}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return s.errorResponse(s.internal())
	}
	return response{status: http.StatusOK, body: body}
}

func (s *Server) internal() *Error {
	e := s.svc.Internal
	return &e
}

// signatureError converts an error of sigv4.Verify, which always is a
// *sigv4.Error, to the error answered.
func (s *Server) signatureError(err error) *Error {
	var serr *sigv4.Error
	if errors.As(err, &serr) {
		return &Error{Name: serr.Code, Message: serr.Message}
	}
	return s.internal()
}
