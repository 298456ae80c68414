package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus/storetest"
)

// TestStreamStatusContract runs the stream status contract shared with
// internal/postgres, each subtest on a new file.
func TestStreamStatusContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		path := filepath.Join(t.TempDir(), "ivs-ingest.db")
		db := open(t, path)
		return storetest.Harness{Store: db, ShowStatus: func(t *testing.T, showID string) string {
			var status string
			inspect(t, path, `SELECT coalesce(stream_status, '') FROM shows WHERE id = '`+showID+`'`, &status)
			return status
		}}
	})
}
