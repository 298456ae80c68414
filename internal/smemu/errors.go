package smemu

import "github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsjson"

// Error names answered by the emulator: AWS's front end's and Secrets
// Manager's own. Messages never quote a secret's value.
const (
	errAccessDenied      = awsjson.AccessDenied
	errDecryptionFailure = "DecryptionFailure"
	errInternal          = "InternalServiceError"
	errInvalidParameter  = "InvalidParameterException"
	errInvalidRequest    = "InvalidRequestException"
	errNotFound          = "ResourceNotFoundException"
	errSerialization     = awsjson.Serialization
	errThrottling        = awsjson.Throttling
	errTooLarge          = awsjson.TooLarge
	errUnknownOperation  = awsjson.UnknownOperation
	errValidation        = awsjson.Validation
)

// clientFaults and serverFaults are Secrets Manager's errors in the error
// table (awsjson's statusTable): like other AWS JSON services, it answers
// every client fault with 400 (the SDK's own error snapshots read "400 ...
// ResourceNotFoundException") and its server faults with 500.
var (
	clientFaults = []string{errNotFound, errInvalidParameter, errInvalidRequest, errDecryptionFailure}
	serverFaults = []string{errInternal}
)
