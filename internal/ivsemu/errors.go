package ivsemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/sigv4"
)

// apiError is an error answered to the client: a name from the table in
// errorStatus and a message safe to send. Messages never carry request
// values other than well-formed ARNs, so a stream key value passed by mistake
// in an ARN field cannot be echoed back.
type apiError struct {
	name string
	msg  string
}

func (e *apiError) Error() string { return e.name + ": " + e.msg }

func newError(name, format string, args ...any) *apiError {
	return &apiError{name: name, msg: fmt.Sprintf(format, args...)}
}

// errorStatus is the one table from error name to HTTP status. It holds the
// IVS exceptions of the service model (see docs/ivs-wire.md) and the errors
// AWS's front end answers before a request reaches IVS.
func errorStatus(name string) (int, bool) {
	switch name {
	case "ValidationException", "IncompleteSignatureException":
		return http.StatusBadRequest, true
	case "ServiceQuotaExceededException":
		return http.StatusPaymentRequired, true
	case "AccessDeniedException", "PendingVerification", "UnrecognizedClientException",
		"InvalidSignatureException", "MissingAuthenticationTokenException":
		return http.StatusForbidden, true
	case "ResourceNotFoundException", "ChannelNotBroadcasting", "UnknownOperationException":
		return http.StatusNotFound, true
	case "ConflictException":
		return http.StatusConflict, true
	case "RequestEntityTooLargeException":
		return http.StatusRequestEntityTooLarge, true
	case "ThrottlingException":
		return http.StatusTooManyRequests, true
	case "InternalServerException":
		return http.StatusInternalServerError, true
	case "ServiceUnavailable", "StreamUnavailable":
		return http.StatusServiceUnavailable, true
	}
	return 0, false
}

// errorBody is the restJson1 error document. The SDK decodes only
// exceptionMessage into the modelled exceptions; message is what it reads
// for errors it does not model (a smithy.GenericAPIError, such as
// ThrottlingException on stream-key operations), so both are sent.
type errorBody struct {
	Type             string `json:"__type"`
	ExceptionMessage string `json:"exceptionMessage"`
	Message          string `json:"message"`
}

// errorResponse renders e. A name missing from the table (possible only via
// the fault-injection hooks, which check names) is answered as a 500.
func errorResponse(e *apiError) response {
	status, ok := errorStatus(e.name)
	if !ok {
		status = http.StatusInternalServerError
	}
	body, _ := json.Marshal(errorBody{
		Type:             "com.amazonaws.ivs#" + e.name,
		ExceptionMessage: e.msg,
		Message:          e.msg,
	})
	return response{status: status, errName: e.name, body: body}
}

// signatureError converts an error of sigv4.Verify, which always is a
// *sigv4.Error, to the error answered.
func signatureError(err error) *apiError {
	var serr *sigv4.Error
	if errors.As(err, &serr) {
		return &apiError{name: serr.Code, msg: serr.Message}
	}
	return errInternal()
}

func errValidation(format string, args ...any) *apiError {
	return newError("ValidationException", format, args...)
}

func errNotFound(kind, arn string) *apiError {
	return newError("ResourceNotFoundException", "%s %s does not exist", kind, arn)
}

func errNotBroadcasting(channelARN string) *apiError {
	return newError("ChannelNotBroadcasting", "channel %s is not broadcasting", channelARN)
}

func errInternal() *apiError {
	return newError("InternalServerException", "unexpected error during processing of request")
}
