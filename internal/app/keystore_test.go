package app_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/app"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/keyvault"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// pgDump is the pg_dump of the test cluster's major version.
const pgDump = "/usr/lib/postgresql/15/bin/pg_dump"

func newMasterKey(t *testing.T, id string) keyvault.Key {
	t.Helper()
	k, err := keyvault.NewKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A database dump holds no stream key value, no SRT passphrase and no
// master key, in clear or hex-encoded (as a bytea column would show one),
// once keys are stored; and a process opened later answers them from the
// store alone.
func TestDumpHoldsNoKey(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath(pgDump); err != nil {
		t.Skipf("%s not found", pgDump)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env := testenv.New(t, testenv.Options{})
	master := newMasterKey(t, "1")
	cfg := load(t, env.Getenv(map[string]string{"STREAM_KEY_ENCRYPTION_KEY": master.Encoded().Reveal()}))
	seller := env.Seller(t, "approved")
	shows := []testenv.Show{env.Show(t, seller, true), env.Show(t, seller, true)}

	d, err := app.OpenDomain(ctx, cfg, discard)
	if err != nil {
		t.Fatalf("OpenDomain: %v", err)
	}
	var secrets []secret.String
	var arns []string
	request := func(showID string) ingest.Request {
		return ingest.Request{Caller: ingest.Caller{UserID: seller.ID, SessionID: seller.SessionID}, ShowID: showID}
	}
	first := map[string]ingest.Details{}
	for _, sh := range shows {
		got, err := d.Service.IngestDetails(ctx, request(sh.ID))
		if err != nil {
			t.Fatalf("IngestDetails: %v", err)
		}
		if got.SRT.Passphrase.IsZero() {
			t.Fatal("the details have no SRT passphrase")
		}
		first[sh.ID] = got
		secrets = append(secrets, got.StreamKey, got.SRT.Passphrase)
		arns = append(arns, got.StreamKeyARN)
	}
	d.Close()

	// Another process: every key from the store, no IVS call.
	env.Emulator.ResetCounts()
	again, err := app.OpenDomain(ctx, cfg, discard)
	if err != nil {
		t.Fatalf("OpenDomain: %v", err)
	}
	defer again.Close()
	for _, sh := range shows {
		got, err := again.Service.IngestDetails(ctx, request(sh.ID))
		if err != nil {
			t.Fatalf("IngestDetails in a new process: %v", err)
		}
		if got.StreamKey.Reveal() != first[sh.ID].StreamKey.Reveal() || got.SRTURL() != first[sh.ID].SRTURL() {
			t.Error("a new process hands out other details than the first")
		}
	}
	if n := env.Emulator.TotalCalls(); n != 0 {
		t.Errorf("IVS calls of a new process for stored keys = %d, want 0", n)
	}

	dump, err := exec.CommandContext(ctx, pgDump, "--no-owner", "--dbname="+env.DatabaseURL).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	// The dump is of the rows that matter: it names the keys and their
	// sealed values' column.
	for _, want := range append(arns, "sealed_value", "sealed_srt_passphrase") {
		if !bytes.Contains(dump, []byte(want)) {
			t.Fatalf("the dump lacks %q: not a dump of the stored keys", want)
		}
	}
	secrets = append(secrets, master.Encoded())
	for i, s := range secrets {
		// Compared, never printed.
		v := s.Reveal()
		if bytes.Contains(dump, []byte(v)) || bytes.Contains(dump, []byte(hex.EncodeToString([]byte(v)))) {
			t.Errorf("the dump holds secret #%d (stream keys, SRT passphrases, then the master key) in clear", i+1)
		}
	}
}

// The adapter tells the domain which values are under the current key, and
// which under a key it does not hold.
func TestVault(t *testing.T) {
	t.Parallel()
	k1, k2 := newMasterKey(t, "1"), newMasterKey(t, "2")
	old, err := app.NewVault(k1)
	if err != nil {
		t.Fatal(err)
	}
	both, err := app.NewVault(k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	value := secret.New("sk_us-east-1_value")
	sealed, err := old.Seal(value, "arn:key", "arn:channel")
	if err != nil {
		t.Fatal(err)
	}
	if v, current, err := both.Open(sealed, "arn:key", "arn:channel"); err != nil || current || v.Reveal() != value.Reveal() {
		t.Errorf("Open under a retiring key = current %v, %v; want the value, not current", current, err)
	}
	if v, current, err := old.Open(sealed, "arn:key", "arn:channel"); err != nil || !current || v.Reveal() != value.Reveal() {
		t.Errorf("Open under the current key = current %v, %v; want the value, current", current, err)
	}
	newer, err := both.Seal(value, "arn:key", "arn:channel")
	if err != nil {
		t.Fatal(err)
	}
	var unknown *ingest.UnknownKeyError
	if _, _, err := old.Open(newer, "arn:key", "arn:channel"); !errors.As(err, &unknown) || unknown.KeyID != "2" || !errors.Is(err, ingest.ErrSealedByUnknownKey) {
		t.Errorf("Open of a value under a key not held = %v, want an *UnknownKeyError naming 2", err)
	}
	if _, _, err := both.Open(sealed, "arn:other-key", "arn:channel"); err == nil || errors.Is(err, ingest.ErrSealedByUnknownKey) {
		t.Errorf("Open with another binding = %v, want an error that is not the unknown key's", err)
	}
	if cur, known := both.KeyIDs(); cur != "2" || len(known) != 2 || known[0] != "2" || known[1] != "1" {
		t.Errorf("KeyIDs() = %q, %q; want 2, [2 1]", cur, known)
	}
	if v, err := app.Vault(load(t, func(string) string { return "" })); v != nil || err != nil {
		t.Errorf("Vault() without STREAM_KEY_ENCRYPTION_KEY = %v, %v; want none", v, err)
	}
}
