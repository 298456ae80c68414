package ingest

import (
	"context"
	"fmt"
	"runtime/debug"
)

// flight runs fn once for every concurrent caller with the same key, and
// returns its result to each. fn runs detached from the caller that started
// it (a client that hangs up must not fail the others waiting on the same
// flight), bounded by the resolve timeout, ended by Close, and with panics
// recovered (singleflight re-panics in a goroutine of its own, where no HTTP
// middleware can recover; the process would die). Each caller stops waiting
// when its own ctx is done.
func (s *Service) flight(ctx context.Context, key string, fn func(ctx context.Context) (any, error)) (any, error) {
	ch := s.flights.DoChan(key, func() (v any, err error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.resolveTimeout)
		defer cancel()
		defer context.AfterFunc(s.base, cancel)()
		defer func() {
			if p := recover(); p != nil {
				s.logger.ErrorContext(ctx, "panic in a shared key resolution", "flight", key, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				v, err = nil, fmt.Errorf("panic in a shared key resolution: %v", p)
			}
		}()
		return fn(fctx)
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		return r.Val, r.Err
	}
}
