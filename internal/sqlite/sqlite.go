// Package sqlite is the embedded store of ivs-ingest, for running the whole
// service on one machine without a database server (`ivs-ingest dev`). It
// keeps the store contract of internal/postgres in one SQLite file through
// modernc.org/sqlite (pure Go), and applies its own migrations on Open.
//
// One *DB per file: the channel lock that makes stream key creation
// exactly-once lives in the *DB, so two *DB (or two processes) on one file
// share the data but not the lock.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// readConns caps the reading pool. WAL readers block neither each other nor
// the writer, and every read is one short statement, so a few suffice.
const readConns = 8

// busyTimeoutMS is how long a statement waits for another connection's
// write lock before failing with SQLITE_BUSY. Within one *DB writes queue on
// the single writing connection instead; this covers other processes.
const busyTimeoutMS = 5000

// DB is the store. It is safe for concurrent use.
type DB struct {
	// read runs every statement outside a channel section's writes. Its
	// connections are query_only, so a read can never write by mistake.
	read *sql.DB
	// write is one connection. SQLite allows one writer per file at a time;
	// queueing writers here (where waits honour ctx) rather than in SQLite's
	// busy handler means no SQLITE_BUSY between the store's own writes.
	write *sql.DB
	locks channelLocks
	// Now is the store's clock: it dates what the store records (a key's
	// first sighting, a key creation, an audit row given no time) and is
	// the "now" of its age and limit queries. Open sets it to time.Now; a
	// test may replace it before the DB is used.
	Now func() time.Time
}

// Open opens the SQLite database file at path, creating the file (not its
// directory) if it is missing, and applies the migrations it lacks. It
// fails when the file was migrated by a newer ivs-ingest.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("open sqlite database: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	// SQLite's own message for these is "unable to open database file".
	if fi, err := os.Stat(filepath.Dir(abs)); err != nil {
		return nil, fmt.Errorf("open sqlite database %s: directory: %w", path, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("open sqlite database %s: %s is not a directory", path, filepath.Dir(abs))
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("open sqlite database %s: is a directory", path)
	}

	write, err := sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}

	read, err := sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	read.SetMaxOpenConns(readConns)
	read.SetMaxIdleConns(readConns)
	if err := read.PingContext(ctx); err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	return &DB{read: read, write: write, locks: channelLocks{m: map[string]*channelLock{}}, Now: time.Now}, nil
}

// dsn is the modernc.org/sqlite data source name for the file at abs. The
// driver runs each _pragma on every new connection, which is what makes the
// pragmas hold across database/sql's pool: a PRAGMA executed once through
// *sql.DB would reach only the connection that happened to run it.
func dsn(abs string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	// Why: SQLite ignores REFERENCES unless each connection turns this on.
	q.Add("_pragma", "foreign_keys(1)")
	// Why: readers see the last commit while a write is under way, instead
	// of waiting for it (or failing with SQLITE_BUSY) as in rollback mode.
	q.Add("_pragma", "journal_mode(WAL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// Why: a write transaction takes the write lock when it begins, so
		// it waits (busy_timeout) instead of failing midway when another
		// process wrote since its snapshot.
		q.Set("_txlock", "immediate")
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter: file:///C:/...
	}
	// url.URL escapes '?', '#' and '%' in the path; SQLite decodes them.
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	return u.String()
}

// migrate applies the embedded migrations the database lacks, and refuses a
// database migrated beyond them.
func migrate(ctx context.Context, db *sql.DB) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	var versioned bool
	err = db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1)`,
		goose.DefaultTablename).Scan(&versioned)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if versioned {
		sources := p.ListSources()
		newest := sources[len(sources)-1].Version
		current, err := p.GetDBVersion(ctx)
		if err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if current > newest {
			return fmt.Errorf("schema is at version %d, newer than this binary's %d: use a newer ivs-ingest or another data directory", current, newest)
		}
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// Close closes the database. The last connection to close checkpoints the
// write-ahead log into the database file.
func (db *DB) Close() error {
	return errors.Join(db.read.Close(), db.write.Close())
}

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite database: %w", err)
	}
	return nil
}

// timeLayout stores times as sortable UTC text.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// rowQuerier is the reading pool, the writing connection or a channel
// section's transaction.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
