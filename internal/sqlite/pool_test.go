package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

func openInternal(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "ivs-ingest.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Every pooled connection, not only the first, has the pragmas: database/sql
// opens connections on demand, and a PRAGMA is per connection.
func TestPragmasOnEveryConnection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openInternal(t)
	pools := []struct {
		name      string
		pool      *sql.DB
		conns     int
		queryOnly int
	}{
		{"read", db.read, readConns, 1},
		{"write", db.write, 1, 0},
	}
	for _, p := range pools {
		// Hold conns connections at once so that each is a distinct one.
		conns := make([]*sql.Conn, p.conns)
		for i := range conns {
			c, err := p.pool.Conn(ctx)
			if err != nil {
				t.Fatalf("%s pool: Conn #%d: %v", p.name, i+1, err)
			}
			conns[i] = c
		}
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i, c := range conns {
			var fk, busy, queryOnly int
			var journal string
			for _, pr := range []struct {
				name string
				dest any
			}{
				{"foreign_keys", &fk}, {"busy_timeout", &busy}, {"journal_mode", &journal}, {"query_only", &queryOnly},
			} {
				if err := c.QueryRowContext(ctx, "PRAGMA "+pr.name).Scan(pr.dest); err != nil {
					t.Fatalf("%s pool, conn %d: PRAGMA %s: %v", p.name, i+1, pr.name, err)
				}
			}
			if fk != 1 || busy != busyTimeoutMS || !strings.EqualFold(journal, "wal") || queryOnly != p.queryOnly {
				t.Errorf("%s pool, conn %d: foreign_keys=%d busy_timeout=%d journal_mode=%s query_only=%d; want 1, %d, wal, %d",
					p.name, i+1, fk, busy, journal, queryOnly, busyTimeoutMS, p.queryOnly)
			}
		}
	}
}

func TestReadPoolRefusesWrites(t *testing.T) {
	t.Parallel()
	db := openInternal(t)
	if _, err := db.read.ExecContext(context.Background(), `DELETE FROM sellers`); err == nil {
		t.Error("a write through the read pool succeeded, want it refused (query_only)")
	}
}

// The lock table forgets channels nobody holds or waits for, so it does not
// grow with every channel ever used.
func TestChannelLocksAreForgotten(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openInternal(t)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			arn := "arn:aws:ivs:us-east-1:123456789012:channel/" + string(rune('a'+i%4))
			if err := db.WithChannelLock(ctx, arn, func(ingest.ChannelTx) error { return nil }); err != nil {
				t.Errorf("WithChannelLock: %v", err)
			}
		})
	}
	wg.Wait()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_ = db.WithChannelLock(canceled, "arn:aws:ivs:us-east-1:123456789012:channel/z", func(ingest.ChannelTx) error { return nil })

	db.locks.mu.Lock()
	defer db.locks.mu.Unlock()
	if n := len(db.locks.m); n != 0 {
		t.Errorf("%d channel locks left after every section ended, want 0", n)
	}
}
