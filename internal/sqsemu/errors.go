package sqsemu

import (
	"net/http"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsjson"
)

// Error names answered by the emulator: the __type of SQS's JSON errors
// (the SDK's types.QueueDoesNotExist and so on, for the modelled ones).
const (
	errQueueDoesNotExist  = "QueueDoesNotExist"
	errReceiptHandle      = "ReceiptHandleIsInvalid"
	errMessageNotInflight = "MessageNotInflight"
	errQueueNameExists    = "QueueNameExists"
	errInvalidAddress     = "InvalidAddress"
	errInvalidAttribute   = "InvalidAttributeValue"
	errInvalidParameter   = "InvalidParameterValue"
	errMissingParameter   = "MissingParameter"
	errInternal           = "InternalFailure"
	errUnavailable        = "ServiceUnavailable"
	errRequestThrottled   = "RequestThrottled"
)

// The error table: every error answered with its Query protocol code and
// status, as SQS sends them in X-Amzn-Query-Error and as the SDK reports
// them (ErrorCode() of a QueueDoesNotExist is
// "AWS.SimpleQueueService.NonExistentQueue"). The codes and statuses are
// the SQS model's awsQueryError traits; InvalidParameterValue,
// MissingParameter, InternalFailure and ServiceUnavailable are the common
// errors of AWS's Query services.
var (
	clientFaults = []string{errInvalidParameter, errMissingParameter}
	serverFaults = []string{errInternal}
	queryErrors  = map[string]awsjson.QueryError{
		errQueueDoesNotExist:  {Code: "AWS.SimpleQueueService.NonExistentQueue", Status: http.StatusBadRequest},
		errReceiptHandle:      {Code: "ReceiptHandleIsInvalid", Status: http.StatusNotFound},
		errMessageNotInflight: {Code: "AWS.SimpleQueueService.MessageNotInflight", Status: http.StatusBadRequest},
		errQueueNameExists:    {Code: "QueueAlreadyExists", Status: http.StatusBadRequest},
		errInvalidAddress:     {Code: "InvalidAddress", Status: http.StatusNotFound},
		errInvalidAttribute:   {Code: "InvalidAttributeValue", Status: http.StatusBadRequest},
		errInvalidParameter:   {Code: "InvalidParameterValue", Status: http.StatusBadRequest},
		errMissingParameter:   {Code: "MissingParameter", Status: http.StatusBadRequest},
		errInternal:           {Code: "InternalError", Status: http.StatusInternalServerError},
		errUnavailable:        {Code: "ServiceUnavailable", Status: http.StatusServiceUnavailable},
		errRequestThrottled:   {Code: "RequestThrottled", Status: http.StatusForbidden},
	}
)

// errNoQueue is SQS's answer for a queue URL or name that names no queue.
func errNoQueue() *awsjson.Error {
	return awsjson.Errorf(errQueueDoesNotExist, "The specified queue does not exist.")
}
