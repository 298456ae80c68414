package ivs

import (
	"context"
	"errors"
	"time"

	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// The outcomes of one HTTP attempt to IVS, as metrics label them.
const (
	OutcomeSuccess       = "success"
	OutcomeThrottled     = "throttled"      // ThrottlingException: over IVS's request rate
	OutcomeNotFound      = "not_found"      // ResourceNotFoundException
	OutcomeQuotaExceeded = "quota_exceeded" // ServiceQuotaExceededException
	OutcomeAccessDenied  = "access_denied"  // AccessDeniedException, or a signature IVS refused
	OutcomeAPIError      = "api_error"      // any other error answer from IVS
	OutcomeCredentials   = "credentials"    // no AWS credentials could be resolved; nothing was sent
	OutcomeTimeout       = "timeout"        // the attempt or its request ran out of time
	OutcomeNetworkError  = "network_error"  // no answer: connection refused, reset, DNS...
)

// metricsMiddleware reports each attempt's operation, outcome and duration.
func metricsMiddleware(m Metrics) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		if m == nil {
			return nil
		}
		mw := middleware.FinalizeMiddlewareFunc("IVSCallMetrics", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			start := time.Now()
			out, md, err := next.HandleFinalize(ctx, in)
			m.IVSCall(middleware.GetOperationName(ctx), outcomeOf(err), time.Since(start))
			return out, md, err
		})
		return stack.Finalize.Insert(mw, "Retry", middleware.After)
	}
}

// outcomeOf classifies an attempt's error into a small fixed set, so that no
// message (which may name a resource) reaches a label.
func outcomeOf(err error) string {
	if err == nil {
		return OutcomeSuccess
	}
	if errors.Is(err, ingest.ErrIVSCredentials) {
		return OutcomeCredentials
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "ThrottlingException":
			return OutcomeThrottled
		case "ResourceNotFoundException":
			return OutcomeNotFound
		case "ServiceQuotaExceededException":
			return OutcomeQuotaExceeded
		case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException":
			return OutcomeAccessDenied
		}
		return OutcomeAPIError
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return OutcomeTimeout
	}
	var timeout interface{ Timeout() bool }
	if errors.As(err, &timeout) && timeout.Timeout() {
		return OutcomeTimeout
	}
	return OutcomeNetworkError
}
