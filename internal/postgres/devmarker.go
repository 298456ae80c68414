package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DevDatabase says whether the dev command's writes (migrations, demo data,
// auth.users and auth.sessions rows) belong in a database.
type DevDatabase struct {
	// Marked is true when ivs_ingest.dev_database holds its row: dev created
	// it on a fresh database.
	Marked bool
	// HasSellers is true when public.sellers has rows, or may have rows that
	// row level security hides from the connected role.
	HasSellers bool
}

// InspectDevDatabase reads, writing nothing, whether the database at url is
// marked as a dev database and whether it has sellers. The database need
// not be migrated.
func InspectDevDatabase(ctx context.Context, url string) (DevDatabase, error) {
	conn, err := connectOnce(ctx, url)
	if err != nil {
		return DevDatabase{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return inspectDevDatabase(ctx, conn)
}

func inspectDevDatabase(ctx context.Context, q querier) (DevDatabase, error) {
	var d DevDatabase
	var hasMarker, hasSellers, hidden bool
	// hidden: RLS is on and the role neither owns the table (without FORCE)
	// nor bypasses RLS. Why it counts as sellers: then an empty answer may
	// hide a production database's sellers, and dev would mark it.
	err := q.QueryRow(ctx, `
SELECT to_regclass('ivs_ingest.dev_database') IS NOT NULL,
	to_regclass('public.sellers') IS NOT NULL,
	coalesce((
		SELECT c.relrowsecurity
			AND (c.relforcerowsecurity OR NOT pg_has_role(c.relowner, 'USAGE'))
			AND NOT r.rolbypassrls AND NOT r.rolsuper
		FROM pg_class c, pg_roles r
		WHERE c.oid = to_regclass('public.sellers') AND r.rolname = current_user), false)`).Scan(&hasMarker, &hasSellers, &hidden)
	if err != nil {
		return d, fmt.Errorf("inspect database: %w", err)
	}
	if hasMarker {
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ivs_ingest.dev_database)`).Scan(&d.Marked); err != nil {
			return d, fmt.Errorf("read dev database marker: %w", err)
		}
	}
	if hasSellers {
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM public.sellers)`).Scan(&d.HasSellers); err != nil {
			return d, fmt.Errorf("count sellers: %w", err)
		}
		d.HasSellers = d.HasSellers || hidden
	}
	return d, nil
}

// MarkDevDatabase marks the migrated database at url as a dev database when
// it has no sellers, and reports whether it is marked afterwards. The marker
// is a one-row table, locked down like the service's other tables.
func MarkDevDatabase(ctx context.Context, url string) (bool, error) {
	conn, err := connectOnce(ctx, url)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("mark dev database: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	d, err := inspectDevDatabase(ctx, tx)
	if err != nil || d.Marked || d.HasSellers {
		return d.Marked, err
	}
	_, err = tx.Exec(ctx, `
CREATE TABLE IF NOT EXISTS ivs_ingest.dev_database (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	marked_at timestamptz NOT NULL DEFAULT now()
);
SELECT ivs_ingest.lock_down('ivs_ingest.dev_database');
INSERT INTO ivs_ingest.dev_database DEFAULT VALUES ON CONFLICT (singleton) DO NOTHING;`)
	if err != nil {
		return false, fmt.Errorf("mark dev database: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("mark dev database: %w", err)
	}
	return true, nil
}

// connectOnce opens one connection to url that works through a
// transaction-mode pooler too.
func connectOnce(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("parse DATABASE_URL: invalid PostgreSQL URL")
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	cfg.StatementCacheCapacity, cfg.DescriptionCacheCapacity = 0, 0
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return conn, nil
}
