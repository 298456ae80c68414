package main

import (
	"context"
	"io"

	"github.com/ivs-ingest/ivs-ingest/internal/logging"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
)

func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := newFlagSet("migrate", "migrate", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := databaseConfig(ctx, getenv)
	if err != nil {
		return err
	}
	logger := logging.New(stderr, cfg.LogLevel)
	if err := postgres.Migrate(ctx, cfg.DatabaseURL.Reveal(), logger); err != nil {
		return err
	}
	logger.Info("database is at the binary's schema version", "version", postgres.SchemaVersion)
	return nil
}
