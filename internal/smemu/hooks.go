package smemu

import (
	"fmt"
	"slices"
	"time"
)

// Secret is a secret created with Emulator.CreateSecret.
type Secret struct {
	Name string
	// ARN is arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6
	// random characters>.
	ARN string
	// VersionID is the id of its first version.
	VersionID string
}

// failure is the injected failure of one operation.
type failure struct {
	nextName string // error for the next calls
	next     int    // how many calls remain to fail with nextName
	always   string // error for every call once next is used up; "" for none
}

// CreateSecret creates the secret name whose AWSCURRENT value is the string
// value (its SecretString), as the CreateSecret operation does, without an
// HTTP request and without counting a call.
func (e *Emulator) CreateSecret(name, value string) (Secret, error) {
	return e.create(name, &version{str: &value})
}

// CreateBinarySecret creates the secret name whose AWSCURRENT value is the
// binary value (its SecretBinary), as CreateSecret does.
func (e *Emulator) CreateBinarySecret(name string, value []byte) (Secret, error) {
	return e.create(name, &version{bin: slices.Clone(value)})
}

func (e *Emulator) create(name string, v *version) (Secret, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v.id, v.created = newUUID(), e.now()
	sec, err := e.addSecretLocked(name, v)
	if err != nil {
		return Secret{}, fmt.Errorf("smemu: create secret: %w", err)
	}
	return Secret{Name: sec.name, ARN: sec.arn, VersionID: v.id}, nil
}

// PutSecretValue stores the string value as a new AWSCURRENT version of the
// secret that secretID names (ARN or name), as the PutSecretValue operation
// does: the version that was current becomes AWSPREVIOUS. It returns the
// new version's id.
func (e *Emulator) PutSecretValue(secretID, value string) (string, error) {
	return e.put(secretID, &version{str: &value})
}

// PutBinarySecretValue is PutSecretValue with a binary value.
func (e *Emulator) PutBinarySecretValue(secretID string, value []byte) (string, error) {
	return e.put(secretID, &version{bin: slices.Clone(value)})
}

func (e *Emulator) put(secretID string, v *version) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	sec, aerr := e.resolveLocked(&secretID)
	if aerr != nil {
		return "", fmt.Errorf("smemu: put secret value: %w", aerr)
	}
	v.id, v.created = newUUID(), e.now()
	if err := putVersionLocked(sec, v); err != nil {
		return "", fmt.Errorf("smemu: put secret value: %w", err)
	}
	return v.id, nil
}

// mustOp panics if op is not an emulated operation. A misspelt name in a
// test would otherwise count nothing, or inject nothing, and let the test
// pass for the wrong reason.
func mustOp(op string) {
	if lookupOp(op) == nil {
		panic(fmt.Sprintf("smemu: unknown operation %q", op))
	}
}

// mustError panics if name has no status in the error table.
func mustError(name string) {
	if _, ok := errorStatus(name); !ok {
		panic(fmt.Sprintf("smemu: unknown error %q", name))
	}
}

// Calls returns how many requests addressed op (e.g. "GetSecretValue")
// since the last ResetCounts, whatever their answer: refused signatures,
// injected failures and SDK retries all count. It panics if op is not an
// emulated operation.
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
// errName (e.g. "InternalServiceError", which the SDK retries,
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
// ClearFailures: Fail("GetSecretValue", "AccessDeniedException") is an
// identity without secretsmanager:GetSecretValue. It panics if op or
// errName is unknown.
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

// SetLatency delays the answer to every call by d (0 for none), for a
// Secrets Manager that is slow rather than unreachable. A client that gives
// up during the delay gets no answer; its call counts, and not as a
// success.
func (e *Emulator) SetLatency(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.latency = max(d, 0)
}
