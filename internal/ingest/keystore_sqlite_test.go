package ingest_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsivs "github.com/aws/aws-sdk-go-v2/service/ivs"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest/storetest"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// The key store, over the embedded store: what replicas do with stored
// values that open, do not open, or open under an older master key; the
// background check; and creation without GetChannel. The contract both
// stores keep (and replicas over PostgreSQL) is storetest's sealed.go.

// countingMetrics counts what the service reports.
type countingMetrics struct {
	mu       sync.Mutex
	unusable map[string]int
}

func (m *countingMetrics) KeyCacheLookup(bool) {}

func (m *countingMetrics) StoredValueUnusable(reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.unusable == nil {
		m.unusable = map[string]int{}
	}
	m.unusable[reason]++
}

func (m *countingMetrics) count(reason string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.unusable[reason]
}

// logBuffer is a log's text, written by concurrent goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// keyRow reads a key's stored row: its sealed value and master key id.
func (w *sqliteWorld) keyRow(t *testing.T, keyARN string) (sealed []byte, keyID string) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+w.path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	defer raw.Close()
	var id *string
	if err := raw.QueryRow(`SELECT sealed_value, sealed_key_id FROM stream_keys WHERE key_arn = ?1`, keyARN).Scan(&sealed, &id); err != nil {
		t.Fatalf("read stream_keys row: %v", err)
	}
	if id != nil {
		keyID = *id
	}
	return sealed, keyID
}

// channelKeyID reads the master key id of a channel row's passphrase.
func (w *sqliteWorld) channelKeyID(t *testing.T, channelARN string) string {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+w.path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	defer raw.Close()
	var id string
	if err := raw.QueryRow(`SELECT sealed_key_id FROM channels WHERE channel_arn = ?1`, channelARN).Scan(&id); err != nil {
		t.Fatalf("read channels row: %v", err)
	}
	return id
}

// keyedShow is a show whose key a replica created and stored.
type keyedShow struct {
	sqliteShow
	details ingest.Details
}

// storedShow adds a show of seller with a channel, and has a replica with
// vault create (and store) its key.
func (w *sqliteWorld) storedShow(t *testing.T, seller sqliteUser, vault ingest.Vault) keyedShow {
	t.Helper()
	sh := w.show(t, seller, true)
	d := w.get(t, "the first request", w.service(t, ingest.Options{Vault: vault}), seller.keyRequest(sh.ID))
	if d.Action != ingest.ActionCreate {
		t.Fatalf("the first request's action = %s, want create", d.Action)
	}
	return keyedShow{sh, d}
}

// sameDetails reports whether two answers carry the same key, endpoint and
// SRT URL; secrets are compared, never printed.
func sameDetails(a, b ingest.Details) bool {
	return a.StreamKey.Reveal() == b.StreamKey.Reveal() && a.IngestEndpoint == b.IngestEndpoint && a.SRTURL() == b.SRTURL() &&
		a.StreamKeyARN == b.StreamKeyARN
}

func TestUnopenableStoredKeysFallBackToIVS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// spoil spoils b's stored key, given a's.
		spoil   func(t *testing.T, w *sqliteWorld, a, b keyedShow)
		reason  string
		restore bool // the value read from IVS is stored again
	}{
		{"swapped from another row", func(t *testing.T, w *sqliteWorld, a, b keyedShow) {
			sealed, _ := w.keyRow(t, a.details.StreamKeyARN)
			w.exec(t, `UPDATE stream_keys SET sealed_value = ?1 WHERE key_arn = ?2`, sealed, b.details.StreamKeyARN)
		}, ingest.UnusableUnreadable, true},
		{"tampered with", func(t *testing.T, w *sqliteWorld, _, b keyedShow) {
			sealed, _ := w.keyRow(t, b.details.StreamKeyARN)
			sealed[len(sealed)-1] ^= 1
			w.exec(t, `UPDATE stream_keys SET sealed_value = ?1 WHERE key_arn = ?2`, sealed, b.details.StreamKeyARN)
		}, ingest.UnusableUnreadable, true},
		{"sealed under an unknown master key", func(t *testing.T, w *sqliteWorld, _, b keyedShow) {
			other := storetest.Vault(t, storetest.NewKey(t, "9"))
			sealed, err := other.Seal(b.details.StreamKey, b.details.StreamKeyARN, b.ChannelARN)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			w.exec(t, `UPDATE stream_keys SET sealed_value = ?1, sealed_key_id = '9' WHERE key_arn = ?2`, sealed, b.details.StreamKeyARN)
		}, ingest.UnusableUnknownKey, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newSQLiteWorld(t)
			vault := storetest.Vault(t, storetest.NewKey(t, "1"))
			seller := w.seller(t, ingest.SellerApproved)
			a, b := w.storedShow(t, seller, vault), w.storedShow(t, seller, vault)
			tt.spoil(t, w, a, b)
			spoiled, _ := w.keyRow(t, b.details.StreamKeyARN)

			var logs logBuffer
			m := &countingMetrics{}
			// No cache: each request goes to the store.
			svc := w.service(t, ingest.Options{Vault: vault, Metrics: m, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			w.emu.ResetCounts()
			for i := range 2 {
				d, err := svc.IngestDetails(context.Background(), seller.keyRequest(b.ID))
				if err != nil {
					t.Fatalf("request %d for a show whose stored key is %s: %v, want its key from IVS", i+1, tt.name, err)
				}
				if !sameDetails(d, b.details) {
					t.Errorf("request %d: the details differ from those first handed out", i+1)
				}
			}
			wantCalls, wantCounted := 1, 1 // read from IVS once, then stored again
			if !tt.restore {
				wantCalls, wantCounted = 2, 2 // left as it is: IVS again
			}
			if n := w.emu.Calls("GetStreamKey"); n != wantCalls || w.emu.TotalCalls() != n {
				t.Errorf("IVS calls for two requests = %d (%d GetStreamKey), want %d GetStreamKey only (the channel row is stored)",
					w.emu.TotalCalls(), n, wantCalls)
			}
			if n := m.count(tt.reason); n != wantCounted {
				t.Errorf("StoredValueUnusable(%s) counted %d, want %d", tt.reason, n, wantCounted)
			}
			now, keyID := w.keyRow(t, b.details.StreamKeyARN)
			switch {
			case tt.restore && (keyID != "1" || bytes.Equal(now, spoiled)):
				t.Errorf("row after the request: sealed under %q, changed %v; want stored again under 1", keyID, !bytes.Equal(now, spoiled))
			case !tt.restore && (keyID != "9" || !bytes.Equal(now, spoiled)):
				t.Errorf("row after the request: sealed under %q, changed %v; want left as it was, under 9", keyID, !bytes.Equal(now, spoiled))
			}
			log := logs.String()
			if strings.Contains(log, b.details.StreamKey.Reveal()) {
				t.Error("the log holds the stream key's value")
			}
			if !strings.Contains(log, b.ID) && tt.restore {
				t.Error("the warning does not name the show")
			}
			if n := strings.Count(log, `"master_key_id":"9"`); !tt.restore && n != 1 {
				t.Errorf("the unknown master key was logged %d times for two requests, want once", n)
			}
		})
	}
}

func TestStoredKeysAreSealedAgainUnderANewMasterKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newSQLiteWorld(t)
	k1, k2 := storetest.NewKey(t, "1"), storetest.NewKey(t, "2")
	seller := w.seller(t, ingest.SellerApproved)
	a := w.storedShow(t, seller, storetest.Vault(t, k1))

	// On read: a replica that seals under 2 and still opens 1.
	w.emu.ResetCounts()
	d := w.get(t, "read under the new key", w.service(t, ingest.Options{Vault: storetest.Vault(t, k2, k1)}), seller.keyRequest(a.ID))
	if !sameDetails(d, a.details) || w.emu.TotalCalls() != 0 {
		t.Errorf("a replica holding the new and old keys: same details %v, %d IVS calls; want the stored key, 0 calls", sameDetails(d, a.details), w.emu.TotalCalls())
	}
	if _, id := w.keyRow(t, a.details.StreamKeyARN); id != "2" {
		t.Errorf("the key read under the old master key is sealed under %q, want 2", id)
	}
	if id := w.channelKeyID(t, a.ChannelARN); id != "2" {
		t.Errorf("the channel read under the old master key is sealed under %q, want 2", id)
	}
	// The old key retired: the value still opens.
	d = w.get(t, "read after the old key is retired", w.service(t, ingest.Options{Vault: storetest.Vault(t, k2)}), seller.keyRequest(a.ID))
	if !sameDetails(d, a.details) || w.emu.TotalCalls() != 0 {
		t.Errorf("a replica holding the new key only: same details %v, %d IVS calls; want the stored key, 0 calls", sameDetails(d, a.details), w.emu.TotalCalls())
	}

	// At once, with Reencrypt: two more shows under 1, one under a key
	// this process does not hold.
	b, c := w.storedShow(t, seller, storetest.Vault(t, k1)), w.storedShow(t, seller, storetest.Vault(t, k1))
	foreign := w.storedShow(t, seller, storetest.Vault(t, storetest.NewKey(t, "9")))
	foreignRow, _ := w.keyRow(t, foreign.details.StreamKeyARN)
	svc := w.service(t, ingest.Options{Vault: storetest.Vault(t, k2, k1)})
	res, err := svc.Reencrypt(ctx, ingest.BatchOptions{})
	if err != nil {
		t.Fatalf("Reencrypt: %v", err)
	}
	// a's key and channel are under 2 already; b's and c's keys and
	// channels move; foreign's key and channel stay.
	if want := (ingest.ReencryptResult{Total: 8, Resealed: 4, Current: 2, Unknown: 2}); res != want {
		t.Errorf("Reencrypt = %+v, want %+v", res, want)
	}
	for _, sh := range []keyedShow{b, c} {
		if _, id := w.keyRow(t, sh.details.StreamKeyARN); id != "2" {
			t.Errorf("after Reencrypt a key is sealed under %q, want 2", id)
		}
	}
	if now, id := w.keyRow(t, foreign.details.StreamKeyARN); id != "9" || !bytes.Equal(now, foreignRow) {
		t.Errorf("after Reencrypt the row under 9 is under %q, changed %v; want left as it was", id, !bytes.Equal(now, foreignRow))
	}
	w.emu.ResetCounts()
	retired := w.service(t, ingest.Options{Vault: storetest.Vault(t, k2)})
	for _, sh := range []keyedShow{b, c} {
		if d := w.get(t, "after Reencrypt", retired, seller.keyRequest(sh.ID)); !sameDetails(d, sh.details) {
			t.Error("after Reencrypt, a replica holding the new key only hands out other details")
		}
	}
	if n := w.emu.TotalCalls(); n != 0 {
		t.Errorf("IVS calls after Reencrypt, the old key retired = %d, want 0", n)
	}
	if res, err := svc.Reencrypt(ctx, ingest.BatchOptions{}); err != nil || res != (ingest.ReencryptResult{Total: 8, Current: 6, Unknown: 2}) {
		t.Errorf("Reencrypt again = %+v, %v; want every value current but the unknown ones", res, err)
	}
	if _, err := w.service(t, ingest.Options{}).Reencrypt(ctx, ingest.BatchOptions{}); !errors.Is(err, ingest.ErrNoVault) {
		t.Errorf("Reencrypt without a vault = %v, want ErrNoVault", err)
	}
}

func TestDeletedKeyIsNoticedInTheBackgroundAndReplaced(t *testing.T) {
	t.Parallel()
	w := newSQLiteWorld(t)
	vault := storetest.Vault(t, storetest.NewKey(t, "1"))
	seller := w.seller(t, ingest.SellerApproved)
	a := w.storedShow(t, seller, vault)
	svc := w.service(t, ingest.Options{Vault: vault, VerifyInterval: time.Hour, KeyCacheTTL: 24 * time.Hour})
	w.get(t, "a request within the interval", svc, seller.keyRequest(a.ID))
	svc.WaitBackground()
	w.deleteKeyInAWS(t, a.ID)
	w.emu.ResetCounts()

	// Within the interval: served, no check.
	w.clock.Advance(30 * time.Minute)
	w.get(t, "a request within the interval", svc, seller.keyRequest(a.ID))
	svc.WaitBackground()
	if n := w.emu.TotalCalls(); n != 0 {
		t.Errorf("IVS calls within the verify interval = %d, want 0", n)
	}

	// Past it: served at once (the stored key), checked in the background.
	w.clock.Advance(time.Hour)
	d := w.get(t, "a request past the interval", svc, seller.keyRequest(a.ID))
	if !sameDetails(d, a.details) {
		t.Error("the request that starts the check did not get the stored key")
	}
	svc.WaitBackground()
	if n := w.emu.Calls("GetStreamKey"); n != 1 {
		t.Errorf("background GetStreamKey calls = %d, want 1", n)
	}
	if arn, _ := w.stored(t, a.ID); arn != "" {
		t.Errorf("the show records %s after the check found its key gone, want none", arn)
	}
	// The next request creates one: the channel is stored, so with one
	// call.
	w.emu.ResetCounts()
	d = w.get(t, "the request after the check", svc, seller.keyRequest(a.ID))
	if d.Action != ingest.ActionCreate || d.StreamKeyARN == a.details.StreamKeyARN || d.StreamKey.Reveal() == a.details.StreamKey.Reveal() {
		t.Errorf("the request after the check: action %s, same key %v; want a new key created", d.Action, d.StreamKeyARN == a.details.StreamKeyARN)
	}
	if n := w.emu.TotalCalls(); n != 1 {
		t.Errorf("IVS calls to create the replacement = %d, want 1 (CreateStreamKey)", n)
	}
	if !w.keyExists(t, d.StreamKeyARN) {
		t.Error("the replacement key does not exist in IVS")
	}
}

func TestBackgroundCheckNeverDelaysTheRequest(t *testing.T) {
	t.Parallel()
	w := newSQLiteWorld(t)
	vault := storetest.Vault(t, storetest.NewKey(t, "1"))
	seller := w.seller(t, ingest.SellerApproved)
	a := w.storedShow(t, seller, vault)
	svc := w.service(t, ingest.Options{Vault: vault, VerifyInterval: time.Hour})
	entered, release := make(chan struct{}), make(chan struct{})
	w.emu.BeforeNext("GetStreamKey", func() {
		close(entered)
		<-release
	})
	w.clock.Advance(2 * time.Hour)
	done := make(chan error, 1)
	go func() {
		_, err := svc.IngestDetails(context.Background(), seller.keyRequest(a.ID))
		done <- err
	}()
	// The request answers while its check is held inside IVS.
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("IngestDetails: %v", err)
		}
	case <-time.After(30 * time.Second):
		close(release)
		t.Fatal("the request waited for its background check")
	}
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("no background check reached IVS")
	}
	close(release)
	svc.WaitBackground()
	if n := w.emu.Calls("GetStreamKey"); n != 1 {
		t.Errorf("GetStreamKey calls = %d, want the one background check", n)
	}
	sh, _, err := w.db.Show(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	f, err := w.db.Authorize(context.Background(), ingest.AuthzQuery{UserID: seller.ID, ShowID: a.ID})
	if err != nil || f.Show == nil {
		t.Fatalf("Authorize: %v", err)
	}
	if got := f.Show.KeyVerifiedAt; !got.Equal(w.clock.Now().UTC().Truncate(time.Microsecond)) || sh.StreamKeyARN != a.details.StreamKeyARN {
		t.Errorf("after the check: verified at %v, key %s; want now (%v) and the key kept", got, sh.StreamKeyARN, w.clock.Now())
	}
}

func TestCreationWithAStoredChannelMakesOneCall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vault := storetest.Vault(t, storetest.NewKey(t, "1"))
	// storeChannel stores what GetChannel says of sh's channel, as a
	// replica that read it before would have.
	storeChannel := func(t *testing.T, w *sqliteWorld, channelARN string) ingest.Channel {
		t.Helper()
		out, err := w.sdk.GetChannel(ctx, &awsivs.GetChannelInput{Arn: aws.String(channelARN)})
		if err != nil {
			t.Fatalf("GetChannel: %v", err)
		}
		ch := ingest.Channel{ARN: channelARN, IngestEndpoint: aws.ToString(out.Channel.IngestEndpoint),
			SRT: ingest.SRT{Endpoint: aws.ToString(out.Channel.Srt.Endpoint), Passphrase: secret.New(aws.ToString(out.Channel.Srt.Passphrase))}}
		sealed, err := vault.Seal(ch.SRT.Passphrase, channelARN)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		if ok, err := w.db.StoreChannel(ctx, ingest.StoredChannel{ARN: channelARN, IngestEndpoint: ch.IngestEndpoint,
			SRTEndpoint: ch.SRT.Endpoint, SealedSRTPassphrase: sealed, SealedBy: "1"}, []string{"1"}); err != nil || !ok {
			t.Fatalf("StoreChannel = %v, %v", ok, err)
		}
		return ch
	}

	t.Run("a new key", func(t *testing.T) {
		t.Parallel()
		w := newSQLiteWorld(t)
		seller := w.seller(t, ingest.SellerApproved)
		sh := w.show(t, seller, true)
		ch := storeChannel(t, w, sh.ChannelARN)
		w.emu.ResetCounts()
		d := w.get(t, "the first request", w.service(t, ingest.Options{Vault: vault}), seller.keyRequest(sh.ID))
		if d.Action != ingest.ActionCreate || w.emu.Calls("CreateStreamKey") != 1 || w.emu.TotalCalls() != 1 {
			t.Errorf("first request with the channel stored: action %s, %d IVS calls (%d CreateStreamKey); want create with 1 CreateStreamKey",
				d.Action, w.emu.TotalCalls(), w.emu.Calls("CreateStreamKey"))
		}
		want := ingest.Details{IngestEndpoint: ch.IngestEndpoint, StreamKey: d.StreamKey, SRT: ch.SRT}
		if d.SRTURL() == "" || d.SRTURL() != want.SRTURL() || d.IngestEndpoint != ch.IngestEndpoint {
			t.Error("the created key's SRT URL or endpoint is not the stored channel's")
		}
		if arn, endpoint := w.stored(t, sh.ID); arn != d.StreamKeyARN || endpoint != ch.IngestEndpoint {
			t.Errorf("show records key %s, endpoint %s; want %s, %s", arn, endpoint, d.StreamKeyARN, ch.IngestEndpoint)
		}
		// Stored with its record: a fresh replica answers with no call,
		// the SRT URL from the stored channel row.
		w.emu.ResetCounts()
		again := w.get(t, "a fresh replica", w.service(t, ingest.Options{Vault: vault}), seller.keyRequest(sh.ID))
		if !sameDetails(again, d) || w.emu.TotalCalls() != 0 {
			t.Errorf("a fresh replica: same details %v, %d IVS calls; want the created key, 0 calls", sameDetails(again, d), w.emu.TotalCalls())
		}
	})

	t.Run("a key made elsewhere is adopted", func(t *testing.T) {
		t.Parallel()
		w := newSQLiteWorld(t)
		seller := w.seller(t, ingest.SellerApproved)
		sh := w.show(t, seller, true)
		storeChannel(t, w, sh.ChannelARN)
		made, err := w.sdk.CreateStreamKey(ctx, &awsivs.CreateStreamKeyInput{ChannelArn: aws.String(sh.ChannelARN)})
		if err != nil {
			t.Fatalf("CreateStreamKey: %v", err)
		}
		w.emu.ResetCounts()
		d := w.get(t, "the first request", w.service(t, ingest.Options{Vault: vault}), seller.keyRequest(sh.ID))
		if d.Action != ingest.ActionGet || d.StreamKeyARN != aws.ToString(made.StreamKey.Arn) || d.StreamKey.Reveal() != aws.ToString(made.StreamKey.Value) {
			t.Errorf("first request for a channel with a key made elsewhere: action %s, key %s; want that key adopted", d.Action, d.StreamKeyARN)
		}
		if n := w.emu.Calls("CreateStreamKey"); n != 1 {
			t.Errorf("CreateStreamKey calls = %d, want 1 (then the adoption)", n)
		}
	})

	t.Run("the channel is gone", func(t *testing.T) {
		t.Parallel()
		w := newSQLiteWorld(t)
		seller := w.seller(t, ingest.SellerApproved)
		sh := w.show(t, seller, true)
		storeChannel(t, w, sh.ChannelARN)
		if _, err := w.sdk.DeleteChannel(ctx, &awsivs.DeleteChannelInput{Arn: aws.String(sh.ChannelARN)}); err != nil {
			t.Fatalf("DeleteChannel: %v", err)
		}
		_, err := w.service(t, ingest.Options{Vault: vault}).IngestDetails(ctx, seller.keyRequest(sh.ID))
		if !errors.Is(err, ingest.ErrChannelUnavailable) {
			t.Errorf("IngestDetails for a deleted channel that is stored = %v, want ErrChannelUnavailable (as GetChannel would say)", err)
		}
	})
}

func TestRotatedKeyIsStoredWithItsRecord(t *testing.T) {
	t.Parallel()
	w := newSQLiteWorld(t)
	vault := storetest.Vault(t, storetest.NewKey(t, "1"))
	seller := w.seller(t, ingest.SellerApproved)
	a := w.storedShow(t, seller, vault)
	rotated := w.rotate(t, "rotate", w.service(t, ingest.Options{Vault: vault}), seller.keyRequest(a.ID))
	w.emu.ResetCounts()
	d := w.get(t, "a fresh replica", w.service(t, ingest.Options{Vault: vault}), seller.keyRequest(a.ID))
	if !sameDetails(d, rotated) || sameDetails(d, a.details) || w.emu.TotalCalls() != 0 {
		t.Errorf("a fresh replica after a rotation: the rotated key %v, %d IVS calls; want the rotated key, 0 calls", sameDetails(d, rotated), w.emu.TotalCalls())
	}
}

func TestWithoutAVaultNothingIsStored(t *testing.T) {
	t.Parallel()
	w := newSQLiteWorld(t)
	seller := w.seller(t, ingest.SellerApproved)
	sh := w.show(t, seller, true)
	d := w.get(t, "the first request", w.service(t, ingest.Options{}), seller.keyRequest(sh.ID))
	if sealed, _ := w.keyRow(t, d.StreamKeyARN); sealed != nil {
		t.Error("a service without a vault stored a sealed value")
	}
	w.emu.ResetCounts()
	w.get(t, "a fresh replica", w.service(t, ingest.Options{}), seller.keyRequest(sh.ID))
	if n := w.emu.TotalCalls(); n != 2 {
		t.Errorf("IVS calls of a fresh replica without a key store = %d, want 2 (GetChannel, GetStreamKey: today's)", n)
	}
}

// After a quiet spell every key a crowd touches is due for its check: a
// process runs at most two at once, and the others are left to later
// requests, so the checks never crowd the store's pool or the budget.
func TestBackgroundChecksAreBounded(t *testing.T) {
	t.Parallel()
	w := newSQLiteWorld(t)
	vault := storetest.Vault(t, storetest.NewKey(t, "1"))
	var shows []keyedShow
	var sellers []sqliteUser
	for range 5 {
		seller := w.seller(t, ingest.SellerApproved)
		sellers = append(sellers, seller)
		shows = append(shows, w.storedShow(t, seller, vault))
	}
	svc := w.service(t, ingest.Options{Vault: vault, VerifyInterval: time.Hour})
	// Each check is held in IVS long enough for every request to arrive
	// while the first ones run.
	w.emu.SetLatency(2 * time.Second)
	w.clock.Advance(2 * time.Hour)
	before := w.emu.Calls("GetStreamKey")
	for i, sh := range shows {
		if _, err := svc.IngestDetails(context.Background(), sellers[i].keyRequest(sh.ID)); err != nil {
			t.Fatalf("IngestDetails %d: %v", i, err)
		}
	}
	svc.WaitBackground()
	if n := w.emu.Calls("GetStreamKey") - before; n != 2 {
		t.Errorf("background GetStreamKey calls = %d, want 2 (at most two checks at once; the others left for later)", n)
	}
}
