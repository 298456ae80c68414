package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/app"
	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/logging"
)

// openDomain opens DATABASE_URL's store, refusing an outdated schema, and
// the domain over it, for the commands that act without HTTP.
func openDomain(ctx context.Context, getenv func(string) string, stderr io.Writer) (*app.Domain, error) {
	cfg, err := databaseConfig(ctx, getenv)
	if err != nil {
		return nil, err
	}
	return app.OpenDomain(ctx, cfg, logging.New(stderr, cfg.LogLevel))
}

// databaseConfig loads the configuration of a command that needs only the
// database (and, for some, AWS).
func databaseConfig(ctx context.Context, getenv func(string) string) (config.Config, error) {
	cfg, err := app.LoadConfig(ctx, getenv)
	if err == nil {
		err = cfg.RequireDatabase()
	}
	if err != nil {
		return cfg, fmt.Errorf("configuration: %w", err)
	}
	return cfg, nil
}

// errSomeFailed makes a batch command exit non-zero when a show failed.
var errSomeFailed = errors.New("some shows failed")

// printBatch prints what a batch did with each show and a summary line;
// done says what its Done counts.
func printBatch(w io.Writer, res ingest.BatchResult, done string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHOW\tRESULT")
	for _, it := range res.Details {
		fmt.Fprintf(tw, "%s\t%s\n", it.ShowID, it.Result)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d %s, %d kept, %d failed\n", res.Done, done, res.Kept, res.Failed)
	if left := res.Total - res.Done - res.Kept - res.Failed; left > 0 {
		fmt.Fprintf(w, "stopped early: %d of %d shows not handled\n", left, res.Total)
	}
	if res.Failed > 0 {
		return errSomeFailed
	}
	return nil
}

// withProgress runs batch, a batch command's domain call, with pp's
// progress, and has pp say at once when ctx ends (Ctrl-C) that the
// interruption was heard; it returns batch's error.
func withProgress(ctx context.Context, pp *progressPrinter, batch func(ingest.BatchOptions) error) error {
	noticed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(noticed)
		pp.interrupted()
	})
	err := batch(ingest.BatchOptions{Progress: pp.report})
	if !stop() {
		<-noticed // the notice comes before what follows it
	}
	pp.end()
	return err
}

// runBatch runs a batch command's domain call over shows with pp's
// progress, then prints its outcome to stdout. An interrupted batch
// (Ctrl-C) still prints what it did, then returns the interruption, so the
// command exits non-zero.
func runBatch(ctx context.Context, stdout io.Writer, pp *progressPrinter,
	batch func(context.Context, ingest.BatchOptions) (ingest.BatchResult, error)) error {
	var res ingest.BatchResult
	err := withProgress(ctx, pp, func(opts ingest.BatchOptions) (err error) {
		res, err = batch(ctx, opts)
		return err
	})
	if err != nil && !errors.Is(err, ingest.ErrInterrupted) {
		return err
	}
	printed := printBatch(stdout, res, pp.words.done)
	if err != nil {
		return err
	}
	return printed
}

// cmdRotateExpired rotates every key older than STREAM_KEY_MAX_AGE whose
// channel is offline, for a cron job.
func cmdRotateExpired(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rotate-expired", "rotate-expired [--progress auto|live|lines|off] [--progress-interval 5s]", stderr)
	progress := addProgressFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	pp, err := progress.printer(stderr, "rotate-expired", showWords("rotated"), time.Now)
	if err != nil {
		return err
	}
	d, err := openDomain(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	return runBatch(ctx, stdout, pp, d.Service.RotateExpired)
}

// cmdProvision creates missing keys ahead of a big event.
func cmdProvision(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("provision", "provision (--show <uuid> | --all) [--progress auto|live|lines|off] [--progress-interval 5s]", stderr)
	show := fs.String("show", "", "the show whose key to create")
	all := fs.Bool("all", false, "every show that has a channel and no key")
	progress := addProgressFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var ids []string
	switch {
	case *all && *show != "", !*all && *show == "":
		fs.Usage()
		return fmt.Errorf("%w: give either --show <uuid> or --all", errUsage)
	case *show != "":
		id, ok := ingest.ParseID(*show)
		if !ok {
			return fmt.Errorf("%w: --show must be a UUID", errUsage)
		}
		ids = []string{id}
	}
	pp, err := progress.printer(stderr, "provision", showWords("created"), time.Now)
	if err != nil {
		return err
	}
	d, err := openDomain(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	return runBatch(ctx, stdout, pp, func(ctx context.Context, opts ingest.BatchOptions) (ingest.BatchResult, error) {
		return d.Service.Provision(ctx, ids, opts)
	})
}

// cmdKeys manages the key store: `keys reencrypt` seals every stored value
// under the current master key (STREAM_KEY_ENCRYPTION_KEY), the step of a
// master key's rotation after every replica has the new key. It prints its
// progress as provision and rotate-expired do.
func cmdKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const usage = "keys reencrypt [--progress auto|live|lines|off] [--progress-interval 5s]"
	if len(args) == 0 || args[0] != "reencrypt" {
		fmt.Fprintln(stderr, "Usage: ivs-ingest "+usage)
		return fmt.Errorf("%w: want keys reencrypt", errUsage)
	}
	fs := newFlagSet("keys reencrypt", usage, stderr)
	progress := addProgressFlags(fs)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	pp, err := progress.printer(stderr, "keys reencrypt", reencryptWords, time.Now)
	if err != nil {
		return err
	}
	cfg, err := databaseConfig(ctx, getenv)
	if err != nil {
		return err
	}
	if !cfg.KeyStore() {
		return fmt.Errorf("configuration: %w", ingest.ErrNoVault)
	}
	d, err := app.OpenDomain(ctx, cfg, logging.New(stderr, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer d.Close()
	return runReencrypt(ctx, stdout, pp, cfg.StreamKeyEncryptionKeyID, d.Service.Reencrypt)
}

// runReencrypt runs keys reencrypt's domain call with pp's progress, then
// prints what it did to stdout: an interrupted run (Ctrl-C) too, before it
// returns the interruption, so the command exits non-zero. keyID is the
// current master key's id.
func runReencrypt(ctx context.Context, stdout io.Writer, pp *progressPrinter, keyID string,
	reencrypt func(context.Context, ingest.BatchOptions) (ingest.ReencryptResult, error)) error {
	var res ingest.ReencryptResult
	err := withProgress(ctx, pp, func(opts ingest.BatchOptions) (err error) {
		res, err = reencrypt(ctx, opts)
		return err
	})
	if err != nil && !errors.Is(err, ingest.ErrInterrupted) {
		return fmt.Errorf("%w (%d sealed again before the failure)", err, res.Resealed)
	}
	fmt.Fprintf(stdout, "%d sealed again under master key %q, %d already were\n", res.Resealed, keyID, res.Current)
	if res.Unknown > 0 {
		fmt.Fprintf(stdout, "%d left as they are: sealed under a master key this process does not hold "+
			"(add it to STREAM_KEY_DECRYPTION_KEYS and run again before retiring it)\n", res.Unknown)
	}
	if res.Unreadable > 0 {
		fmt.Fprintf(stdout, "%d do not open (tampered with, or copied from another row): each is read from IVS "+
			"and stored again when next requested\n", res.Unreadable)
	}
	if left := res.Total - res.Handled(); left > 0 {
		fmt.Fprintf(stdout, "stopped early: %d of %d stored values not handled (run it again)\n", left, res.Total)
	}
	return err
}

// cmdAudit prints the audit trail.
func cmdAudit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit", "audit [--show <uuid>] [--since 24h] [--limit 100] [--json]", stderr)
	show := fs.String("show", "", "only this show's entries")
	since := fs.Duration("since", 24*time.Hour, "only entries this recent")
	limit := fs.Int("limit", 100, "at most this many entries, newest first")
	asJSON := fs.Bool("json", false, "print JSON lines instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	q := ingest.AuditQuery{Limit: *limit, Since: time.Now().Add(-*since)}
	if *show != "" {
		id, ok := ingest.ParseID(*show)
		if !ok {
			return fmt.Errorf("%w: --show must be a UUID", errUsage)
		}
		q.ShowID = id
	}
	if *limit < 1 {
		return fmt.Errorf("%w: --limit must be positive", errUsage)
	}
	d, err := openDomain(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	entries, err := d.Store.ReadAudit(ctx, q)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, e := range entries {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTION\tOUTCOME\tSTATUS\tACTOR\tIMPERSONATED\tSHOW\tKEY\tREASON")
	for _, e := range entries {
		status := strconv.Itoa(e.HTTPStatus)
		if e.HTTPStatus == 0 {
			status = "cli"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.OccurredAt.UTC().Format(time.RFC3339), e.Action, e.Outcome,
			status, dash(e.ActorUserID), dash(e.ImpersonatedSellerID), dash(e.ShowID), dash(e.StreamKeyARN), quoted(e.Reason))
	}
	return tw.Flush()
}

// cmdPruneAudit deletes the audit rows older than AUDIT_RETENTION, for
// cron jobs and scheduled Lambda invocations where no `serve` runs long
// enough to do it. It takes the same lease as serve's background pruning.
func cmdPruneAudit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("prune-audit", "prune-audit", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := databaseConfig(ctx, getenv)
	if err != nil {
		return err
	}
	if cfg.AuditRetention <= 0 {
		fmt.Fprintln(stdout, "AUDIT_RETENTION is 0: audit rows are kept for ever; 0 deleted")
		return nil
	}
	d, err := app.OpenDomain(ctx, cfg, logging.New(stderr, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer d.Close()
	res, err := d.Retention.Prune(ctx)
	if err != nil {
		return fmt.Errorf("%w (%d deleted before the failure)", err, res.Deleted)
	}
	switch {
	case res.Skipped:
		fmt.Fprintln(stdout, "another process is pruning the audit log (it holds the lease); 0 deleted")
	case res.More:
		fmt.Fprintf(stdout, "%d deleted (older than %s); more are left for the next run\n", res.Deleted, cfg.AuditRetention)
	default:
		fmt.Fprintf(stdout, "%d deleted (older than %s)\n", res.Deleted, cfg.AuditRetention)
	}
	return nil
}

// quoted shows client-supplied text with control characters escaped, so it
// cannot forge rows or drive the operator's terminal.
func quoted(s string) string {
	if s == "" {
		return "-"
	}
	return strconv.Quote(s)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
