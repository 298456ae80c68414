package kmsemu

import (
	"fmt"
	"time"
)

// Key is a KMS key created with Emulator.CreateKey.
type Key struct {
	ID  string // key id, a UUID
	ARN string // key ARN, arn:aws:kms:<region>:<account>:key/<id>
}

// failure is the injected failure of one operation.
type failure struct {
	nextName string // error for the next calls
	next     int    // how many calls remain to fail with nextName
	always   string // error for every call once next is used up; "" for none
}

// CreateKey creates an enabled symmetric encryption key, as the CreateKey
// operation does, without an HTTP request and without counting a call.
func (e *Emulator) CreateKey(description string) Key {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := e.addKeyLocked(description)
	return Key{ID: k.id, ARN: k.arn}
}

// CreateAlias points the new alias aliasName ("alias/<name>") at the key
// that keyID names (key id or key ARN), as the CreateAlias operation does,
// without an HTTP request and without counting a call.
func (e *Emulator) CreateAlias(aliasName, keyID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if aerr := e.addAliasLocked(aliasName, &keyID); aerr != nil {
		return fmt.Errorf("kmsemu: create alias: %w", aerr)
	}
	return nil
}

// SetKeyEnabled enables or disables the key that keyID names (key id or key
// ARN), as EnableKey and DisableKey do, without counting a call.
func (e *Emulator) SetKeyEnabled(keyID string, enabled bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	k, aerr := e.resolveLocked("keyId", &keyID, false)
	if aerr != nil {
		return fmt.Errorf("kmsemu: set key enabled: %w", aerr)
	}
	k.enabled = enabled
	return nil
}

// mustOp panics if op is not an emulated operation. A misspelt name in a
// test would otherwise count nothing, or inject nothing, and let the test
// pass for the wrong reason.
func mustOp(op string) {
	if lookupOp(op) == nil {
		panic(fmt.Sprintf("kmsemu: unknown operation %q", op))
	}
}

// mustError panics if name has no status in the error table.
func mustError(name string) {
	if _, ok := errorStatus(name); !ok {
		panic(fmt.Sprintf("kmsemu: unknown error %q", name))
	}
}

// Calls returns how many requests addressed op (e.g. "Decrypt") since the
// last ResetCounts, whatever their answer: refused signatures, injected
// failures and SDK retries all count. It panics if op is not an emulated
// operation.
func (e *Emulator) Calls(op string) int {
	mustOp(op)
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[op]
}

// Succeeded returns how many calls of op were answered with a 2xx status.
// It panics if op is not an emulated operation.
func (e *Emulator) Succeeded(op string) int {
	mustOp(op)
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.succeeded[op]
}

// TotalCalls returns the number of calls of all operations.
func (e *Emulator) TotalCalls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.total
}

// ResetCounts zeroes the counts behind Calls, Succeeded and TotalCalls.
func (e *Emulator) ResetCounts() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.calls)
	clear(e.succeeded)
	e.total = 0
}

// FailNext makes the next n authenticated calls of op fail with the error
// errName (e.g. "KMSInternalException", which the SDK retries,
// "AccessDeniedException", which it does not), answered with its status
// from the error table. It takes precedence over Fail. It panics if op or
// errName is unknown.
func (e *Emulator) FailNext(op, errName string, n int) {
	mustOp(op)
	mustError(errName)
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.failureLocked(op)
	f.nextName, f.next = errName, max(n, 0)
}

// Fail makes every authenticated call of op fail with errName until
// ClearFailures. It panics if op or errName is unknown.
func (e *Emulator) Fail(op, errName string) {
	mustOp(op)
	mustError(errName)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failureLocked(op).always = errName
}

func (e *Emulator) failureLocked(op string) *failure {
	f := e.failures[op]
	if f == nil {
		f = &failure{}
		e.failures[op] = f
	}
	return f
}

// ClearFailures removes every failure set by FailNext and Fail.
func (e *Emulator) ClearFailures() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.failures)
}

// SetLatency delays the answer to every call by d (0 for none), for a KMS
// that is slow rather than unreachable. A client that gives up during the
// delay gets no answer; its call counts, and not as a success.
func (e *Emulator) SetLatency(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.latency = max(d, 0)
}
