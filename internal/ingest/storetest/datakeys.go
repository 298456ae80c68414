package storetest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// datakeys.go is the contract of the KMS-wrapped data keys' rows: a row is
// inserted only if its id is absent, so that replicas racing at first start
// keep one data key, which each reads back; rows come back oldest first.

// DataKeys is what a store keeps of the key store's KMS-wrapped data keys
// (internal/app's KMS option).
type DataKeys interface {
	// AddDataKey inserts k unless a row with its id exists; added is false
	// when one did.
	AddDataKey(ctx context.Context, k ingest.DataKey) (added bool, err error)
	// DataKeys returns every row, oldest first.
	DataKeys(ctx context.Context) ([]ingest.DataKey, error)
}

func testDataKeys(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, time.Now)
	if got, err := s.DataKeys(ctx); err != nil || len(got) != 0 {
		t.Fatalf("DataKeys() of a new store = %d rows, %v; want none", len(got), err)
	}
	const arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	// Replicas racing at first start: each made a data key, one row wins.
	const racers = 8
	var wg sync.WaitGroup
	added := make([]bool, racers)
	errs := make([]error, racers)
	for i := range racers {
		wg.Go(func() {
			added[i], errs[i] = s.AddDataKey(ctx, ingest.DataKey{ID: "1", KMSKeyID: arn, Wrapped: fmt.Appendf(nil, "blob of replica %d", i)})
		})
	}
	wg.Wait()
	winners := 0
	winner := -1
	for i := range racers {
		if errs[i] != nil {
			t.Fatalf("AddDataKey(replica %d): %v", i, errs[i])
		}
		if added[i] {
			winners++
			winner = i
		}
	}
	if winners != 1 {
		t.Fatalf("AddDataKey by %d racing replicas added %d rows, want 1", racers, winners)
	}
	got, err := s.DataKeys(ctx)
	if err != nil || len(got) != 1 {
		t.Fatalf("DataKeys() after the race = %d rows, %v; want 1", len(got), err)
	}
	if k := got[0]; k.ID != "1" || k.KMSKeyID != arn || !bytes.Equal(k.Wrapped, fmt.Appendf(nil, "blob of replica %d", winner)) || k.CreatedAt.IsZero() {
		t.Errorf("DataKeys()[0] = id %q, kms key %q, created %v; want the winner's row", k.ID, k.KMSKeyID, k.CreatedAt)
	}
	// A later row (a new data key) comes last: it is the current one.
	if ok, err := s.AddDataKey(ctx, ingest.DataKey{ID: "2", KMSKeyID: arn, Wrapped: []byte("newer")}); err != nil || !ok {
		t.Fatalf("AddDataKey(2) = %v, %v; want added", ok, err)
	}
	if got, err := s.DataKeys(ctx); err != nil || len(got) != 2 || got[0].ID != "1" || got[1].ID != "2" {
		t.Errorf("DataKeys() = %v, %v; want rows 1 then 2", ids(got), err)
	}
}

func ids(keys []ingest.DataKey) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.ID)
	}
	return out
}
