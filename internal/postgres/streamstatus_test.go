package postgres_test

import (
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus/storetest"
)

// TestStreamStatusContract runs the stream status contract shared with
// internal/sqlite, each subtest on a new migrated database.
func TestStreamStatusContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		url, db := migrated(t)
		return storetest.Harness{Store: db, ShowStatus: func(t *testing.T, showID string) string {
			rows := queryRows(t, url, `SELECT coalesce(stream_status, '') FROM public.shows WHERE id = '`+showID+`'`)
			if len(rows) != 1 {
				t.Fatalf("show %s: %d rows", showID, len(rows))
			}
			return rows[0][0].(string)
		}}
	})
}
