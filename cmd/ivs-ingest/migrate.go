package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/logging"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
)

func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := newFlagSet("migrate", "migrate", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err == nil {
		err = cfg.RequireDatabase()
	}
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logger := logging.New(stderr, cfg.LogLevel)
	if err := postgres.Migrate(ctx, cfg.DatabaseURL.Reveal(), logger); err != nil {
		return err
	}
	logger.Info("database is at the binary's schema version", "version", postgres.SchemaVersion)
	return nil
}
