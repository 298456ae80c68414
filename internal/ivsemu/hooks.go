package ivsemu

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Channel is a channel created with Emulator.CreateChannel.
type Channel struct {
	ARN            string
	Name           string
	IngestEndpoint string
	PlaybackURL    string
	StreamKey      StreamKey
}

// StreamKey is a channel's stream key. Value is the secret a streamer uses.
type StreamKey struct {
	ARN        string
	ChannelARN string
	Value      string
}

// Call is one request to a known operation, as CallLog reports it.
type Call struct {
	Op     string    // operation name, e.g. "CreateStreamKey"
	At     time.Time // arrival time
	Status int       // HTTP status answered; 499 if the client went away during the injected latency
	Error  string    // error name answered ("RequestCanceled" for 499), "" on success
}

// failure is the injected failure of one operation.
type failure struct {
	nextName string // error for the next calls
	next     int    // how many calls remain to fail with nextName
	always   string // error for every call once next is used up; "" for none
}

// CreateChannel creates a channel named name with default settings and its
// stream key, as the CreateChannel operation does, without an HTTP request
// and without counting a call. The channel is persisted if a state file is
// configured.
func (e *Emulator) CreateChannel(name string) (Channel, error) {
	c, aerr := (&createChannelInput{Name: &name}).validate()
	if aerr != nil {
		return Channel{}, errors.New("ivsemu: create channel: name must match " + channelNamePattern.String() + " and have at most 128 characters")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	k := e.addChannelLocked(c)
	if aerr := e.saveLocked(); aerr != nil {
		delete(e.channels, c.ARN)
		delete(e.keys, k.ARN)
		return Channel{}, errors.New("ivsemu: create channel: could not save state")
	}
	return Channel{
		ARN:            c.ARN,
		Name:           c.Name,
		IngestEndpoint: c.IngestEndpoint,
		PlaybackURL:    c.PlaybackURL,
		StreamKey:      StreamKey{ARN: k.ARN, ChannelARN: k.ChannelARN, Value: k.Value},
	}, nil
}

// SetLive marks the channel live (as if an encoder were streaming to it) or
// offline. Marking a live channel live again keeps its stream. Live state is
// not persisted.
func (e *Emulator) SetLive(channelARN string, live bool) error {
	return e.SetStream(channelARN, StreamSpec{Live: live})
}

// StreamSpec is the stream SetStream gives a channel. A zero field keeps
// what the live stream has, or takes a default for a new one.
type StreamSpec struct {
	// Live is false for an offline channel; the other fields are then
	// ignored.
	Live bool
	// Health is HEALTHY, STARVING or UNKNOWN; "" keeps the stream's health
	// (HEALTHY for a new stream).
	Health string
	// StartTime is when the stream started; zero keeps the stream's (now
	// for a new stream).
	StartTime time.Time
	// StreamID is IVS's id of the stream session; "" keeps the stream's (a
	// new "st-…" id for a new stream).
	StreamID string
}

// streamHealths are IVS's stream healths.
var streamHealths = []string{"HEALTHY", "STARVING", "UNKNOWN"}

// SetStream plays a broadcast on the channel, as an encoder would: live or
// offline, its health, start time and stream id, which GetStream and
// ListStreams then report. Stream state is not persisted.
func (e *Emulator) SetStream(channelARN string, s StreamSpec) error {
	if s.Live && s.Health != "" && !slices.Contains(streamHealths, s.Health) {
		return fmt.Errorf("ivsemu: set stream: health %q is not one of %v", s.Health, streamHealths)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.channels[channelARN]
	if c == nil {
		return fmt.Errorf("ivsemu: set stream: channel %s does not exist", channelARN)
	}
	if !s.Live {
		delete(e.streams, channelARN)
		return nil
	}
	st := stream{
		ChannelARN:  channelARN,
		StreamID:    "st-" + randomString(22, alphanumerics),
		PlaybackURL: c.PlaybackURL,
		StartTime:   isoTime(e.now()),
		State:       "LIVE",
		Health:      "HEALTHY",
	}
	if old := e.streams[channelARN]; old != nil {
		st = *old
	}
	if s.Health != "" {
		st.Health = s.Health
	}
	if !s.StartTime.IsZero() {
		st.StartTime = isoTime(s.StartTime)
	}
	if s.StreamID != "" {
		st.StreamID = s.StreamID
	}
	// A new value, not a change in place: an answer being encoded after the
	// lock was released may still hold the old one (see opFunc).
	e.streams[channelARN] = &st
	return nil
}

// Stream returns the channel's stream as SetStream left it: Live false for
// an offline channel.
func (e *Emulator) Stream(channelARN string) (StreamSpec, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.channels[channelARN] == nil {
		return StreamSpec{}, fmt.Errorf("ivsemu: stream: channel %s does not exist", channelARN)
	}
	s := e.streams[channelARN]
	if s == nil {
		return StreamSpec{}, nil
	}
	started, _ := time.Parse(time.RFC3339Nano, s.StartTime)
	return StreamSpec{Live: true, Health: s.Health, StartTime: started, StreamID: s.StreamID}, nil
}

// mustOp panics if op is not an emulated operation. A misspelt name in a
// test would otherwise count nothing, or inject nothing, and let the test
// pass for the wrong reason.
func mustOp(op string) {
	if lookupOp(op) == nil {
		panic(fmt.Sprintf("ivsemu: unknown operation %q", op))
	}
}

// Calls returns how many requests addressed op since the last ResetCounts,
// whatever their answer: refused signatures, throttles, injected failures
// and SDK retries all count. It panics if op is not an emulated operation.
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

// Throttled returns how many calls the rate limit refused.
func (e *Emulator) Throttled() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.throttled
}

// CallLog returns the calls since the last ResetCounts, oldest first. It
// keeps at most the latest 65536 calls.
func (e *Emulator) CallLog() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Call(nil), e.log...)
}

// ResetCounts zeroes the counts behind Calls, Succeeded, TotalCalls and
// Throttled and empties CallLog.
func (e *Emulator) ResetCounts() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.calls)
	clear(e.succeeded)
	e.total, e.throttled = 0, 0
	e.log = nil
}

// mustError panics if name has no status in the error table.
func mustError(name string) {
	if _, ok := errorStatus(name); !ok {
		panic(fmt.Sprintf("ivsemu: unknown error %q", name))
	}
}

// FailNext makes the next n authenticated, unthrottled calls of op fail with
// the error errName (e.g. "InternalServerException", "ThrottlingException"),
// answered with its status from the error table. It takes precedence over
// Fail. It panics if op or errName is unknown.
func (e *Emulator) FailNext(op, errName string, n int) {
	mustOp(op)
	mustError(errName)
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.failureLocked(op)
	f.nextName, f.next = errName, max(n, 0)
}

// Fail makes every authenticated, unthrottled call of op fail with errName
// until ClearFailures. It panics if op or errName is unknown.
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

// SetLatency delays the answer to every call by d (0 for none). A client
// that gives up during the delay gets no answer.
func (e *Emulator) SetLatency(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.latency = max(d, 0)
}

// SetRateLimit limits authenticated calls, all operations together, to
// perSecond within any sliding one-second window, answering the excess with
// 429 ThrottlingException. 0 removes the limit.
func (e *Emulator) SetRateLimit(perSecond int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rateLimit = max(perSecond, 0)
	e.admitted = nil
}

// BeforeNext runs fn once, just before the next authenticated, admitted call
// of op is carried out, outside the emulator's lock, so fn may call the
// emulator (through HTTP too). It stages races deterministically, e.g.
// another creator's key appearing between a client's ListStreamKeys and its
// CreateStreamKey. It panics if op is unknown.
func (e *Emulator) BeforeNext(op string, fn func()) {
	mustOp(op)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.before == nil {
		e.before = make(map[string]func())
	}
	e.before[op] = fn
}

func (e *Emulator) takeBefore(op string) func() {
	e.mu.Lock()
	defer e.mu.Unlock()
	fn := e.before[op]
	delete(e.before, op)
	return fn
}
