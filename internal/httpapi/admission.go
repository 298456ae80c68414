package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
)

// ActiveRequestsPerConn is how many requests the gate admits per database
// connection by default (see internal/app).
const ActiveRequestsPerConn = 4

// DefaultMaxActiveRequests is Config.MaxActiveRequests' default: four
// times the default database pool (DATABASE_MAX_CONNS, 20).
const DefaultMaxActiveRequests = ActiveRequestsPerConn * 20

// admission is the gate in front of the API's work: at most cap(slots)
// requests past it at once, doing store or CPU work; the others wait at it,
// in order (a channel's blocked senders are served first in, first out),
// until a place frees or their time runs out (then 503).
//
// Why, memory: only so many requests can do work at once (the pool holds
// DATABASE_MAX_CONNS statements, the machine has a few cores); the others
// only queue. A request queued at the gate waits before its token is
// verified, on a shallow stack (which the garbage collector shrinks) and with
// nothing of its work allocated. Without the gate, at 1,000 open connections
// nearly 1,000 requests waited for a pool connection deep in the handler,
// each on a stack of 16 to 32 KiB.
//
// A request gives its place back while it waits for something slow that is
// not the store (ingest.Waiter: the IVS call budget, a channel's lock,
// another request's key resolution), so a burst of first requests waiting on
// IVS never keeps hot requests out.
type admission struct {
	slots chan struct{}
}

func newAdmission(n int) *admission {
	if n <= 0 {
		n = DefaultMaxActiveRequests
	}
	return &admission{slots: make(chan struct{}, n)}
}

// enter waits for a place, until ctx ends: then it answers 503 (with
// Retry-After, as every 503), unaudited like the per-IP limit's refusals,
// since no token is verified yet. The caller calls leave on the admitted
// when its request ends.
func (a *admission) enter(ctx context.Context) (*admitted, error) {
	select {
	case a.slots <- struct{}{}:
		return &admitted{a: a, ctx: ctx, held: true}, nil
	default:
	}
	select {
	case a.slots <- struct{}{}:
		return &admitted{a: a, ctx: ctx, held: true}, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: no room among the requests being worked on: %w", errUnavailable, ctx.Err())
	}
}

// admitted is one request's place past the gate: the ingest.Waiter its
// domain calls are given. Used from the request's goroutine only.
type admitted struct {
	a    *admission
	ctx  context.Context // the request's: bounds taking the place back
	held bool
}

// Waiting gives the place back for a wait; done takes it again, waiting as
// long as the request's ctx allows (see ingest.Waiter).
func (t *admitted) Waiting() (done func()) {
	if t == nil || !t.held {
		return func() {}
	}
	t.release()
	return func() {
		select {
		case t.a.slots <- struct{}{}:
			t.held = true
		case <-t.ctx.Done():
			// Not held: the store work that follows fails on ctx.
		}
	}
}

// leave gives the place back when the request ends (if it holds it).
func (t *admitted) leave() {
	if t != nil && t.held {
		t.release()
	}
}

func (t *admitted) release() {
	t.held = false
	<-t.a.slots
}

// onOwnStack runs an admitted request's work on a goroutine of its own and
// waits for it. Why, memory: the work (token verification, the domain, pgx,
// encoding the answer) grows a goroutine's stack to 16 or 32 KiB, and a
// connection's goroutine keeps what it grew for as long as the connection
// lives, waiting at the gate for its next request on it; the garbage
// collector shrinks a stack only when it is three quarters unused. On a
// goroutine of its own the deep stack ends with the request, and the
// connections waiting at the gate keep the shallow stacks of reading a
// request. The cost is a goroutine per admitted request (a microsecond or
// two; the request's work takes hundreds).
//
// A panic in work is carried back and raised again here, where
// recoverPanics answers it (an unrecovered panic on a goroutine of its own
// would end the process), with the stack where it happened; a
// runtime.Goexit in work ends this goroutine too.
func onOwnStack(work func() error) error {
	type outcome struct {
		err      error
		finished bool
		panicked bool
		value    any
		stack    []byte
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		defer func() {
			if !o.finished {
				if v := recover(); v != nil {
					o.panicked, o.value = true, v
					if v != http.ErrAbortHandler {
						o.stack = debug.Stack()
					}
				}
			}
			done <- o
		}()
		o.err = work()
		o.finished = true
	}()
	o := <-done
	switch {
	case o.finished:
		return o.err
	case o.panicked && o.value == http.ErrAbortHandler:
		panic(o.value) // as is: net/http knows it by identity
	case o.panicked:
		panic(workPanic{value: o.value, stack: o.stack})
	}
	runtime.Goexit()
	return nil
}

// workPanic is a panic of an admitted request's work, raised again on the
// request's goroutine: its text says the value and where it happened.
type workPanic struct {
	value any
	stack []byte
}

func (p workPanic) String() string {
	return fmt.Sprint(p.value) + "\n\npanicked at:\n" + string(p.stack)
}
