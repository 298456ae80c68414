package streamstatus

import (
	"context"
	"time"
)

// Outcome is what applying an event did.
type Outcome string

// The outcomes (also the metric's label values).
const (
	// Applied: the event changed the stored state.
	Applied Outcome = "applied"
	// Stale: the stored state is newer than the event.
	Stale Outcome = "stale"
	// Duplicate: the event was applied before (same id and time).
	Duplicate Outcome = "duplicate"
	// UnknownChannel: no show is on the event's channel.
	UnknownChannel Outcome = "unknown_channel"
	// Irrelevant: not an event this service handles.
	Irrelevant Outcome = "irrelevant"
	// Malformed: not an event at all (counted; the sender is told 400).
	Malformed Outcome = "malformed"
	// Failed: the store could not apply it (the sender retries).
	Failed Outcome = "failed"
)

// Store keeps the stream state.
type Store interface {
	// ApplyStreamEvent applies e (a state or health event of a known
	// channel) unless the stored state is newer: a state event when its
	// time is after the stored state's, or equal to it with another event
	// id; a health event likewise against the stored health. In the same
	// transaction it sets public.shows.stream_status of every show on the
	// channel when the state changed. It returns UnknownChannel, without
	// storing anything, when no show is on e.ChannelARN.
	ApplyStreamEvent(ctx context.Context, e Event) (Outcome, error)
	// ApplyStreamSnapshot corrects the stored state of every channel of a
	// show in region from a ListStreams snapshot taken at at: live holds the
	// region's live streams. A channel whose state changed at or after at
	// keeps it (a snapshot never overwrites a newer event); the others
	// become live (with the snapshot's stream id, start time and health) or
	// offline, and their shows' stream_status with them; their state's time
	// becomes at, changed or not (streamstatus.Snapshot's rules), and so
	// does their CheckedAt. It returns how many channels' state it changed
	// (a channel with no state before counts).
	ApplyStreamSnapshot(ctx context.Context, region string, at time.Time, live []LiveStream) (changed int, err error)
	// StreamState reads a channel's stored state; found is false when there
	// is none.
	StreamState(ctx context.Context, channelARN string) (s Stored, found bool, err error)
	// StreamRegions lists the regions of the channels of every show.
	StreamRegions(ctx context.Context) ([]string, error)
}

// LiveStream is one live stream of a ListStreams snapshot.
type LiveStream struct {
	ChannelARN string
	StreamID   string
	StartTime  time.Time
	// Health is "" when IVS says UNKNOWN.
	Health Health
}

// Streams is the part of IVS a reconciliation calls: ListStreams, with
// background priority in the IVS call budget (it never delays a seller).
type Streams interface {
	// LiveStreams lists every live stream of region, page by page.
	LiveStreams(ctx context.Context, region string) ([]LiveStream, error)
}

// Leaser hands out leases, so that one replica at a time reconciles
// (ingest.Leaser's method set: the PostgreSQL store is one).
type Leaser interface {
	TakeLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Metrics is what the package reports.
type Metrics interface {
	// StreamEvent counts an event received, by kind and outcome; kind is
	// "" for a body that was no event (outcome Malformed).
	StreamEvent(kind Kind, outcome Outcome)
	// StreamReconcile counts a reconciliation run by outcome ("done",
	// "skipped": another replica holds the lease, "failed") and the channels
	// it changed.
	StreamReconcile(outcome string, changed int)
}
