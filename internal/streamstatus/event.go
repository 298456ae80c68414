package streamstatus

import (
	"errors"
	"time"
)

// The EventBridge fields that identify an IVS stream event.
const (
	// Source is the source of every IVS event.
	Source = "aws.ivs"
	// DetailTypeState is the detail-type of stream start, end and failure.
	DetailTypeState = "IVS Stream State Change"
	// DetailTypeHealth is the detail-type of starvation.
	DetailTypeHealth = "IVS Stream Health Change"
)

// Kind is what an event says happened.
type Kind string

// The kinds of event handled; every other event is KindIrrelevant.
const (
	KindStreamStart     Kind = "stream_start"     // IVS Stream State Change, Stream Start
	KindStreamEnd       Kind = "stream_end"       // IVS Stream State Change, Stream End
	KindSessionEnded    Kind = "session_ended"    // IVS Stream State Change, Session Ended
	KindStreamFailure   Kind = "stream_failure"   // IVS Stream State Change, Stream Failure
	KindStarvationStart Kind = "starvation_start" // IVS Stream Health Change, Starvation Start
	KindStarvationEnd   Kind = "starvation_end"   // IVS Stream Health Change, Starvation End
	KindIrrelevant      Kind = "irrelevant"       // another source, detail-type or event_name
)

// Event is one IVS stream event, as EventBridge delivers it.
type Event struct {
	// ID is EventBridge's event id: a redelivery carries the same one.
	ID string
	// Time is when IVS says it happened (one-second resolution).
	Time time.Time
	// ChannelARN is the channel, from the event's resources (never from
	// channel_name, which channels need not keep unique).
	ChannelARN string
	Kind       Kind
	// StreamID is IVS's id of the stream session ("" when absent).
	StreamID string
	// Reason is a Stream Failure's reason ("" otherwise).
	Reason string
}

// State is what the event says of the stream's state; ok is false for a
// health event or an irrelevant one.
func (e Event) State() (s State, ok bool) {
	switch e.Kind {
	case KindStreamStart:
		return Live, true
	case KindStreamEnd, KindSessionEnded, KindStreamFailure:
		return Offline, true
	}
	return "", false
}

// Health is what the event says of the stream's health; ok is false for a
// state event or an irrelevant one.
func (e Event) Health() (h Health, ok bool) {
	switch e.Kind {
	case KindStarvationStart:
		return Starving, true
	case KindStarvationEnd:
		return Healthy, true
	}
	return "", false
}

// ErrMalformed is matched by the error ParseEvent returns for a body that
// is no event: not a JSON object, or an IVS event of a handled kind without
// a channel ARN in its resources. It is final: the sender must not retry
// (HTTP 400, an SQS message deleted).
var ErrMalformed = errors.New("malformed event")

// ParseEvent reads an EventBridge event as an API destination sends it
// (whole, no input transformer), an SQS message carries it, or Lambda hands
// it to a function. An event of another source, detail-type or event_name
// is KindIrrelevant, not an error. The error matches ErrMalformed and never
// quotes the body.
func ParseEvent(body []byte) (Event, error) {
	panic("streamstatus.ParseEvent: to be written (lane A)")
}
