package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// streamStatus reads a show's public.shows.stream_status ("" for NULL).
func streamStatus(t *testing.T, dbURL, showID string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var status *string
	if err := conn.QueryRow(ctx, `SELECT stream_status FROM public.shows WHERE id = $1`, showID).Scan(&status); err != nil {
		t.Fatalf("read stream_status: %v", err)
	}
	if status == nil {
		return ""
	}
	return *status
}

// A Stream End that never arrived is healed by reconcile-streams: the
// channel IVS no longer lists goes offline, the one it lists goes live.
func TestReconcileStreamsHealsAMissedStreamEnd(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	seller := env.Seller(t, "approved")
	ended, live := env.Show(t, seller, true), env.Show(t, seller, true)
	if got := streamStatus(t, env.DatabaseURL, ended.ID); got != "" {
		t.Fatalf("stream_status before any event = %q, want NULL", got)
	}

	// Both go live (the Stream Start of the first is delivered: its state
	// is older than the reconciliation below).
	for _, s := range []testenv.Show{ended, live} {
		if err := env.Emulator.SetLive(s.ChannelARN, true); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runCmd(t, env.Getenv(nil), "reconcile-streams")
	if err != nil || !strings.Contains(out, "2 live streams listed; 2 channels corrected") {
		t.Fatalf("reconcile-streams = %q, %v; want 2 listed and 2 corrected", out, err)
	}
	for _, s := range []testenv.Show{ended, live} {
		if got := streamStatus(t, env.DatabaseURL, s.ID); got != "live" {
			t.Errorf("stream_status of show %s after the first reconciliation = %q, want live", s.ID, got)
		}
	}

	// The first stream ends; its Stream End event is lost. A second is a
	// second later (snapshots are dated to the second).
	if err := env.Emulator.SetLive(ended.ChannelARN, false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	out, err = runCmd(t, env.Getenv(nil), "reconcile-streams")
	if err != nil || !strings.Contains(out, "1 live streams listed; 1 channels corrected") {
		t.Fatalf("reconcile-streams = %q, %v; want 1 listed and 1 corrected", out, err)
	}
	if got := streamStatus(t, env.DatabaseURL, ended.ID); got != "offline" {
		t.Errorf("stream_status of the ended show = %q, want offline", got)
	}
	if got := streamStatus(t, env.DatabaseURL, live.ID); got != "live" {
		t.Errorf("stream_status of the live show = %q, want live", got)
	}
}
