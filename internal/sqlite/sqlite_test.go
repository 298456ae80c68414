package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest/storetest"
	"github.com/ivs-ingest/ivs-ingest/internal/sqlite"
)

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Store {
		db := open(t, filepath.Join(t.TempDir(), "ivs-ingest.db"))
		db.Now = now
		return db
	})
}

func open(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// inspect runs query on the file at path outside the store, as an operator
// with the sqlite3 shell would.
func inspect(t *testing.T, path, query string, dest ...any) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	defer raw.Close()
	if err := raw.QueryRow(query).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

const (
	user1   = "a0000000-0000-4000-8000-000000000001"
	seller1 = "c0000000-0000-4000-8000-000000000001"
	show1   = "d0000000-0000-4000-8000-000000000001"
	channel = "arn:aws:ivs:us-east-1:123456789012:channel/abcdefghijkl"
	keyARN  = "arn:aws:ivs:us-east-1:123456789012:stream-key/keykeykeykey"
)

func seed(t *testing.T, db *sqlite.DB) {
	t.Helper()
	ctx := context.Background()
	if err := db.AddSeller(ctx, seller1, user1, ingest.SellerApproved); err != nil {
		t.Fatalf("AddSeller: %v", err)
	}
	if err := db.AddShow(ctx, ingest.Show{ID: show1, SellerID: seller1, ChannelARN: channel}); err != nil {
		t.Fatalf("AddShow: %v", err)
	}
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ivs-ingest.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	seed(t, db)
	err = db.WithChannelLock(ctx, channel, func(tx ingest.ChannelTx) error {
		return tx.RecordStreamKey(ctx, show1, keyARN, "abc.global-contribute.live-video.net")
	})
	if err != nil {
		t.Fatalf("WithChannelLock: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var before int
	inspect(t, path, `SELECT count(*) FROM goose_db_version`, &before)

	db = open(t, path)
	var after int
	inspect(t, path, `SELECT count(*) FROM goose_db_version`, &after)
	if after != before {
		t.Errorf("goose_db_version has %d rows after reopening, %d before: migrations ran again", after, before)
	}
	q := ingest.AuthzQuery{UserID: user1, ShowID: show1}
	got, err := db.Authorize(ctx, q)
	if err != nil {
		t.Fatalf("Authorize(%+v): %v", q, err)
	}
	want := ingest.AuthzFacts{
		SessionActive: true,
		Seller:        &ingest.Seller{ID: seller1, Status: ingest.SellerApproved},
		Show: &ingest.Show{ID: show1, SellerID: seller1, ChannelARN: channel,
			IngestEndpoint: "abc.global-contribute.live-video.net", StreamKeyARN: keyARN},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Authorize(%+v) after reopening (-want +got):\n%s", q, diff)
	}
}

func TestOpenRefusesANewerSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ivs-ingest.db")
	if err := open(t, path).Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (99990101000000, 1)`); err != nil {
		t.Fatalf("record a future migration: %v", err)
	}
	db, err := sqlite.Open(context.Background(), path)
	if err == nil {
		db.Close()
		t.Fatal("Open on a database from a newer binary = nil error, want an error")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open on a database from a newer binary = %v, want an error saying it is newer", err)
	}
}

func TestOpenBadPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"empty", "", "empty path"},
		{"missing directory", filepath.Join(dir, "missing", "ivs-ingest.db"), "no such file or directory"},
		{"a directory", dir, "is a directory"},
		{"under a file", filepath.Join(file, "ivs-ingest.db"), "not a directory"},
		{"not a database", file, "not a database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, err := sqlite.Open(context.Background(), tt.path)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) = nil error, want an error", tt.path)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("Open(%q) = %v, want an error naming the path and saying %q", tt.path, err, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("Open created the missing directory (stat: %v), want it left alone", err)
	}
}

// Two *DB on one file (dev mode opens one per process) share the data, and
// their writes wait for each other (busy_timeout) instead of failing. They
// do not share the channel lock, which lives in each *DB: stream key
// creation is exactly-once only among the Services over one *DB.
func TestTwoDBsOnOneFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ivs-ingest.db")
	a, b := open(t, path), open(t, path)
	seed(t, a)
	q := ingest.AuthzQuery{UserID: user1, ShowID: show1}
	if f, err := b.Authorize(ctx, q); err != nil || f.Show == nil {
		t.Fatalf("b.Authorize(%+v) = %+v, %v; want the show a added", q, f, err)
	}

	// a holds the file's write lock for a while; b's write waits for it.
	written, release := make(chan struct{}), make(chan struct{})
	aDone := make(chan error, 1)
	go func() {
		aDone <- a.WithChannelLock(ctx, channel, func(tx ingest.ChannelTx) error {
			if err := tx.RecordStreamKey(ctx, show1, keyARN, "a.global-contribute.live-video.net"); err != nil {
				return err
			}
			close(written)
			<-release
			return nil
		})
	}()
	select {
	case <-written:
	case err := <-aDone:
		t.Fatalf("a.WithChannelLock = %v before writing", err)
	}

	// b's channel lock is its own: b enters channel's section while a holds it.
	entered := make(chan struct{})
	bLock := make(chan error, 1)
	go func() {
		bLock <- b.WithChannelLock(ctx, channel, func(ingest.ChannelTx) error {
			close(entered)
			return nil
		})
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Error("b waited for a's channel lock; the lock is documented as per *DB")
	}

	bWrite := make(chan error, 1)
	go func() { bWrite <- b.SetIngestEndpoint(ctx, show1, "b.global-contribute.live-video.net") }()
	// Why a sleep: b's write must be under way while a holds the file's
	// write lock, and it waits inside SQLite's busy handler, which tells
	// nobody that it waits. No clock helps: SQLite's own sleeps do the
	// waiting. Had b's write not started yet, the test would still pass,
	// only without proving the wait.
	time.Sleep(200 * time.Millisecond)
	close(release)
	if err := <-aDone; err != nil {
		t.Errorf("a.WithChannelLock: %v", err)
	}
	if err := <-bLock; err != nil {
		t.Errorf("b.WithChannelLock: %v", err)
	}
	if err := <-bWrite; err != nil {
		t.Fatalf("b.SetIngestEndpoint while a writes = %v, want it to wait and succeed", err)
	}
	f, err := a.Authorize(ctx, q)
	if err != nil {
		t.Fatalf("a.Authorize(%+v): %v", q, err)
	}
	if f.Show.StreamKeyARN != keyARN || f.Show.IngestEndpoint != "b.global-contribute.live-video.net" {
		t.Errorf("show after both writes = %+v, want a's key and b's endpoint", f.Show)
	}
}
