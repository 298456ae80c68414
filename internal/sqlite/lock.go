package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

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
	FROM shows sh `+showJoins+` WHERE sh.id = ?1`,
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

// StreamKeyARN implements ingest.ChannelTx.
func (c *channelTx) StreamKeyARN(ctx context.Context, showID string) (string, error) {
	var arn *string
	if err := c.reader().QueryRowContext(ctx, `SELECT ivs_stream_key_arn FROM shows WHERE id = ?1`, strings.ToLower(showID)).Scan(&arn); err != nil {
		return "", fmt.Errorf("read stream key arn: %w", err)
	}
	return deref(arn), nil
}

// RecordStreamKey implements ingest.ChannelTx in the section's write
// transaction.
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
