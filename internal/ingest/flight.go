package ingest

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
)

// flight runs fn once for every concurrent caller with the same key, and
// returns its result to each. fn runs detached from the caller that started
// it (a client that hangs up must not fail the others waiting on the same
// flight), bounded by the resolve timeout, ended by Close (with ErrClosed as
// the cause), and with panics recovered (singleflight re-panics in a
// goroutine of its own, where no HTTP middleware can recover; the process
// would die). Each caller stops waiting when its own ctx is done.
//
// The key must name everything the result depends on, who asks included
// where that changes what fn does (a priority, an exemption): callers that
// share a flight get the starter's result.
// errFlightPanic is what the callers of a flight that panicked get.
var errFlightPanic = errors.New("panic in a shared key resolution (logged with its stack)")

func flight[T any](s *Service, ctx context.Context, key string, fn func(ctx context.Context) (T, error)) (T, error) {
	ch := s.flights.DoChan(key, func() (v any, err error) {
		fctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
		defer cancel(nil)
		defer context.AfterFunc(s.base, func() { cancel(context.Cause(s.base)) })()
		fctx, stop := context.WithTimeout(fctx, s.resolveTimeout)
		defer stop()
		defer func() {
			if p := recover(); p != nil {
				s.logger.ErrorContext(ctx, "panic in a shared key resolution", "flight", key, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				// The value is logged once, here, with its stack; the error
				// each waiting request logs again does not repeat it.
				v, err = nil, errFlightPanic
			}
		}()
		return fn(fctx)
	})
	var zero T
	select {
	case <-ctx.Done():
		return zero, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return zero, r.Err
		}
		return r.Val.(T), nil
	}
}
