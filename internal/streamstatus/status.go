package streamstatus

import "time"

// State is a stream's state, as public.shows.stream_status holds it.
type State string

// The states.
const (
	// Live: IVS receives the channel's stream.
	Live State = "live"
	// Offline: it does not (ended, failed, or never started since the
	// state has been kept).
	Offline State = "offline"
)

// Health is a live stream's health.
type Health string

// The healths.
const (
	// Healthy: IVS receives enough video.
	Healthy Health = "healthy"
	// Starving: IVS receives too little video (Starvation Start).
	Starving Health = "starving"
)

// Stored is a channel's stream state as the store keeps it.
type Stored struct {
	ChannelARN string
	State      State
	// StateAt orders state changes: the event's time, or the snapshot's.
	StateAt time.Time
	// StateEventID is the id of the event that set the state ("" for a
	// reconciliation).
	StateEventID string
	// Since is when the state began: the stream's start time for a live
	// stream a reconciliation found, the event's time otherwise.
	Since    time.Time
	StreamID string
	Reason   string
	// Health is "" until a health event or a reconciliation sets it.
	Health        Health
	HealthAt      time.Time
	HealthEventID string
	// CheckedAt is when an event or a reconciliation last confirmed the
	// state: how fresh it is.
	CheckedAt time.Time
}

// View is what GET /functions/v1/ivs-stream-status answers for a show.
type View struct {
	// Status is "live", "offline" or "unknown" (no event or reconciliation
	// has set it yet).
	Status string
	// Health is nil unless the stream is live.
	Health *Health
	// Since is when the status began; nil when unknown.
	Since *time.Time
}
