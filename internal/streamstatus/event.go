package streamstatus

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
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
// a channel ARN in its resources, an id or a valid time. It is final: the
// sender must not retry (HTTP 400, an SQS message deleted).
var ErrMalformed = errors.New("malformed event")

// The event names of the handled kinds, by detail-type.
var kinds = map[string]map[string]Kind{
	DetailTypeState: {
		"Stream Start":   KindStreamStart,
		"Stream End":     KindStreamEnd,
		"Session Ended":  KindSessionEnded,
		"Stream Failure": KindStreamFailure,
	},
	DetailTypeHealth: {
		"Starvation Start": KindStarvationStart,
		"Starvation End":   KindStarvationEnd,
	},
}

// channelARN is an IVS channel's ARN: arn:aws:ivs:<region>:<account>:channel/<id>.
var channelARN = regexp.MustCompile(`^arn:aws:ivs:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:channel/[A-Za-z0-9-]{1,128}$`)

// IsChannelARN reports whether s is an IVS channel's ARN.
func IsChannelARN(s string) bool { return channelARN.MatchString(s) }

// ParseEvent reads an EventBridge event as an API destination sends it
// (whole, no input transformer), an SQS message carries it, or Lambda hands
// it to a function. An event of another source, detail-type or event_name
// is KindIrrelevant, not an error, whatever else it holds. The error matches
// ErrMalformed and never quotes the body (nor the JSON decoder's message,
// which may); with it, the Event holds only the kind, when the body named a
// handled one (for log lines).
func ParseEvent(body []byte) (Event, error) {
	var env map[string]json.RawMessage
	// A JSON null decodes into a nil map without error: it is no object.
	if err := json.Unmarshal(body, &env); err != nil || env == nil {
		return Event{}, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	names, ok := kinds[str(env["detail-type"])]
	if !ok || str(env["source"]) != Source {
		return Event{Kind: KindIrrelevant}, nil
	}
	var detail map[string]json.RawMessage
	if json.Unmarshal(env["detail"], &detail) != nil {
		detail = nil // no event_name: irrelevant
	}
	kind, ok := names[str(detail["event_name"])]
	if !ok {
		return Event{Kind: KindIrrelevant}, nil
	}
	e := Event{Kind: kind, ID: str(env["id"]), StreamID: str(detail["stream_id"])}
	if kind == KindStreamFailure {
		e.Reason = str(detail["reason"])
	}
	var resources []json.RawMessage
	_ = json.Unmarshal(env["resources"], &resources) // not a list: no ARN
	for _, r := range resources {
		if s := str(r); IsChannelARN(s) {
			e.ChannelARN = s
			break
		}
	}
	if e.ChannelARN == "" {
		return Event{Kind: kind}, fmt.Errorf("%w: a %s event without a channel ARN in resources", ErrMalformed, kind)
	}
	// The id tells a redelivery from another event of the same second.
	if e.ID == "" {
		return Event{Kind: kind}, fmt.Errorf("%w: a %s event without an id", ErrMalformed, kind)
	}
	t, err := time.Parse(time.RFC3339, str(env["time"]))
	if err != nil {
		return Event{Kind: kind}, fmt.Errorf("%w: a %s event without a valid time", ErrMalformed, kind)
	}
	e.Time = t.UTC()
	return e, nil
}

// str is the JSON string raw holds, or "" when it holds no string.
func str(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}
