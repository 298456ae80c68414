package streamstatus

import "time"

// The rules by which a store changes a channel's Stored state. They are pure
// functions so that every store applies the same ones: a store reads the
// channel's row (locked against concurrent deliveries), asks Next or
// Snapshot, and writes what they return.

// Next returns what stored becomes when e is applied to it (found is false
// when nothing is stored for the channel yet), and the outcome: Applied,
// Stale, Duplicate, or Irrelevant for an event that is neither a state nor a
// health event. Only an Applied outcome changes anything.
//
// An event applies when its time is after the stored time of what it is
// about (the state for a state event, the health for a health event), or
// equal to it with another event id: EventBridge's times have one-second
// resolution, so two events of one second are both applied, in the order
// they arrive. The same id and time is a redelivery.
func Next(stored Stored, found bool, e Event) (Stored, Outcome) {
	next := stored
	if !found {
		next = Stored{ChannelARN: e.ChannelARN}
	}
	if state, ok := e.State(); ok {
		if o := order(next.StateAt, next.StateEventID, e); o != Applied {
			return stored, o
		}
		unchanged := next.State == state && !next.Since.IsZero()
		if !unchanged || state == Live && e.StreamID != "" && e.StreamID != next.StreamID {
			next.Since = e.Time
		}
		if !unchanged || e.Reason != "" {
			next.Reason = e.Reason
		}
		next.State, next.StateAt, next.StateEventID = state, e.Time, e.ID
		if e.StreamID != "" {
			next.StreamID = e.StreamID
		}
		next.CheckedAt = latest(next.CheckedAt, e.Time)
		return next, Applied
	}
	if health, ok := e.Health(); ok {
		if o := order(next.HealthAt, next.HealthEventID, e); o != Applied {
			return stored, o
		}
		next.Health, next.HealthAt, next.HealthEventID = health, e.Time, e.ID
		return next, Applied
	}
	return stored, Irrelevant
}

// order says whether e applies over what was stored at at by event id.
func order(at time.Time, id string, e Event) Outcome {
	switch {
	case at.IsZero(), e.Time.After(at):
		return Applied
	case e.Time.Equal(at) && e.ID == id:
		return Duplicate
	case e.Time.Equal(at):
		return Applied
	}
	return Stale
}

// Snapshot returns what stored becomes when a ListStreams snapshot taken at
// at says the channel is live (live is its stream) or offline (live is nil),
// and whether the snapshot applies at all: it does not when the state was
// set at or after at (a snapshot never overwrites a newer event). When it
// applies, the state's time becomes at even if the state is unchanged: the
// snapshot is what is known as of at, so an event older than it, delivered
// late, is stale.
func Snapshot(stored Stored, found bool, at time.Time, live *LiveStream) (next Stored, applies bool) {
	if found && !stored.StateAt.IsZero() && !stored.StateAt.Before(at) {
		return stored, false
	}
	next = stored
	state, since := Offline, at
	if live != nil {
		state = Live
		if !live.StartTime.IsZero() {
			since = live.StartTime.UTC()
		}
	}
	same := next.State == state && !next.Since.IsZero() && (live == nil || live.StreamID == next.StreamID)
	if !same {
		next.Since = since
	}
	if next.State != state {
		next.Reason = ""
	}
	next.State, next.StateAt, next.StateEventID = state, at, ""
	if live != nil {
		next.StreamID = live.StreamID
		if live.Health != "" && (next.HealthAt.IsZero() || next.HealthAt.Before(at)) {
			next.Health, next.HealthAt, next.HealthEventID = live.Health, at, ""
		}
	}
	next.CheckedAt = latest(next.CheckedAt, at)
	return next, true
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
