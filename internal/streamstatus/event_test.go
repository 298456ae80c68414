package streamstatus_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
)

const sampleChannel = "arn:aws:ivs:us-east-1:123456789012:channel/12345678-1a23-4567-a1bc-1a2b34567890"

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every handled kind, from AWS's own sample events.
func TestParseEventSamples(t *testing.T) {
	t.Parallel()
	at := time.Date(2017, 6, 12, 10, 23, 43, 0, time.UTC)
	const id, stream = "01234567-0123-0123-0123-012345678901", "st-1A2b3c4D5e6F78ghij9Klmn"
	tests := []struct {
		file string
		want streamstatus.Event
	}{
		{"stream_start.json", streamstatus.Event{ID: id, Time: at, ChannelARN: sampleChannel, Kind: streamstatus.KindStreamStart, StreamID: stream}},
		{"stream_end.json", streamstatus.Event{ID: id, Time: at, ChannelARN: sampleChannel, Kind: streamstatus.KindStreamEnd, StreamID: stream}},
		{"stream_failure.json", streamstatus.Event{ID: id, Time: at, ChannelARN: sampleChannel, Kind: streamstatus.KindStreamFailure, StreamID: stream,
			Reason: "Transcode capacity exceeded. Please try again."}},
		{"session_ended.json", streamstatus.Event{ID: "6f2723f3-ee31-9e48-b030-ac865e261a8e", Time: time.Date(2024, 9, 9, 16, 17, 26, 0, time.UTC),
			ChannelARN: "arn:aws:ivs:us-west-2:535011710559:channel/UCGaMPGLCbcE", Kind: streamstatus.KindSessionEnded, StreamID: "st-1AuTyMDASvHUTSb8p5PvbsO"}},
		{"starvation_start.json", streamstatus.Event{ID: id, Time: at, ChannelARN: sampleChannel, Kind: streamstatus.KindStarvationStart, StreamID: stream}},
		{"starvation_end.json", streamstatus.Event{ID: id, Time: at, ChannelARN: sampleChannel, Kind: streamstatus.KindStarvationEnd, StreamID: stream}},
		{"session_created.json", streamstatus.Event{Kind: streamstatus.KindIrrelevant}},
		{"recording_start.json", streamstatus.Event{Kind: streamstatus.KindIrrelevant}},
		{"limit_breach.json", streamstatus.Event{Kind: streamstatus.KindIrrelevant}},
	}
	for _, tt := range tests {
		got, err := streamstatus.ParseEvent(sample(t, tt.file))
		if err != nil {
			t.Errorf("ParseEvent(%s): %v", tt.file, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseEvent(%s) mismatch (-want +got):\n%s", tt.file, diff)
		}
	}
	// What each kind says.
	for _, tt := range []struct {
		kind   streamstatus.Kind
		state  streamstatus.State
		health streamstatus.Health
	}{
		{streamstatus.KindStreamStart, streamstatus.Live, ""}, {streamstatus.KindStreamEnd, streamstatus.Offline, ""},
		{streamstatus.KindSessionEnded, streamstatus.Offline, ""}, {streamstatus.KindStreamFailure, streamstatus.Offline, ""},
		{streamstatus.KindStarvationStart, "", streamstatus.Starving}, {streamstatus.KindStarvationEnd, "", streamstatus.Healthy},
		{streamstatus.KindIrrelevant, "", ""},
	} {
		e := streamstatus.Event{Kind: tt.kind}
		s, sok := e.State()
		h, hok := e.Health()
		if s != tt.state || sok != (tt.state != "") || h != tt.health || hok != (tt.health != "") {
			t.Errorf("%s: State() = %q, %v; Health() = %q, %v; want %q, %q", tt.kind, s, sok, h, hok, tt.state, tt.health)
		}
	}
}

// edit returns the stream start sample with its JSON text changed.
func edit(t *testing.T, old, new string) []byte {
	t.Helper()
	s := string(sample(t, "stream_start.json"))
	if !strings.Contains(s, old) {
		t.Fatalf("sample has no %q", old)
	}
	return []byte(strings.Replace(s, old, new, 1))
}

func TestParseEventMalformed(t *testing.T) {
	t.Parallel()
	const secret = "sk_live_0123456789abcdef" // stands for anything a body may hold
	tests := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"not JSON", []byte("Authorization: Bearer " + secret)},
		{"truncated", sample(t, "stream_start.json")[:40]},
		{"array", []byte(`[{"source": "aws.ivs"}]`)},
		{"string", []byte(`"` + secret + `"`)},
		{"null", []byte(`null`)},
		{"number", []byte(`42`)},
		{"no resources", edit(t, `"resources": [`, `"other": [`)},
		{"empty resources", edit(t, `"`+sampleChannel+`"`, ``)},
		{"resources not a list", edit(t, `"resources": [
      "`+sampleChannel+`"
   ]`, `"resources": "`+sampleChannel+`"`)},
		{"a stream key ARN, not a channel's", edit(t, sampleChannel, "arn:aws:ivs:us-east-1:123456789012:stream-key/"+secret)},
		{"the documentation's placeholder account", edit(t, sampleChannel, "arn:aws:ivs:us-east-1:aws_account_id:channel/abc")},
		{"another service's ARN", edit(t, sampleChannel, "arn:aws:s3:::bucket")},
		{"no time", edit(t, `"time": "2017-06-12T10:23:43Z"`, `"tim": "x"`)},
		{"invalid time", edit(t, `"time": "2017-06-12T10:23:43Z"`, `"time": "`+secret+`"`)},
		{"time not a string", edit(t, `"time": "2017-06-12T10:23:43Z"`, `"time": 1497263023`)},
		{"no id", edit(t, `"id": "01234567-0123-0123-0123-012345678901"`, `"id": ""`)},
	}
	for _, tt := range tests {
		e, err := streamstatus.ParseEvent(tt.body)
		if !errors.Is(err, streamstatus.ErrMalformed) {
			t.Errorf("ParseEvent(%s) = %+v, %v; want ErrMalformed", tt.name, e, err)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "{") {
			t.Errorf("ParseEvent(%s) error %q quotes the body", tt.name, err)
		}
	}
}

// Another source, detail-type or event_name is irrelevant, not an error,
// whatever else it holds; the channel is never taken from channel_name.
func TestParseEventIrrelevantAndChannel(t *testing.T) {
	t.Parallel()
	irrelevant := map[string][]byte{
		"another source":           edit(t, `"source": "aws.ivs"`, `"source": "my.app"`),
		"source not a string":      edit(t, `"source": "aws.ivs"`, `"source": 1`),
		"another detail-type":      edit(t, `"detail-type": "IVS Stream State Change"`, `"detail-type": "IVS Limit Breach"`),
		"another event_name":       edit(t, `"event_name": "Stream Start"`, `"event_name": "Stream Takeover"`),
		"no detail":                edit(t, `"detail": {`, `"detail2": {`),
		"an empty object":          []byte(`{}`),
		"another source, no ARN":   []byte(`{"source": "aws.s3", "detail-type": "IVS Stream State Change", "detail": {"event_name": "Stream Start"}}`),
		"event name in wrong case": edit(t, `"event_name": "Stream Start"`, `"event_name": "stream start"`),
	}
	for name, body := range irrelevant {
		e, err := streamstatus.ParseEvent(body)
		if err != nil || e.Kind != streamstatus.KindIrrelevant {
			t.Errorf("ParseEvent(%s) = %+v, %v; want KindIrrelevant, no error", name, e, err)
		}
	}
	const other = "arn:aws:ivs:eu-west-1:123456789012:channel/AbCdef1G2hij"
	body := edit(t, `"`+sampleChannel+`"`, `"arn:aws:ivs:us-east-1:123456789012:stream-key/AbCdef1G2hij", 7, "`+other+`", "`+sampleChannel+`"`)
	body = []byte(strings.Replace(string(body), `"channel_name": "Your Channel"`, `"channel_name": "`+sampleChannel+`"`, 1))
	e, err := streamstatus.ParseEvent(body)
	if err != nil || e.ChannelARN != other {
		t.Errorf("ParseEvent(resources: key ARN, number, two channels) = %q, %v; want the first channel ARN %q", e.ChannelARN, err, other)
	}
	// A time with a zone is kept as the instant, in UTC.
	e, err = streamstatus.ParseEvent(edit(t, `"2017-06-12T10:23:43Z"`, `"2017-06-12T12:23:43+02:00"`))
	if want := time.Date(2017, 6, 12, 10, 23, 43, 0, time.UTC); err != nil || !e.Time.Equal(want) || e.Time.Location() != time.UTC {
		t.Errorf("ParseEvent(time with +02:00) time = %v, %v; want %v", e.Time, err, want)
	}
}
