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
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
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
	return &DB{read: read, write: write, locks: channelLocks{m: map[string]*channelLock{}}}, nil
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

// authzSQL reads every fact one authorization needs in one statement: whether
// the caller is an admin, the caller's (or the impersonated) seller profile,
// and the show. sellers.id and sellers.user_id are unique, so the seller join
// yields at most one row. Parameters: ?1 user id, ?2 impersonated seller id
// or NULL, ?3 show id.
const authzSQL = `SELECT
	EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = ?1 AND r.role = 'admin'),
	se.id, se.status,
	` + showColumns + `
FROM (SELECT 1) AS one
LEFT JOIN sellers se ON (?2 IS NOT NULL AND se.id = ?2) OR (?2 IS NULL AND se.user_id = ?1)
LEFT JOIN shows sh ON sh.id = ?3
LEFT JOIN stream_keys k ON k.key_arn = sh.ivs_stream_key_arn`

// showColumns reads a show (aliased sh, with k its stream_keys row) as
// scannedShow expects it, with whether another seller's show names the same
// channel.
const showColumns = `sh.id, sh.seller_id, sh.ivs_channel_arn, sh.ivs_ingest_endpoint, sh.ivs_stream_key_arn, k.first_seen_at,
	EXISTS (SELECT 1 FROM shows o WHERE o.ivs_channel_arn = sh.ivs_channel_arn AND o.seller_id <> sh.seller_id)`

// scannedShow receives showColumns.
type scannedShow struct {
	id, seller, channelARN, endpoint, keyARN, firstSeen *string
	shared                                              bool
}

func (s *scannedShow) dest() []any {
	return []any{&s.id, &s.seller, &s.channelARN, &s.endpoint, &s.keyARN, &s.firstSeen, &s.shared}
}

// show returns the scanned show; nil when there was none.
func (s *scannedShow) show() (*ingest.Show, error) {
	if s.id == nil {
		return nil, nil
	}
	sh := &ingest.Show{
		ID:             *s.id,
		SellerID:       deref(s.seller),
		ChannelARN:     deref(s.channelARN),
		IngestEndpoint: deref(s.endpoint),
		StreamKeyARN:   deref(s.keyARN),
		ChannelShared:  s.shared,
	}
	if s.firstSeen != nil {
		t, err := time.Parse(timeLayout, *s.firstSeen)
		if err != nil {
			return nil, fmt.Errorf("first_seen_at %q: %w", *s.firstSeen, err)
		}
		sh.KeyFirstSeen = t
	}
	return sh, nil
}

// Authorize implements ingest.Store. SQLite has no auth.sessions to consult,
// so SessionActive is always true: as with a PostgreSQL database without
// auth.sessions, a verified token is the only proof of a session.
//
// IDs are compared lowercased; the domain passes canonical lowercase UUIDs
// and the store keeps them so.
func (db *DB) Authorize(ctx context.Context, q ingest.AuthzQuery) (ingest.AuthzFacts, error) {
	return authorize(ctx, db.read, q)
}

// Authorize implements ingest.ChannelTx; see Show for what keeps the show
// from changing meanwhile.
func (c *channelTx) Authorize(ctx context.Context, q ingest.AuthzQuery) (ingest.AuthzFacts, error) {
	return authorize(ctx, c.reader(), q)
}

func authorize(ctx context.Context, qr rowQuerier, q ingest.AuthzQuery) (ingest.AuthzFacts, error) {
	var (
		f                      = ingest.AuthzFacts{SessionActive: true}
		sellerID, sellerStatus *string
		show                   scannedShow
	)
	err := qr.QueryRowContext(ctx, authzSQL,
		strings.ToLower(q.UserID), nullable(strings.ToLower(q.ImpersonatedSellerID)), strings.ToLower(q.ShowID),
	).Scan(append([]any{&f.IsAdmin, &sellerID, &sellerStatus}, show.dest()...)...)
	if err != nil {
		return ingest.AuthzFacts{}, fmt.Errorf("authorization query: %w", err)
	}
	if sellerID != nil {
		f.Seller = &ingest.Seller{ID: *sellerID, Status: deref(sellerStatus)}
	}
	if f.Show, err = show.show(); err != nil {
		return ingest.AuthzFacts{}, fmt.Errorf("authorization query: %w", err)
	}
	return f, nil
}

// SetIngestEndpoint implements ingest.Store.
func (db *DB) SetIngestEndpoint(ctx context.Context, showID, endpoint string) error {
	_, err := db.write.ExecContext(ctx, `UPDATE shows SET ivs_ingest_endpoint = ?2
		WHERE id = ?1 AND ivs_ingest_endpoint IS NOT ?2`, strings.ToLower(showID), endpoint)
	if err != nil {
		return fmt.Errorf("update ingest endpoint: %w", err)
	}
	return nil
}

// WithChannelLock implements ingest.Store with a per-channel lock held in
// this *DB, which stands in for PostgreSQL's advisory lock: it is respected
// by every Service over this *DB, not by another *DB or process on the file.
//
// The write transaction begins at fn's first write, not before fn: SQLite has
// one writer per file, and fn waits on IVS, so a transaction opened before fn
// would stall every other write (other channels' sections, SetIngestEndpoint)
// for as long. Reads before that first write see the latest commit, and the
// lock keeps this channel's other sections out. The transaction commits when
// fn returns nil and rolls back otherwise. fn must use the store only
// through its ChannelTx.
func (db *DB) WithChannelLock(ctx context.Context, channelARN string, fn func(ingest.ChannelTx) error) error {
	unlock, err := db.locks.lock(ctx, channelARN)
	if err != nil {
		return fmt.Errorf("lock channel: %w", err)
	}
	// Deferred in this order, the rollback (a no-op after a commit) runs
	// before the unlock: the next holder never sees a half-finished section,
	// even if fn panics.
	defer unlock()
	tx := &channelTx{db: db}
	defer tx.rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.commit()
}

// channelTx is a channel section's view of the store. It is used by one
// goroutine, the one running fn.
type channelTx struct {
	db *DB
	tx *sql.Tx // nil until the first write
}

// reader is the section's transaction once it has written, the reading
// pool before.
func (c *channelTx) reader() rowQuerier {
	if c.tx != nil {
		return c.tx
	}
	return c.db.read
}

// begin starts the section's write transaction at its first write.
func (c *channelTx) begin(ctx context.Context) (*sql.Tx, error) {
	if c.tx == nil {
		tx, err := c.db.write.BeginTx(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("begin: %w", err)
		}
		c.tx = tx
	}
	return c.tx, nil
}

// Show implements ingest.ChannelTx. The channel's lock, held by the caller,
// and the single writer keep this process's sections from moving the show
// meanwhile; SQLite has no row locks to offer other processes.
func (c *channelTx) Show(ctx context.Context, showID string) (ingest.Show, bool, error) {
	var show scannedShow
	err := c.reader().QueryRowContext(ctx, `SELECT `+showColumns+`
	FROM shows sh LEFT JOIN stream_keys k ON k.key_arn = sh.ivs_stream_key_arn WHERE sh.id = ?1`,
		strings.ToLower(showID)).Scan(show.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return ingest.Show{}, false, nil
	}
	if err != nil {
		return ingest.Show{}, false, fmt.Errorf("read show: %w", err)
	}
	sh, err := show.show()
	if err != nil {
		return ingest.Show{}, false, fmt.Errorf("read show: %w", err)
	}
	return *sh, true, nil
}

func (c *channelTx) StreamKeyARN(ctx context.Context, showID string) (string, error) {
	var arn *string
	if err := c.reader().QueryRowContext(ctx, `SELECT ivs_stream_key_arn FROM shows WHERE id = ?1`, strings.ToLower(showID)).Scan(&arn); err != nil {
		return "", fmt.Errorf("read stream key arn: %w", err)
	}
	return deref(arn), nil
}

func (c *channelTx) WriteAudit(ctx context.Context, e ingest.AuditEntry) error {
	tx, err := c.begin(ctx)
	if err != nil {
		return fmt.Errorf("write audit row: %w", err)
	}
	return insertAudit(ctx, tx, e)
}

func (c *channelTx) RecordStreamKey(ctx context.Context, showID, keyARN, endpoint string) error {
	if _, err := c.begin(ctx); err != nil {
		return fmt.Errorf("record stream key: %w", err)
	}
	_, err := c.tx.ExecContext(ctx, `UPDATE shows SET ivs_stream_key_arn = NULLIF(?2, ''), ivs_ingest_endpoint = NULLIF(?3, '') WHERE id = ?1`,
		strings.ToLower(showID), keyARN, endpoint)
	if err != nil {
		return fmt.Errorf("record stream key: %w", err)
	}
	return nil
}

func (c *channelTx) commit() error {
	if c.tx == nil {
		return nil
	}
	if err := c.tx.Commit(); err != nil {
		return fmt.Errorf("commit channel section: %w", err)
	}
	return nil
}

func (c *channelTx) rollback() {
	if c.tx != nil {
		_ = c.tx.Rollback() // sql.ErrTxDone after a commit
	}
}

// channelLocks is a set of per-channel mutexes that waits honouring ctx and
// forgets a channel once nobody holds or waits for it.
type channelLocks struct {
	mu sync.Mutex
	m  map[string]*channelLock
}

type channelLock struct {
	sem  chan struct{} // holds a token while locked
	refs int           // holders and waiters; guarded by channelLocks.mu
}

// lock waits for key's lock and returns its release.
func (l *channelLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	l.mu.Lock()
	cl := l.m[key]
	if cl == nil {
		cl = &channelLock{sem: make(chan struct{}, 1)}
		l.m[key] = cl
	}
	cl.refs++
	l.mu.Unlock()

	select {
	case cl.sem <- struct{}{}:
		return func() {
			<-cl.sem
			l.release(key, cl)
		}, nil
	case <-ctx.Done():
		l.release(key, cl)
		return nil, ctx.Err()
	}
}

func (l *channelLocks) release(key string, cl *channelLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cl.refs--
	if cl.refs == 0 {
		delete(l.m, key)
	}
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
