package ingest_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsivs "github.com/aws/aws-sdk-go-v2/service/ivs"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/sqlite"
)

var errCancelRefused = errors.New("cancel refused by the test")

// cancelRefusingStore is the world's store whose channel sections cannot
// take back a counted key creation.
type cancelRefusingStore struct{ *sqlite.DB }

func (s cancelRefusingStore) WithChannelLock(ctx context.Context, channelARN string, fn func(ingest.ChannelTx) error) error {
	return s.DB.WithChannelLock(ctx, channelARN, func(tx ingest.ChannelTx) error { return fn(cancelRefusingTx{tx}) })
}

type cancelRefusingTx struct{ ingest.ChannelTx }

func (cancelRefusingTx) CancelKeyCreation(context.Context, int64) error { return errCancelRefused }

// A key adopted after IVS's quota error is no creation of the seller's:
// the creation counted for it is taken back, and when that fails the
// section fails with it, rather than commit a creation the seller never made.
func TestAdoptedKeyIsNoCreationOfTheSeller(t *testing.T) {
	t.Parallel()
	w := newSQLiteWorld(t)
	owner := w.seller(t, "approved")
	show := w.show(t, owner, true)
	opts := ingest.Options{KeyCreatesPerHour: 1, Now: w.clock.Now, Logger: slog.New(slog.DiscardHandler)}

	refusing := ingest.NewService(cancelRefusingStore{w.db}, w.ivs, opts)
	t.Cleanup(refusing.Close)
	// An outsider creates the channel's key just before the service does.
	w.emu.BeforeNext("CreateStreamKey", func() {
		if _, err := w.sdk.CreateStreamKey(context.Background(), &awsivs.CreateStreamKeyInput{ChannelArn: aws.String(show.ChannelARN)}); err != nil {
			t.Errorf("outsider's CreateStreamKey: %v", err)
		}
	})
	if _, err := refusing.IngestDetails(context.Background(), owner.keyRequest(show.ID)); !errors.Is(err, errCancelRefused) {
		t.Fatalf("IngestDetails with a creation that cannot be taken back = %v, want the cancel's error", err)
	}
	if arn, _ := w.stored(t, show.ID); arn != "" {
		t.Errorf("the failed section recorded key %s", arn)
	}
	wait, err := w.db.KeyCreationWait(context.Background(), owner.SellerID, 1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if wait != 0 {
		t.Errorf("after the failed adoption the seller must wait %s to create a key, want 0: the adoption was counted", wait)
	}

	// The outsider's key is there: a working store adopts it.
	svc := w.service(t, opts)
	d := w.get(t, "adopting", svc, owner.keyRequest(show.ID))
	if d.Action != ingest.ActionGet {
		t.Errorf("adopted key's action = %q, want %q", d.Action, ingest.ActionGet)
	}
}
