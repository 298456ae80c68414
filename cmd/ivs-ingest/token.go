package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/app"
	"github.com/ivs-ingest/ivs-ingest/internal/demo"
	"github.com/ivs-ingest/ivs-ingest/internal/devauth"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
)

// cmdToken mints an access token from the dev issuer of a data directory.
func cmdToken(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token", "token --user <uuid> [--ttl 1h] [--anonymous] [--data ./.ivs-ingest] [--allow-any-database]", stderr)
	user := fs.String("user", "", "the user id (sub) of the token, a UUID")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	anonymous := fs.Bool("anonymous", false, "mint an anonymous user's token (which the service refuses)")
	dataDir := fs.String("data", ".ivs-ingest", "the data directory of `ivs-ingest dev`")
	allowAny := fs.Bool("allow-any-database", false, "with DATABASE_URL: record the session even in a database not marked as a dev one")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	userID, ok := ingest.ParseID(*user)
	if !ok {
		fs.Usage()
		return fmt.Errorf("%w: --user must be a UUID", errUsage)
	}
	if *ttl <= 0 {
		return fmt.Errorf("%w: --ttl must be positive", errUsage)
	}
	if _, err := os.Stat(*dataDir); err != nil {
		return fmt.Errorf("%w at %s: run `ivs-ingest dev` first", errNoDevData, *dataDir)
	}
	d, found, err := demo.Load(*dataDir)
	if err != nil {
		return err
	}
	if !found || d.BaseURL == "" {
		return fmt.Errorf("%w at %s (no %s): run `ivs-ingest dev` first", errNoDevData, *dataDir, demo.FileName)
	}
	issuer, err := devauth.Load(*dataDir, d.BaseURL)
	if err != nil {
		return fmt.Errorf("%w: %w", errNoDevData, err)
	}
	// Where dev runs on PostgreSQL with auth.sessions, the token's session
	// must exist there, or the sign-out check refuses it.
	var sessions demo.SessionAdder
	cfg, err := app.LoadConfig(ctx, getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if !cfg.DatabaseURL.IsZero() {
		if _, err := checkDevDatabase(ctx, "token", cfg.DatabaseURL, *allowAny, stderr); err != nil {
			return err
		}
		db, err := app.OpenPostgres(ctx, cfg, postgres.Options{MaxConns: 2})
		if err != nil {
			return err
		}
		defer db.Close()
		sessions = db
	}
	tok, err := demo.NewToken(ctx, issuer, sessions, userID, devauth.TokenOptions{TTL: *ttl, Anonymous: *anonymous})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
