package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ivs-ingest/ivs-ingest/internal/app"
	"github.com/ivs-ingest/ivs-ingest/internal/logging"
)

// cmdReconcileStreams corrects the stored stream states from IVS's
// ListStreams now, whatever STREAM_RECONCILE_INTERVAL says: for a cron job
// where no serve runs (Lambda), or after an outage of the event delivery.
// It takes no lease: a run alongside serve's loop writes the same snapshot
// rules, and a snapshot never overwrites a newer event.
func cmdReconcileStreams(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("reconcile-streams", "reconcile-streams", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := databaseConfig(ctx, getenv)
	if err != nil {
		return err
	}
	d, err := app.OpenDomain(ctx, cfg, logging.New(stderr, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer d.Close()
	rep, err := d.Streams.Reconcile(ctx)
	regions := strings.Join(rep.Regions, ", ")
	if regions == "" {
		regions = "none: no show has a channel"
	}
	fmt.Fprintf(stdout, "regions: %s; %d live streams listed; %d channels corrected\n", regions, rep.Live, rep.Changed)
	if err != nil {
		return fmt.Errorf("reconcile-streams: %w", err)
	}
	return nil
}
