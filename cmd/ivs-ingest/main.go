// Command ivs-ingest hands live-shopping sellers the RTMPS server URL and
// stream key of their show's Amazon IVS channel. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ivs-ingest/ivs-ingest/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "ivs-ingest: %v\n", err)
		}
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

var errUsage = errors.New("usage")

const usage = `ivs-ingest hands sellers the ingest details of their show's Amazon IVS channel.

Usage:
  ivs-ingest dev       run the whole service on this machine: SQLite, IVS emulator, local token issuer, demo data
  ivs-ingest token     mint a token from the dev issuer (--user <uuid>)
  ivs-ingest simulate-stream --show <uuid> start|starve|recover|end   play a broadcast on a show's channel in the running dev
  ivs-ingest serve     run the HTTP server (configured by environment variables; see README)
  ivs-ingest migrate   apply the database migrations and exit
  ivs-ingest doctor [--show <uuid>]   check everything serve needs, a PASS/FAIL line each
  ivs-ingest rotate-expired   rotate every key older than STREAM_KEY_MAX_AGE whose channel is offline (for cron)
  ivs-ingest provision (--show <uuid> | --all)   create missing keys ahead of an event
  ivs-ingest audit [--show <uuid>] [--since 24h] [--json]   print the audit trail
  ivs-ingest keys reencrypt   seal every stored key under the current master key (STREAM_KEY_ENCRYPTION_KEY)
  ivs-ingest prune-audit   delete audit rows older than AUDIT_RETENTION (for cron; serve also does it hourly)
  ivs-ingest reconcile-streams   correct the shows' stream status from IVS's live streams (for cron; serve does it every minute with events)
  ivs-ingest healthcheck   exit 0 when the server on $PORT answers /healthz (for container HEALTHCHECKs)
  ivs-ingest version   print the version
`

// run is the whole program; main only supplies the process's environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if inLambda(getenv) && (len(args) == 0 || args[0] == "serve") {
		return cmdLambda(ctx, args, getenv, stdout, stderr)
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command given", errUsage)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, getenv, stdout, stderr)
	case "dev":
		return cmdDev(ctx, rest, getenv, stdout, stderr)
	case "token":
		return cmdToken(ctx, rest, getenv, stdout, stderr)
	case "simulate-stream":
		return cmdSimulateStream(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, getenv, stderr)
	case "doctor":
		return cmdDoctor(ctx, rest, getenv, stdout, stderr)
	case "rotate-expired":
		return cmdRotateExpired(ctx, rest, getenv, stdout, stderr)
	case "provision":
		return cmdProvision(ctx, rest, getenv, stdout, stderr)
	case "audit":
		return cmdAudit(ctx, rest, getenv, stdout, stderr)
	case "keys":
		return cmdKeys(ctx, rest, getenv, stdout, stderr)
	case "prune-audit":
		return cmdPruneAudit(ctx, rest, getenv, stdout, stderr)
	case "reconcile-streams":
		return cmdReconcileStreams(ctx, rest, getenv, stdout, stderr)
	case "healthcheck":
		return cmdHealthcheck(ctx, rest, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, version.String())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

// newFlagSet returns a FlagSet for a subcommand that reports its errors
// instead of exiting.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ivs-ingest %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}
