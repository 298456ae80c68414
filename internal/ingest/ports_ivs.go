package ingest

import (
	"context"
	"time"
)

// ports_ivs.go is the IVS port: the calls the domain makes, each through a
// reservation of the call budget.

// IVS is the part of Amazon IVS the domain calls. Every call is made
// through a reservation: a step reserves the calls it is about to make, with
// who they are for, before it takes any lock.
type IVS interface {
	// Reserve reserves c.Calls calls on c.ChannelARN's account and region.
	// It refuses with a *BusyError when IVS has no room within the wait
	// allowed, or with the implementation's own error when the seller's
	// share of IVS is spent (which the domain passes on as it is). The
	// caller releases the calls when its step ends.
	Reserve(ctx context.Context, c Claim) (Calls, error)
}

// Claim says what a reservation of IVS calls is for.
type Claim struct {
	// Calls is the number of IVS calls the step is about to make.
	Calls int
	// SellerID is the seller whose show the calls are for.
	SellerID string
	// ChannelARN is the channel the calls are about: it names the account
	// and region whose limits they count against.
	ChannelARN string
	Priority   Priority
}

// Priority says whose work a claim is: who pays for it, and how it waits
// for IVS (the budget's rules: a waiting person first, then operators'
// commands, then the service's own upkeep only where a call slot is free
// at once).
type Priority int

// The priorities.
const (
	// Interactive is a request someone is waiting for: a seller's (its calls
	// are charged to SellerID's share, and a key it creates to the seller's
	// hourly limit) or an admin's revocation (SellerID "": charged to no
	// one).
	Interactive Priority = iota
	// Background is the service's own upkeep (renewing an expired key,
	// checking a stored key): charged to no seller, and it never delays
	// anyone waiting.
	Background
	// Batch is an operator's command (provision, rotate-expired): charged to
	// no seller, after the people waiting.
	Batch
)

// Calls are the IVS calls of one reservation. Calls beyond the reserved
// number are allowed; each takes a slot of its own.
type Calls interface {
	GetChannel(ctx context.Context, arn string) (Channel, error)
	GetStreamKey(ctx context.Context, arn string) (StreamKey, error)
	// ListStreamKeys returns the ARNs of every key of the channel.
	ListStreamKeys(ctx context.Context, channelARN string) ([]string, error)
	CreateStreamKey(ctx context.Context, channelARN string) (StreamKey, error)
	DeleteStreamKey(ctx context.Context, arn string) error
	// StopStream ends the channel's live stream; ErrIVSNotBroadcasting
	// when there is none.
	StopStream(ctx context.Context, channelARN string) error
	// Live reports whether the channel is broadcasting.
	Live(ctx context.Context, channelARN string) (bool, error)

	// Ready waits for the reservation's first call slot, or until ctx is
	// done. Why: a step waits here before it takes a lock, so that it never
	// holds the lock while queueing behind others' calls.
	Ready(ctx context.Context) error
	// Delay is how long after the reservation its first call slot starts:
	// the time its calls queue behind others' in the call budget (0 with
	// no budget). Batch commands report it as their progress.
	Delay() time.Duration
	// Hold marks the calls that follow as made under a lock: a call that
	// needs a slot beyond the reservation's own (it starts late, or it is
	// a retry) waits at most wait for one, and otherwise fails with a
	// *BusyError.
	Hold(wait time.Duration)
	// Missed reports whether the next call's slot has already passed, so
	// that the call would need a slot beyond the reservation's: the step
	// reached it too late (it waited for a lock, a connection). False
	// without a budget.
	Missed() bool
	// Requeue gives back the calls not made and reserves as many again at
	// the end of the queue, in calls that replace these, keeping what the
	// seller's share was charged (they are the same calls, later).
	Requeue(ctx context.Context) (Calls, error)
	// Release gives back the calls not made. It may be called more than
	// once; calls after it take slots of their own.
	Release(ctx context.Context) error
}
