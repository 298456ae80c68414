package ingest

// Waiter is told when a request stops working to wait for something slow
// that is not the store: the IVS call budget's first slot, a channel's lock
// held by another change, or a key resolution another request leads. The
// transport gives back the request's place among those working meanwhile
// (httpapi's admission gate), so that a burst of first requests waiting on
// IVS does not keep requests that only read the store from running.
type Waiter interface {
	// Waiting says the request is about to wait. done, called once the
	// wait is over, takes the request's place back, waiting for it as long
	// as the request's ctx allows (when ctx ends first, the store work that
	// follows fails on ctx). Called from the request's own goroutine.
	Waiting() (done func())
}

// waiting is w.Waiting, or nothing to do for a request without a Waiter
// (an operator's command, a test).
func waiting(w Waiter) (done func()) {
	if w == nil {
		return func() {}
	}
	return w.Waiting()
}
