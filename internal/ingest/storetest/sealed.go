package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsivs "github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/google/go-cmp/cmp"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/keyvault"
)

// sealed.go is the key store's contract: the authorization query returns
// the sealed value of the show's key and its channel's row; a write never
// overwrites a value sealed under a master key not known to the writer;
// clearing a key is a compare-and-set on its ARN; and, through the real
// service, replicas that never saw a key answer it from the store with no
// IVS call.

// Vault is an ingest.Vault over a keyvault.Keyring, for tests: the
// production adapter is internal/app's, which this package cannot import.
func Vault(t *testing.T, current keyvault.Key, retiring ...keyvault.Key) ingest.Vault {
	t.Helper()
	v, err := keyvault.NewVault(current, retiring...)
	if err != nil {
		t.Fatalf("NewVault: %v", err)
	}
	return v
}

// NewKey returns a random master key named id, for tests.
func NewKey(t *testing.T, id string) keyvault.Key {
	t.Helper()
	k, err := keyvault.NewKey(id)
	if err != nil {
		t.Fatalf("NewKey(%q): %v", id, err)
	}
	return k
}

const (
	key2      = "arn:aws:ivs:us-east-1:123456789012:stream-key/keytwokeytwo"
	srtHost   = "abc.srt.live-video.net"
	otherHost = "zzz.global-contribute.live-video.net"
)

func testSealed(t *testing.T, open Opener) {
	ctx := context.Background()
	// Times the stores keep to the microsecond.
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	storedKey := ingest.StoredKey{KeyARN: key1, ChannelARN: channel1, Sealed: []byte("sealed-by-k1"), SealedBy: "k1", VerifiedAt: at}
	storedChannel := ingest.StoredChannel{ARN: channel1, IngestEndpoint: endpoint1, SRTEndpoint: srtHost,
		SealedSRTPassphrase: []byte("passphrase-by-k1"), SealedBy: "k1"}
	stored := func(t *testing.T, s Store, ok bool, err error, what string) {
		t.Helper()
		if err != nil || !ok {
			t.Fatalf("%s = %v, %v; want stored", what, ok, err)
		}
	}

	t.Run("the authorization query returns the sealed value", func(t *testing.T) {
		t.Parallel()
		s := open(t, time.Now)
		seed(t, s)
		if sh := showOf(t, s, show1); sh.SealedKey != nil || !sh.KeyVerifiedAt.IsZero() || sh.StoredChannel != nil {
			t.Errorf("show1 before anything is stored: SealedKey %v, KeyVerifiedAt %v, StoredChannel %+v; want none", sh.SealedKey != nil, sh.KeyVerifiedAt, sh.StoredChannel)
		}
		ok, err := s.StoreKey(ctx, storedKey, []string{"k1"})
		stored(t, s, ok, err, "StoreKey")
		ok, err = s.StoreChannel(ctx, storedChannel, []string{"k1"})
		stored(t, s, ok, err, "StoreChannel")
		want := seeded()
		want.SealedKey, want.KeyVerifiedAt = storedKey.Sealed, at
		c := storedChannel
		want.StoredChannel = &c
		got := showOf(t, s, show1)
		if got != nil {
			got.KeyFirstSeen = time.Time{} // the row was created by StoreKey: dated, but by the store
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Authorize's show1 after StoreKey and StoreChannel (-want +got):\n%s", diff)
		}
		if got := showOf(t, s, show1); got.KeyFirstSeen.IsZero() {
			t.Error("KeyFirstSeen of a key stored before it was noted = zero, want when it was stored")
		}
		must(t, "WithChannelLock", s.WithChannelLock(ctx, channel1, func(tx ingest.ChannelTx) error {
			sh, _, err := tx.Show(ctx, show1)
			if err == nil && (!bytes.Equal(sh.SealedKey, storedKey.Sealed) || sh.StoredChannel == nil) {
				t.Errorf("Show(show1) in a section: SealedKey stored %v, StoredChannel %+v; want both", sh.SealedKey != nil, sh.StoredChannel)
			}
			return err
		}))
		// Another key's value is not show1's: the join is on the show's key.
		ok, err = s.StoreKey(ctx, ingest.StoredKey{KeyARN: key2, ChannelARN: channel1, Sealed: []byte("other"), SealedBy: "k1", VerifiedAt: at}, []string{"k1"})
		stored(t, s, ok, err, "StoreKey(key2)")
		if got := showOf(t, s, show1).SealedKey; !bytes.Equal(got, storedKey.Sealed) {
			t.Error("show1's SealedKey changed when another key was stored")
		}
	})

	t.Run("a write never overwrites a value under an unknown master key", func(t *testing.T) {
		t.Parallel()
		s := open(t, time.Now)
		seed(t, s)
		theirs := storedKey
		theirs.Sealed, theirs.SealedBy = []byte("sealed-by-k2"), "k2"
		ok, err := s.StoreKey(ctx, theirs, []string{"k2"})
		stored(t, s, ok, err, "StoreKey under k2")
		if ok, err := s.StoreKey(ctx, storedKey, []string{"k1"}); err != nil || ok {
			t.Errorf("StoreKey knowing k1 only, over a value under k2 = %v, %v; want not stored", ok, err)
		}
		must(t, "WithChannelLock", s.WithChannelLock(ctx, channel1, func(tx ingest.ChannelTx) error {
			ok, err := tx.StoreKey(ctx, storedKey, []string{"k1", "k0"})
			if err == nil && ok {
				t.Error("StoreKey in a section, knowing k1 and k0, over a value under k2 = stored; want not")
			}
			return err
		}))
		if got := showOf(t, s, show1).SealedKey; !bytes.Equal(got, theirs.Sealed) {
			t.Error("the value under k2 was overwritten by a writer that does not know k2")
		}
		// A writer that knows k2 (the key being retired) may seal it anew.
		ok, err = s.StoreKey(ctx, storedKey, []string{"k1", "k2"})
		stored(t, s, ok, err, "StoreKey knowing k1 and k2")
		if got := showOf(t, s, show1).SealedKey; !bytes.Equal(got, storedKey.Sealed) {
			t.Error("the value under k2 was not replaced by a writer that knows k2")
		}

		theirChannel := storedChannel
		theirChannel.SealedSRTPassphrase, theirChannel.SealedBy = []byte("passphrase-by-k2"), "k2"
		ok, err = s.StoreChannel(ctx, theirChannel, []string{"k2"})
		stored(t, s, ok, err, "StoreChannel under k2")
		mine := storedChannel
		mine.IngestEndpoint = otherHost
		if ok, err := s.StoreChannel(ctx, mine, []string{"k1"}); err != nil || ok {
			t.Errorf("StoreChannel knowing k1 only, over a passphrase under k2 = %v, %v; want not stored", ok, err)
		}
		if got := showOf(t, s, show1).StoredChannel; got == nil || !bytes.Equal(got.SealedSRTPassphrase, theirChannel.SealedSRTPassphrase) || got.IngestEndpoint != endpoint1 {
			t.Errorf("channel row after a refused write = %+v, want the one under k2 unchanged", got)
		}
		// A row without a sealed passphrase is anyone's.
		bare := ingest.StoredChannel{ARN: channel2, IngestEndpoint: endpoint1}
		ok, err = s.StoreChannel(ctx, bare, nil)
		stored(t, s, ok, err, "StoreChannel without a passphrase")
		ok, err = s.StoreChannel(ctx, ingest.StoredChannel{ARN: channel2, IngestEndpoint: otherHost, SRTEndpoint: srtHost,
			SealedSRTPassphrase: []byte("p"), SealedBy: "k1"}, []string{"k1"})
		stored(t, s, ok, err, "StoreChannel over a row without a passphrase")
	})

	t.Run("a value stored in a section commits with it", func(t *testing.T) {
		t.Parallel()
		s := open(t, time.Now)
		seed(t, s)
		boom := errors.New("boom")
		err := s.WithChannelLock(ctx, channel1, func(tx ingest.ChannelTx) error {
			if _, err := tx.StoreKey(ctx, storedKey, []string{"k1"}); err != nil {
				return err
			}
			if _, err := tx.StoreChannel(ctx, storedChannel, []string{"k1"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("WithChannelLock = %v, want fn's error", err)
		}
		if sh := showOf(t, s, show1); sh.SealedKey != nil || sh.StoredChannel != nil {
			t.Errorf("after a failed section: SealedKey stored %v, StoredChannel %+v; want neither", sh.SealedKey != nil, sh.StoredChannel)
		}
		must(t, "WithChannelLock", s.WithChannelLock(ctx, channel1, func(tx ingest.ChannelTx) error {
			if err := tx.RecordStreamKey(ctx, show1, key2, endpoint1); err != nil {
				return err
			}
			k := storedKey
			k.KeyARN = key2
			if ok, err := tx.StoreKey(ctx, k, []string{"k1"}); err != nil || !ok {
				return errors.Join(err, errors.New("not stored"))
			}
			_, err := tx.StoreChannel(ctx, storedChannel, []string{"k1"})
			return err
		}))
		if sh := showOf(t, s, show1); sh.StreamKeyARN != key2 || !bytes.Equal(sh.SealedKey, storedKey.Sealed) || sh.StoredChannel == nil {
			t.Errorf("after a committed section: key %s, SealedKey stored %v, StoredChannel %+v; want key2, stored, stored",
				sh.StreamKeyARN, sh.SealedKey != nil, sh.StoredChannel)
		}
	})

	t.Run("clearing is compare-and-set on the key ARN", func(t *testing.T) {
		t.Parallel()
		s := open(t, time.Now)
		seed(t, s)
		ok, err := s.StoreKey(ctx, storedKey, []string{"k1"})
		stored(t, s, ok, err, "StoreKey")
		// A rotation recorded key2 meanwhile: clearing key1 leaves it.
		must(t, "AddShow(show3)", s.AddShow(ctx, ingest.Show{ID: "d0000000-0000-4000-8000-000000000003", SellerID: seller1,
			ChannelARN: channel1, StreamKeyARN: key2}))
		if n, err := s.ForgetStreamKey(ctx, key1); err != nil || n != 1 {
			t.Errorf("ForgetStreamKey(key1) = %d, %v; want 1 show cleared", n, err)
		}
		if sh := showOf(t, s, show1); sh.StreamKeyARN != "" || sh.SealedKey != nil {
			t.Errorf("show1 after ForgetStreamKey(key1): key %q, SealedKey stored %v; want neither", sh.StreamKeyARN, sh.SealedKey != nil)
		}
		if sh := showOf(t, s, "d0000000-0000-4000-8000-000000000003"); sh.StreamKeyARN != key2 {
			t.Errorf("a show recording key2 after ForgetStreamKey(key1) records %q, want key2 kept", sh.StreamKeyARN)
		}
		keys, err := s.StoredKeys(ctx, "", 10)
		must(t, "StoredKeys", err)
		if len(keys) != 0 {
			t.Errorf("StoredKeys after ForgetStreamKey = %d values, want none", len(keys))
		}
		if nk, nc, err := s.CountStored(ctx); err != nil || nk != 0 {
			t.Errorf("CountStored after ForgetStreamKey = %d keys, %d channels, %v; want no key", nk, nc, err)
		}
		if n, err := s.ForgetStreamKey(ctx, key1); err != nil || n != 0 {
			t.Errorf("ForgetStreamKey(key1) again = %d, %v; want 0", n, err)
		}
	})

	t.Run("checks and listings", func(t *testing.T) {
		t.Parallel()
		s := open(t, time.Now)
		seed(t, s)
		ok, err := s.StoreKey(ctx, storedKey, []string{"k1"})
		stored(t, s, ok, err, "StoreKey")
		later := at.Add(time.Minute)
		must(t, "KeyVerified", s.KeyVerified(ctx, key1, later))
		must(t, "KeyVerified earlier", s.KeyVerified(ctx, key1, at))
		if got := showOf(t, s, show1).KeyVerifiedAt; !got.Equal(later) {
			t.Errorf("KeyVerifiedAt after checks at +1m and +0 = %v, want %v (never moved back)", got, later)
		}
		must(t, "KeyVerified(no such key)", s.KeyVerified(ctx, key2, later))
		k2 := storedKey
		k2.KeyARN = key2
		ok, err = s.StoreKey(ctx, k2, []string{"k1"})
		stored(t, s, ok, err, "StoreKey(key2)")
		page, err := s.StoredKeys(ctx, "", 1)
		must(t, "StoredKeys", err)
		if len(page) != 1 || page[0].KeyARN != key1 || !bytes.Equal(page[0].Sealed, storedKey.Sealed) || page[0].SealedBy != "k1" ||
			page[0].ChannelARN != channel1 || !page[0].VerifiedAt.Equal(later) {
			t.Errorf("StoredKeys(\"\", 1) = %+v, want key1 with its value", page)
		}
		page, err = s.StoredKeys(ctx, key1, 10)
		must(t, "StoredKeys", err)
		if len(page) != 1 || page[0].KeyARN != key2 {
			t.Errorf("StoredKeys(after key1) = %+v, want key2 only", page)
		}
		ok, err = s.StoreChannel(ctx, storedChannel, []string{"k1"})
		stored(t, s, ok, err, "StoreChannel")
		ok, err = s.StoreChannel(ctx, ingest.StoredChannel{ARN: channel2, IngestEndpoint: endpoint1}, nil)
		stored(t, s, ok, err, "StoreChannel(no passphrase)")
		chans, err := s.StoredChannels(ctx, "", 10)
		must(t, "StoredChannels", err)
		if diff := cmp.Diff([]ingest.StoredChannel{storedChannel}, chans); diff != "" {
			t.Errorf("StoredChannels (only those with a passphrase) (-want +got):\n%s", diff)
		}
		// What the two listings list, counted: the two keys, and the one
		// channel with a passphrase.
		if nk, nc, err := s.CountStored(ctx); err != nil || nk != 2 || nc != 1 {
			t.Errorf("CountStored = %d keys, %d channels, %v; want 2 keys, 1 channel", nk, nc, err)
		}
	})

	t.Run("replicas answer a stored key with no IVS call", func(t *testing.T) {
		t.Parallel()
		replicasAnswerStoredKeys(t, open(t, time.Now))
	})
}

// replicasAnswerStoredKeys stores a key through one replica, then asks two
// fresh replicas and a restarted one: the emulator counts no call.
func replicasAnswerStoredKeys(t *testing.T, s Store) {
	ctx := context.Background()
	emu, adapter, sdk := newIVS(t)
	ch, err := emu.CreateChannel("storetest")
	if err != nil {
		t.Fatalf("CreateChannel: %v", err)
	}
	if _, err := sdk.DeleteStreamKey(ctx, &awsivs.DeleteStreamKeyInput{Arn: aws.String(ch.StreamKey.ARN)}); err != nil {
		t.Fatalf("DeleteStreamKey: %v", err)
	}
	must(t, "AddSeller", s.AddSeller(ctx, seller1, sellerUser, ingest.SellerApproved))
	must(t, "AddShow", s.AddShow(ctx, ingest.Show{ID: show1, SellerID: seller1, ChannelARN: ch.ARN}))
	vault := Vault(t, NewKey(t, "1"))
	replica := func() *ingest.Service {
		svc := ingest.NewService(s, adapter, ingest.Options{Vault: vault, KeyCacheTTL: time.Hour, VerifyInterval: time.Hour})
		t.Cleanup(svc.Close)
		return svc
	}
	req := ingest.Request{Caller: ingest.Caller{UserID: sellerUser}, ShowID: show1}
	third := replica()
	first, err := third.IngestDetails(ctx, req)
	if err != nil {
		t.Fatalf("IngestDetails (the replica that creates the key): %v", err)
	}
	if first.SRTURL() == "" {
		t.Fatal("the created key's details have no SRT URL")
	}
	third.Close()
	emu.ResetCounts()
	for _, name := range []string{"fresh replica 1", "fresh replica 2", "the third, restarted"} {
		d, err := replica().IngestDetails(ctx, req)
		if err != nil {
			t.Fatalf("%s: IngestDetails: %v", name, err)
		}
		// Secrets: compared, never printed.
		if d.StreamKey.Reveal() != first.StreamKey.Reveal() || d.SRTURL() != first.SRTURL() || d.IngestEndpoint != ch.IngestEndpoint {
			t.Errorf("%s: the details differ from those the key's creator handed out", name)
		}
	}
	if n := emu.TotalCalls(); n != 0 {
		t.Errorf("IVS calls made by two fresh replicas and a restarted one for a stored key = %d, want 0 (%v)", n, emu.CallLog())
	}
}
