package smemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/sigv4"
)

// Error names answered by the emulator.
const (
	errAccessDenied      = "AccessDeniedException"
	errDecryptionFailure = "DecryptionFailure"
	errInternal          = "InternalServiceError"
	errInvalidParameter  = "InvalidParameterException"
	errInvalidRequest    = "InvalidRequestException"
	errNotFound          = "ResourceNotFoundException"
	errSerialization     = "SerializationException"
	errThrottling        = "ThrottlingException"
	errTooLarge          = "RequestEntityTooLargeException"
	errUnknownOperation  = "UnknownOperationException"
	errValidation        = "ValidationException"
)

// apiError is an error answered to the client: a name from the table in
// errorStatus and a message safe to send. Messages never quote a secret's
// value.
type apiError struct {
	name string
	msg  string
}

func (e *apiError) Error() string { return e.name + ": " + e.msg }

func newError(name, format string, args ...any) *apiError {
	return &apiError{name: name, msg: fmt.Sprintf(format, args...)}
}

// errorStatus is the one table from error name to HTTP status. Secrets
// Manager, like other AWS JSON services, answers every client fault with 400
// (the SDK's own error snapshots read "400 ... ResourceNotFoundException")
// and its server faults with 500. The errors of AWS's front end (signature,
// unknown operation, throttling, access denied) are client faults too. The
// SDK's retryer depends on it: it retries 5xx statuses and throttling codes,
// nothing else.
func errorStatus(name string) (int, bool) {
	switch name {
	case errValidation, errSerialization, errUnknownOperation, errAccessDenied, errThrottling,
		sigv4.MissingAuthenticationToken, sigv4.IncompleteSignature, sigv4.InvalidSignature, sigv4.UnrecognizedClient,
		errNotFound, errInvalidParameter, errInvalidRequest, errDecryptionFailure:
		return http.StatusBadRequest, true
	case errTooLarge:
		return http.StatusRequestEntityTooLarge, true
	case errInternal:
		return http.StatusInternalServerError, true
	}
	return 0, false
}

// errorBody is the AWS JSON 1.1 error document as Secrets Manager writes it
// (Message capitalized). The SDK takes the error's name from __type (after
// any '#') and its message from Message or message.
type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"Message"`
}

// errorResponse renders e. A name missing from the table cannot reach here
// (the fault-injection hooks check names) but would be answered as a 500.
func errorResponse(e *apiError) response {
	status, ok := errorStatus(e.name)
	if !ok {
		status = http.StatusInternalServerError
	}
	body, _ := json.Marshal(errorBody{Type: e.name, Message: e.msg})
	return response{status: status, errName: e.name, body: body}
}

func successResponse(out any) response {
	body, err := json.Marshal(out)
	if err != nil {
		return errorResponse(newError(errInternal, "An error occurred on the server side."))
	}
	return response{status: http.StatusOK, body: body}
}

// signatureError converts an error of sigv4.Verify, which always is a
// *sigv4.Error, to the error answered.
func signatureError(err error) *apiError {
	var serr *sigv4.Error
	if errors.As(err, &serr) {
		return &apiError{name: serr.Code, msg: serr.Message}
	}
	return newError(errInternal, "An error occurred on the server side.")
}
