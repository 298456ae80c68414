package app_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/app"
	"github.com/ivs-ingest/ivs-ingest/internal/sqsemu"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// serve's wiring of IVS_EVENTS_QUEUE_URL: the real SQS client long-polls
// the queue, an event is applied to the show and its message deleted, and a
// message that is no event is deleted and counted.
func TestEventQueueAppliesEvents(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	show := env.Show(t, env.Seller(t, "approved"), true)
	emu, err := sqsemu.New(sqsemu.Config{Region: testenv.Region, AccessKeyID: testenv.AccessKeyID, SecretAccessKey: testenv.SecretAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	q, err := emu.CreateQueue("ivs-events", sqsemu.QueueOptions{})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := load(t, env.Getenv(map[string]string{"IVS_EVENTS_QUEUE_URL": q.URL, "AWS_ENDPOINT_URL_SQS": srv.URL}))
	d, err := app.OpenDomain(ctx, cfg, discard)
	if err != nil {
		t.Fatalf("OpenDomain: %v", err)
	}
	if err := d.StartEventQueue(ctx, cfg); err != nil {
		d.Close()
		t.Fatalf("StartEventQueue: %v", err)
	}
	closed := false
	defer func() {
		if !closed {
			d.Close()
		}
	}()

	start := `{"version":"0","id":"` + testenv.NewID(t) + `","detail-type":"IVS Stream State Change","source":"aws.ivs",` +
		`"account":"123456789012","time":"` + time.Now().UTC().Format(time.RFC3339) + `","region":"` + testenv.Region + `",` +
		`"resources":["` + show.ChannelARN + `"],"detail":{"event_name":"Stream Start","channel_name":"c","stream_id":"st-1"}}`
	for _, body := range []string{start, `not an event`} {
		if _, err := emu.SendMessage("ivs-events", body); err != nil {
			t.Fatal(err)
		}
	}
	for len(emu.Messages("ivs-events")) > 0 {
		if ctx.Err() != nil {
			t.Fatalf("messages left in the queue: %+v", emu.Messages("ivs-events"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	conn, err := pgx.Connect(ctx, env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var status string
	if err := conn.QueryRow(ctx, `SELECT coalesce(stream_status, 'NULL') FROM public.shows WHERE id = $1`, show.ID).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != "live" {
		t.Errorf("stream_status after the queued Stream Start = %s, want live", status)
	}
	got := scrape(t, d)
	for _, want := range []string{
		`ivs_ingest_event_queue_messages_total{event="deleted"} 2`,
		`ivs_ingest_event_queue_messages_total{event="malformed"} 1`,
		`ivs_ingest_stream_events_total{kind="stream_start",outcome="applied"} 1`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Close stops the poller before the store: it returns, whatever the
	// long poll in flight.
	d.Close()
	closed = true
}
