package kmsemu

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
	errAlreadyExists     = "AlreadyExistsException"
	errDependencyTimeout = "DependencyTimeoutException"
	errDisabled          = "DisabledException"
	errDryRun            = "DryRunOperationException"
	errIncorrectKey      = "IncorrectKeyException"
	errInternal          = "KMSInternalException"
	errInvalidAliasName  = "InvalidAliasNameException"
	errInvalidARN        = "InvalidArnException"
	errInvalidCiphertext = "InvalidCiphertextException"
	errInvalidKeyUsage   = "InvalidKeyUsageException"
	errInvalidState      = "KMSInvalidStateException"
	errKeyUnavailable    = "KeyUnavailableException"
	errLimitExceeded     = "LimitExceededException"
	errNotFound          = "NotFoundException"
	errSerialization     = "SerializationException"
	errTag               = "TagException"
	errThrottling        = "ThrottlingException"
	errTooLarge          = "RequestEntityTooLargeException"
	errUnknownOperation  = "UnknownOperationException"
	errUnsupported       = "UnsupportedOperationException"
	errValidation        = "ValidationException"
)

// apiError is an error answered to the client: a name from the table in
// errorStatus and a message safe to send. Messages quote no request value
// other than key and alias ARNs the emulator itself built from well-formed
// parts, and never a plaintext or a data key.
type apiError struct {
	name string
	msg  string
}

func (e *apiError) Error() string { return e.name + ": " + e.msg }

func newError(name, format string, args ...any) *apiError {
	return &apiError{name: name, msg: fmt.Sprintf(format, args...)}
}

// errorStatus is the one table from error name to HTTP status. KMS, like
// other AWS JSON services, answers every client fault with 400 (SDK error
// messages in the wild read "Status Code: 400; Error Code:
// NotFoundException"; the Smithy model's httpError traits, 404 and 409, are
// not what it sends) and its server faults with 500, as the KMS API
// Reference lists them. The errors of AWS's front end (signature, unknown
// operation, throttling) are client faults too. The SDK's retryer depends on
// it: it retries 5xx statuses and throttling codes, nothing else.
func errorStatus(name string) (int, bool) {
	switch name {
	case errValidation, errSerialization, errUnknownOperation, errAccessDenied, errThrottling,
		sigv4.MissingAuthenticationToken, sigv4.IncompleteSignature, sigv4.InvalidSignature, sigv4.UnrecognizedClient,
		errNotFound, errAlreadyExists, errInvalidAliasName, errInvalidARN, errInvalidCiphertext, errIncorrectKey,
		errInvalidKeyUsage, errUnsupported, errLimitExceeded, errTag, errDisabled, errInvalidState, errDryRun:
		return http.StatusBadRequest, true
	case errTooLarge:
		return http.StatusRequestEntityTooLarge, true
	case errInternal, errDependencyTimeout, errKeyUnavailable:
		return http.StatusInternalServerError, true
	}
	return 0, false
}

// errorBody is the AWS JSON 1.1 error document. The SDK takes the error's
// name from __type (after any '#') and the modelled exceptions' message
// from message.
type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
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
	if out == nil {
		return response{status: http.StatusOK}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return errorResponse(newError(errInternal, "unexpected error during processing of request"))
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
	return newError(errInternal, "unexpected error during processing of request")
}

func errValidationf(format string, args ...any) *apiError {
	return newError(errValidation, format, args...)
}

// errRequired is KMS's answer to a missing required member.
func errRequired(member string) *apiError {
	return errValidationf("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
}

func errConstraint(member, rule string) *apiError {
	return errValidationf("1 validation error detected: Value at '%s' failed to satisfy constraint: %s", member, rule)
}
