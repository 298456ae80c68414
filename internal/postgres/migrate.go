package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/ivs-ingest/ivs-ingest/supabase"
)

// SchemaVersion is the schema version this binary needs: the number of its
// newest embedded migration, which that migration records in
// ivs_ingest.schema_version.
var SchemaVersion = newestMigration()

func newestMigration() int64 {
	names, err := fs.Glob(supabase.Migrations, "migrations/*.sql")
	if err != nil || len(names) == 0 {
		panic("postgres: no embedded migrations")
	}
	var newest int64
	for _, n := range names {
		prefix, _, _ := strings.Cut(path.Base(n), "_")
		v, err := strconv.ParseInt(prefix, 10, 64)
		if err != nil {
			panic("postgres: migration without a numeric prefix: " + n)
		}
		newest = max(newest, v)
	}
	return newest
}

// Migrate applies the embedded migrations that the database at url lacks.
// It is idempotent and safe to run from several processes at once (a session
// advisory lock serializes them), so it needs a direct or session-mode
// connection, not a transaction-mode pooler.
func Migrate(ctx context.Context, url string, logger *slog.Logger) error {
	connCfg, err := pgx.ParseConfig(url)
	if err != nil {
		return errors.New("parse DATABASE_URL: invalid PostgreSQL URL")
	}
	db := stdlib.OpenDB(*connCfg)
	defer db.Close()

	// goose creates its version table before running any migration, so
	// the schema that holds it must exist first.
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS ivs_ingest`); err != nil {
		return fmt.Errorf("create schema ivs_ingest: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	migrations, err := fs.Sub(supabase.Migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations,
		goose.WithTableName("ivs_ingest.goose_db_version"),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range results {
		logger.InfoContext(ctx, "applied migration", "migration", r.Source.Path, "duration", r.Duration.String())
	}
	return lockDownVersionTable(ctx, db)
}

// lockDownVersionTable gives goose's own table the same protection as the
// tables the migrations create.
func lockDownVersionTable(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `SELECT ivs_ingest.lock_down('ivs_ingest.goose_db_version')`); err != nil {
		return fmt.Errorf("protect migration table: %w", err)
	}
	return nil
}

// CurrentSchemaVersion reads the version the migrations recorded; 0 when the
// database has never been migrated.
func (db *DB) CurrentSchemaVersion(ctx context.Context) (int64, error) {
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT to_regclass('ivs_ingest.schema_version') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v *int64
	if err := db.pool.QueryRow(ctx, `SELECT max(version) FROM ivs_ingest.schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

// CheckSchema returns an error naming `ivs-ingest migrate` when the database
// is older than this binary.
func (db *DB) CheckSchema(ctx context.Context) error {
	v, err := db.CurrentSchemaVersion(ctx)
	if err != nil {
		return err
	}
	if v < SchemaVersion {
		return fmt.Errorf("database schema is at version %d, this binary needs %d: run `ivs-ingest migrate` first", v, SchemaVersion)
	}
	return nil
}
