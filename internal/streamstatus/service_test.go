package streamstatus_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/metrics"
	"github.com/ivs-ingest/ivs-ingest/internal/sqlite"
	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
	"github.com/ivs-ingest/ivs-ingest/internal/testclock"
)

const (
	seller   = "c0000000-0000-4000-8000-000000000001"
	user     = "a0000000-0000-4000-8000-000000000001"
	show1    = "d0000000-0000-4000-8000-000000000001"
	show2    = "d0000000-0000-4000-8000-000000000002"
	euShow   = "d0000000-0000-4000-8000-000000000003"
	euARN    = "arn:aws:ivs:eu-west-1:123456789012:channel/euchanneleu1"
	otherARN = "arn:aws:ivs:us-east-1:123456789012:channel/AbCdef1G2hij"
)

// store is a seeded SQLite store, the one `ivs-ingest dev` runs: the
// sample events' channel (show1), otherARN (show2) and euARN (euShow).
type store interface {
	streamstatus.Store
	AddSeller(ctx context.Context, id, userID, status string) error
	AddShow(ctx context.Context, show ingest.Show) error
}

func seeded(t *testing.T, s store) {
	t.Helper()
	ctx := context.Background()
	if err := s.AddSeller(ctx, seller, user, ingest.SellerApproved); err != nil {
		t.Fatal(err)
	}
	for _, sh := range []ingest.Show{{ID: show1, SellerID: seller, ChannelARN: sampleChannel}, {ID: show2, SellerID: seller, ChannelARN: otherARN},
		{ID: euShow, SellerID: seller, ChannelARN: euARN}} {
		if err := s.AddShow(ctx, sh); err != nil {
			t.Fatal(err)
		}
	}
}

func openSQLite(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ivs-ingest.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	seeded(t, db)
	return db
}

// counter reads a counter of m, as Prometheus would scrape it.
func counter(t *testing.T, m *metrics.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	f := families[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
	var sum float64
series:
	for _, s := range f.GetMetric() {
		for _, l := range s.GetLabel() {
			if w, ok := labels[l.GetName()]; ok && w != l.GetValue() {
				continue series
			}
		}
		sum += counterValue(s)
	}
	return sum
}

func counterValue(s *dto.Metric) float64 { return s.GetCounter().GetValue() }

func TestReceive(t *testing.T) {
	t.Parallel()
	db := openSQLite(t)
	m := metrics.New("test")
	var logs bytes.Buffer
	svc := streamstatus.New(streamstatus.Options{Store: db, Metrics: m,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ctx := context.Background()
	const secret = "Bearer ivs-events-token-0123456789"
	tests := []struct {
		name    string
		body    []byte
		want    streamstatus.Outcome
		kind    string
		wantErr error
	}{
		{"start", sample(t, "stream_start.json"), streamstatus.Applied, "stream_start", nil},
		{"redelivered", sample(t, "stream_start.json"), streamstatus.Duplicate, "stream_start", nil},
		{"starving", sample(t, "starvation_start.json"), streamstatus.Applied, "starvation_start", nil},
		{"unknown channel", sample(t, "session_ended.json"), streamstatus.UnknownChannel, "session_ended", nil},
		{"recording", sample(t, "recording_start.json"), streamstatus.Irrelevant, "irrelevant", nil},
		{"not JSON", []byte(secret), streamstatus.Malformed, "unparsed", streamstatus.ErrMalformed},
		{"no channel", []byte(`{"source": "aws.ivs", "detail-type": "IVS Stream State Change", "id": "x", "time": "2017-06-12T10:23:43Z",
			"resources": ["` + secret + `"], "detail": {"event_name": "Stream End", "channel_name": "` + secret + `"}}`),
			streamstatus.Malformed, "unparsed", streamstatus.ErrMalformed},
	}
	for _, tt := range tests {
		got, err := svc.Receive(ctx, tt.body)
		if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("Receive(%s) = %q, %v; want %q, %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
	for _, tt := range tests {
		if n := counter(t, m, "ivs_ingest_stream_events_total", map[string]string{"kind": tt.kind, "outcome": string(tt.want)}); n < 1 {
			t.Errorf("stream_events_total{kind=%q,outcome=%q} = %v, want counted", tt.kind, tt.want, n)
		}
	}
	if n := counter(t, m, "ivs_ingest_stream_events_total", nil); n != float64(len(tests)) {
		t.Errorf("stream_events_total = %v in all, want %d (one per Receive)", n, len(tests))
	}
	if strings.Contains(logs.String(), "ivs-events-token") {
		t.Errorf("the log quotes a body:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"stream event applied"`) {
		t.Errorf("no log line for the applied event:\n%s", logs.String())
	}
	v, err := svc.View(ctx, sampleChannel)
	if err != nil || v.Status != "live" || v.Health == nil || *v.Health != streamstatus.Starving {
		t.Errorf("View after Stream Start and Starvation Start = %+v, %v; want live, starving", v, err)
	}

	// A store that fails: Failed, counted, the error returned for a retry.
	db.Close()
	got, err := svc.Receive(ctx, sample(t, "stream_end.json"))
	if got != streamstatus.Failed || err == nil || errors.Is(err, streamstatus.ErrMalformed) {
		t.Errorf("Receive with the store closed = %q, %v; want failed with a store error", got, err)
	}
	if n := counter(t, m, "ivs_ingest_stream_events_total", map[string]string{"kind": "stream_end", "outcome": "failed"}); n != 1 {
		t.Errorf("stream_events_total{stream_end,failed} = %v, want 1", n)
	}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func event(kind streamstatus.Kind, id, when string) streamstatus.Event {
	return streamstatus.Event{ID: id, Time: at(when), ChannelARN: sampleChannel, Kind: kind, StreamID: "st-1"}
}

func TestView(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	healthy, starving := streamstatus.Healthy, streamstatus.Starving
	ptr := func(s string) *time.Time { x := at(s); return &x }
	tests := []struct {
		name   string
		events []streamstatus.Event
		want   streamstatus.View
	}{
		{"nothing stored", nil, streamstatus.View{Status: "unknown"}},
		{"only a health event", []streamstatus.Event{event(streamstatus.KindStarvationStart, "h", "2026-12-06T12:00:00Z")},
			streamstatus.View{Status: "unknown"}},
		{"live", []streamstatus.Event{event(streamstatus.KindStreamStart, "s", "2026-12-06T12:00:00Z")},
			streamstatus.View{Status: "live", Health: &healthy, Since: ptr("2026-12-06T12:00:00Z")}},
		{"live, starving", []streamstatus.Event{event(streamstatus.KindStreamStart, "s", "2026-12-06T12:00:00Z"),
			event(streamstatus.KindStarvationStart, "h", "2026-12-06T12:00:00Z")},
			streamstatus.View{Status: "live", Health: &starving, Since: ptr("2026-12-06T12:00:00Z")}},
		{"live, starving in an earlier stream", []streamstatus.Event{event(streamstatus.KindStarvationStart, "h", "2026-12-06T11:00:00Z"),
			event(streamstatus.KindStreamStart, "s", "2026-12-06T12:00:00Z")},
			streamstatus.View{Status: "live", Health: &healthy, Since: ptr("2026-12-06T12:00:00Z")}},
		{"offline, starving", []streamstatus.Event{event(streamstatus.KindStreamEnd, "s", "2026-12-06T12:00:00Z"),
			event(streamstatus.KindStarvationStart, "h", "2026-12-06T12:00:05Z")},
			streamstatus.View{Status: "offline", Since: ptr("2026-12-06T12:00:00Z")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc := streamstatus.New(streamstatus.Options{Store: openSQLite(t)})
			for _, e := range tt.events {
				if _, err := svc.Apply(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			got, err := svc.View(ctx, sampleChannel)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.want.Status || !eqPtr(got.Health, tt.want.Health) || !eqTime(got.Since, tt.want.Since) {
				t.Errorf("View() = %s; want %s", show(got), show(tt.want))
			}
			if got.Since != nil && got.Since.Location() != time.UTC {
				t.Errorf("View().Since in %v, want UTC", got.Since.Location())
			}
		})
	}
	svc := streamstatus.New(streamstatus.Options{Store: openSQLite(t)})
	if v, err := svc.View(ctx, ""); err != nil || v.Status != "unknown" || v.Health != nil || v.Since != nil {
		t.Errorf(`View("") = %s, %v; want unknown`, show(v), err)
	}
}

func eqPtr(a, b *streamstatus.Health) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}
func eqTime(a, b *time.Time) bool { return a == nil && b == nil || a != nil && b != nil && a.Equal(*b) }
func show(v streamstatus.View) string {
	h, s := "nil", "nil"
	if v.Health != nil {
		h = string(*v.Health)
	}
	if v.Since != nil {
		s = v.Since.Format(time.RFC3339)
	}
	return fmt.Sprintf("{%s %s %s}", v.Status, h, s)
}

func TestKnown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testclock.New(at("2026-12-06T12:00:30Z"))
	db := openSQLite(t)
	svc := streamstatus.New(streamstatus.Options{Store: db, Now: clock.Now, FreshFor: 2 * time.Minute})
	if live, ok, err := svc.Known(ctx, sampleChannel); ok || live || err != nil {
		t.Errorf("Known(nothing stored) = %v, %v, %v; want not known", live, ok, err)
	}
	if _, err := svc.Apply(ctx, event(streamstatus.KindStreamStart, "s", "2026-12-06T12:00:00Z")); err != nil {
		t.Fatal(err)
	}
	if live, ok, err := svc.Known(ctx, sampleChannel); !ok || !live || err != nil {
		t.Errorf("Known(live 30 s ago) = %v, %v, %v; want live, known", live, ok, err)
	}
	never := streamstatus.New(streamstatus.Options{Store: db, Now: clock.Now})
	if _, ok, err := never.Known(ctx, sampleChannel); ok || err != nil {
		t.Errorf("Known() with FreshFor 0 = ok %v, %v; want not known", ok, err)
	}
	clock.Advance(2 * time.Minute) // 2m30s after the event
	if _, ok, err := svc.Known(ctx, sampleChannel); ok || err != nil {
		t.Errorf("Known(confirmed 2m30s ago, FreshFor 2m) = ok %v, %v; want not known", ok, err)
	}
	// A reconciliation confirms it offline (no live stream listed).
	svc = streamstatus.New(streamstatus.Options{Store: db, Now: clock.Now, FreshFor: 2 * time.Minute, Streams: &streams{}})
	if _, err := svc.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if live, ok, err := svc.Known(ctx, sampleChannel); !ok || live || err != nil {
		t.Errorf("Known(just reconciled offline) = %v, %v, %v; want offline, known", live, ok, err)
	}
}

// streams is the Streams port as a table (lane D's adapter over the IVS
// emulator is tested on its own): the live streams of each region, an
// error for some, and a hook run while listing.
type streams struct {
	mu      sync.Mutex
	live    map[string][]streamstatus.LiveStream
	fail    map[string]error
	during  func()
	listed  []string
	listedC chan string
}

func (s *streams) LiveStreams(_ context.Context, region string) ([]streamstatus.LiveStream, error) {
	s.mu.Lock()
	s.listed = append(s.listed, region)
	live, err, during := s.live[region], s.fail[region], s.during
	c := s.listedC
	s.mu.Unlock()
	if during != nil {
		during()
	}
	if c != nil {
		select {
		case c <- region:
		default:
		}
	}
	return live, err
}

func TestReconcile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openSQLite(t)
	clock := testclock.New(at("2026-12-06T12:00:00.700Z"))
	st := &streams{
		live: map[string][]streamstatus.LiveStream{"us-east-1": {{ChannelARN: otherARN, StreamID: "st-9", StartTime: at("2026-12-06T11:59:00Z"),
			Health: streamstatus.Healthy}}},
		fail:   map[string]error{"eu-west-1": errors.New("ivs: ThrottlingException")},
		during: func() { clock.Advance(3 * time.Second) }, // a slow listing
	}
	m := metrics.New("test")
	svc := streamstatus.New(streamstatus.Options{Store: db, Streams: st, Metrics: m, Now: clock.Now})
	// A Stream Start whose Stream End was lost.
	if _, err := svc.Apply(ctx, event(streamstatus.KindStreamStart, "s", "2026-12-06T11:00:00Z")); err != nil {
		t.Fatal(err)
	}
	rep, err := svc.Reconcile(ctx)
	if err == nil || !strings.Contains(err.Error(), "eu-west-1") || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Errorf("Reconcile() error = %v, want eu-west-1's failure", err)
	}
	if want := []string{"eu-west-1", "us-east-1"}; fmt.Sprint(rep.Regions) != fmt.Sprint(want) || rep.Live != 1 || rep.Changed != 2 {
		t.Errorf("Reconcile() = %+v; want regions %v, 1 live, 2 changed (the lost end, the other channel live)", rep, want)
	}
	// The failing region did not stop the other; the snapshot is dated
	// from before the listing, less the 5 s margin, to the second.
	got, _, err := db.StreamState(ctx, sampleChannel)
	if err != nil || got.State != streamstatus.Offline || !got.StateAt.Equal(at("2026-12-06T11:59:58Z")) {
		t.Errorf("after Reconcile: %s at %v, %v; want offline as of 11:59:58 (listing began at 12:00:03.7, after eu-west-1's 3 s, less 5 s)",
			got.State, got.StateAt, err)
	}
	if got, _, _ := db.StreamState(ctx, otherARN); got.State != streamstatus.Live || !got.Since.Equal(at("2026-12-06T11:59:00Z")) {
		t.Errorf("other channel after Reconcile: %+v; want live since its start time", got)
	}
	if _, found, _ := db.StreamState(ctx, euARN); found {
		t.Error("the failed region's channel has a state")
	}
	if n := counter(t, m, "ivs_ingest_stream_reconciliations_total", map[string]string{"outcome": "failed"}); n != 1 {
		t.Errorf("stream_reconciliations_total{failed} = %v, want 1", n)
	}
	if n := counter(t, m, "ivs_ingest_stream_reconcile_changed_total", nil); n != 2 {
		t.Errorf("stream_reconcile_changed_total = %v, want 2", n)
	}
	// Without a Streams, Reconcile fails plainly.
	if _, err := streamstatus.New(streamstatus.Options{Store: db}).Reconcile(ctx); err == nil {
		t.Error("Reconcile() without Streams = nil error")
	}
}

var slogDiscard = slog.New(slog.DiscardHandler)
