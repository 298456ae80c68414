package awsjson

import (
	"fmt"
	"time"
)

// failure is the injected failure of one operation.
type failure struct {
	nextName string // error for the next calls
	next     int    // how many calls remain to fail with nextName
	always   string // error for every call once next is used up; "" for none
}

// mustOp panics if op is not a served operation. A misspelt name in a test
// would otherwise count nothing, or inject nothing, and let the test pass
// for the wrong reason.
func (s *Server) mustOp(op string) {
	if s.svc.op(op) == nil {
		panic(fmt.Sprintf("%s: unknown operation %q", s.svc.Name, op))
	}
}

// mustError panics if name has no status in the error table.
func (s *Server) mustError(name string) {
	if _, ok := s.statuses[name]; !ok {
		panic(fmt.Sprintf("%s: unknown error %q", s.svc.Name, name))
	}
}

// Calls returns how many requests addressed op (e.g. "Decrypt") since the
// last ResetCounts, whatever their answer: refused signatures, injected
// failures and SDK retries all count. It panics if op is not a served
// operation.
func (s *Server) Calls(op string) int {
	s.mustOp(op)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// Succeeded returns how many calls of op were answered with a 2xx status.
// It panics if op is not a served operation.
func (s *Server) Succeeded(op string) int {
	s.mustOp(op)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.succeeded[op]
}

// TotalCalls returns the number of calls of all operations.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// ResetCounts zeroes the counts behind Calls, Succeeded and TotalCalls.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
	clear(s.succeeded)
	s.total = 0
}

// FailNext makes the next n authenticated calls of op fail with the error
// errName, answered with its status from the error table: a server fault
// (e.g. KMSInternalException, InternalServiceError) the SDK retries, a
// client fault (AccessDeniedException) it does not. It takes precedence
// over Fail. It panics if op or errName is unknown.
func (s *Server) FailNext(op, errName string, n int) {
	s.mustOp(op)
	s.mustError(errName)
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.failureLocked(op)
	f.nextName, f.next = errName, max(n, 0)
}

// Fail makes every authenticated call of op fail with errName until
// ClearFailures: Fail("GetSecretValue", "AccessDeniedException") is an
// identity without secretsmanager:GetSecretValue. It panics if op or
// errName is unknown.
func (s *Server) Fail(op, errName string) {
	s.mustOp(op)
	s.mustError(errName)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failureLocked(op).always = errName
}

func (s *Server) failureLocked(op string) *failure {
	f := s.failures[op]
	if f == nil {
		f = &failure{}
		s.failures[op] = f
	}
	return f
}

// ClearFailures removes every failure set by FailNext and Fail.
func (s *Server) ClearFailures() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.failures)
}

// injected returns the failure injected for the next call of op, if any.
func (s *Server) injected(op string) *Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.failures[op]; f != nil {
		if f.next > 0 {
			f.next--
			return Errorf(f.nextName, "injected failure")
		}
		if f.always != "" {
			return Errorf(f.always, "injected failure")
		}
	}
	return nil
}

// SetLatency delays the answer to every call by d (0 for none), for a
// service that is slow rather than unreachable. A client that gives up
// during the delay gets no answer; its call counts, and not as a success.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = max(d, 0)
}
