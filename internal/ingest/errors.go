package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The domain's errors. The HTTP layer maps each to a status and a message in
// one table; any other error is an internal error whose details are only logged.
var (
	ErrSessionEnded        = errors.New("session ended or unknown")
	ErrImpersonationDenied = errors.New("only admins can impersonate sellers")
	ErrSellerNotFound      = errors.New("seller profile not found")
	ErrSellerNotApproved   = errors.New("seller not approved")
	ErrShowNotFound        = errors.New("show not found")
	ErrNotShowOwner        = errors.New("caller does not own the show")
	// ErrChannelShared: another seller's show names the same channel, so
	// its key would be theirs too.
	ErrChannelShared = errors.New("channel is shared with another seller's show")
	// ErrShowChanged: the show was moved to another seller or channel
	// while its key was being read or changed.
	ErrShowChanged          = errors.New("show changed during the request")
	ErrNoChannel            = errors.New("show has no IVS channel")
	ErrChannelUnavailable   = errors.New("failed to retrieve channel details")
	ErrStreamKeyUnavailable = errors.New("failed to read or create the stream key")
	ErrAuditForbidden       = errors.New("caller may not read this audit trail")
	// ErrMFARequired: REQUIRE_MFA is on and the caller's token is not
	// aal2, so the caller has not verified a second factor in this session.
	ErrMFARequired = errors.New("multi-factor authentication required")
	// ErrClosed is the cause (context.Cause) of the work a closed Service
	// cancelled.
	ErrClosed = errors.New("service closed")
	// ErrRateLimited matches every *RateLimitedError.
	ErrRateLimited = errors.New("too many key creations")
)

// RateLimitedError says a seller created or rotated too many keys lately.
type RateLimitedError struct {
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("too many key creations: retry after %s", e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrRateLimited) hold.
func (e *RateLimitedError) Is(target error) bool { return target == ErrRateLimited }

// AuditedError is the error of a change that went part way and committed
// what it did, with the audit row of RequestID saying so: the caller must not
// write a second row for it.
type AuditedError struct {
	Err       error
	RequestID string
}

func (e *AuditedError) Error() string { return e.Err.Error() }

func (e *AuditedError) Unwrap() error { return e.Err }

// Errors an IVS implementation reports so the domain can tell them apart.
var (
	// ErrIVSNotFound: the channel or key does not exist.
	ErrIVSNotFound = errors.New("ivs: resource not found")
	// ErrIVSKeyQuota: the channel already has its one stream key.
	ErrIVSKeyQuota = errors.New("ivs: stream key quota exceeded")
	// ErrIVSCredentials: no AWS credentials could be found or used.
	ErrIVSCredentials = errors.New("ivs: aws credentials unavailable")
	// ErrIVSNotBroadcasting: the channel has no live stream.
	ErrIVSNotBroadcasting = errors.New("ivs: channel not broadcasting")
	// ErrIVSThrottled: IVS still throttled the call after every retry. It
	// comes with a *BusyError saying when to come back.
	ErrIVSThrottled = errors.New("ivs: throttled")
	// ErrIVSBusy matches every *BusyError.
	ErrIVSBusy = errors.New("ivs: busy")
)

// ThrottledRetryAfter is when a caller whose IVS call was still throttled
// after every retry is told to come back. Why: IVS gives no retry time; its
// limits are per second, and the SDK already backed off for a few seconds.
const ThrottledRetryAfter = 5 * time.Second

// BusyError says IVS cannot take the calls now: the call budget shared by
// the replicas has no slot within the wait allowed, or IVS throttled a call
// after every retry. A refused reservation reserved nothing.
type BusyError struct {
	// RetryAfter is how long until the calls would fit: a lower bound, not
	// a promise.
	RetryAfter time.Duration
	// Err is the cause, for the logs; nil for none.
	Err error
}

func (e *BusyError) Error() string {
	msg := fmt.Sprintf("ivs busy: retry after %s", e.RetryAfter)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrIVSBusy) hold.
func (e *BusyError) Is(target error) bool { return target == ErrIVSBusy }

func (e *BusyError) Unwrap() error { return e.Err }

// ivsFailure wraps an IVS error in the domain error that names the step,
// unless AWS is not configured at all (the operator's problem, an internal
// error, not a fact about the channel) or IVS is busy (the caller is told
// when to come back).
func ivsFailure(domainErr error, step string, err error) error {
	if errors.Is(err, ErrIVSCredentials) || errors.Is(err, ErrIVSBusy) {
		return fmt.Errorf("%s: %w", step, err)
	}
	return fmt.Errorf("%w: %s: %w", domainErr, step, err)
}

// failedChangeStatus is the HTTP status the audit row of a change that
// failed part way records: the transport answers such errors
// (ErrStreamKeyUnavailable, or IVS being busy) with it.
func failedChangeStatus(err error) int {
	if errors.Is(err, ErrIVSBusy) {
		return 503
	}
	return 500
}

// lockFailure reports a channel section that timed out (waiting for the
// lock or for IVS) as ErrStreamKeyUnavailable.
func lockFailure(err error) error {
	if errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrStreamKeyUnavailable) {
		return fmt.Errorf("%w: %w", ErrStreamKeyUnavailable, err)
	}
	return err
}
