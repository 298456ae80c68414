package kmsemu

import "github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsjson"

// Error names answered by the emulator: AWS's front end's and KMS's own.
// Messages quote no request value other than key and alias ARNs the
// emulator itself built from well-formed parts, and never a plaintext or a
// data key.
const (
	errAccessDenied      = awsjson.AccessDenied
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
	errSerialization     = awsjson.Serialization
	errTag               = "TagException"
	errThrottling        = awsjson.Throttling
	errTooLarge          = awsjson.TooLarge
	errUnknownOperation  = awsjson.UnknownOperation
	errUnsupported       = "UnsupportedOperationException"
	errValidation        = awsjson.Validation
)

// clientFaults and serverFaults are KMS's errors in the error table
// (awsjson's statusTable): 400 for the client faults, 500 for the server
// faults, as the KMS API Reference lists them.
var (
	clientFaults = []string{errNotFound, errAlreadyExists, errInvalidAliasName, errInvalidARN, errInvalidCiphertext,
		errIncorrectKey, errInvalidKeyUsage, errUnsupported, errLimitExceeded, errTag, errDisabled, errInvalidState, errDryRun}
	serverFaults = []string{errInternal, errDependencyTimeout, errKeyUnavailable}
)

func errValidationf(format string, args ...any) *awsjson.Error {
	return awsjson.Errorf(errValidation, format, args...)
}

// errRequired is KMS's answer to a missing required member.
func errRequired(member string) *awsjson.Error {
	return errValidationf("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
}

func errConstraint(member, rule string) *awsjson.Error {
	return errValidationf("1 validation error detected: Value at '%s' failed to satisfy constraint: %s", member, rule)
}
