package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

func runCmd(t *testing.T, getenv func(string) string, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	err := run(context.Background(), args, getenv, &out, io.Discard)
	return out.String(), err
}

func TestProvisionRotateExpiredAndAudit(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	getenv := env.Getenv(map[string]string{"STREAM_KEY_MAX_AGE": "1h"})
	owner := env.Seller(t, "approved")
	a, b, bare := env.Show(t, owner, true), env.Show(t, owner, true), env.Show(t, owner, false)

	out, err := runCmd(t, getenv, "provision", "--all")
	if err != nil || !strings.Contains(out, "2 created, 0 kept, 0 failed") {
		t.Fatalf("provision --all = %q, %v; want 2 created", out, err)
	}
	if n := env.Emulator.Succeeded("CreateStreamKey"); n != 2 {
		t.Errorf("CreateStreamKey succeeded %d times, want 2", n)
	}
	out, err = runCmd(t, getenv, "provision", "--show", a.ID)
	if err != nil || !strings.Contains(out, "exists") {
		t.Errorf("provision --show of a show with a key = %q, %v; want it kept", out, err)
	}
	if _, err := runCmd(t, getenv, "provision", "--show", bare.ID); err == nil {
		t.Error("provision of a show without a channel succeeded")
	}

	// One expired key on a live channel, one on an offline channel.
	pgtest.Exec(t, env.DatabaseURL, `UPDATE ivs_ingest.stream_keys SET first_seen_at = now() - interval '2 hours'`)
	if err := env.Emulator.SetLive(a.ChannelARN, true); err != nil {
		t.Fatal(err)
	}
	out, err = runCmd(t, getenv, "rotate-expired")
	if err != nil || !strings.Contains(out, "1 rotated, 1 kept, 0 failed") || !strings.Contains(out, b.ID+"  rotated") {
		t.Errorf("rotate-expired = %q, %v; want %s rotated and the live one kept", out, err, b.ID)
	}
	if _, err := runCmd(t, env.Getenv(nil), "rotate-expired"); err == nil || !strings.Contains(err.Error(), "STREAM_KEY_MAX_AGE") {
		t.Errorf("rotate-expired without STREAM_KEY_MAX_AGE = %v, want an error naming it", err)
	}

	out, err = runCmd(t, getenv, "audit", "--show", b.ID, "--json")
	if err != nil {
		t.Fatalf("audit --json: %v", err)
	}
	var actions []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var e struct{ Action, ShowID string }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit --json line %q: %v", sc.Text(), err)
		}
		if e.ShowID != b.ID {
			t.Errorf("audit --show %s printed an entry of show %s", b.ID, e.ShowID)
		}
		actions = append(actions, e.Action)
	}
	if strings.Join(actions, ",") != "expire,create" {
		t.Errorf("audit of show b = %v, want [expire create] (newest first)", actions)
	}
	out, err = runCmd(t, getenv, "audit")
	if err != nil || !strings.Contains(out, "ACTION") || strings.Count(out, "\n") < 4 {
		t.Errorf("audit table = %q, %v; want a header and the 3 rows", out, err)
	}
}

// testMasterKey is a master key of the key store, for tests: 32 bytes in
// base64.
const testMasterKey = "dGVzdC1tYXN0ZXIta2V5LW9mLXRoZS1rZXktc3RvcmU="

// keys reencrypt seals every stored value under the current master key,
// and leaves and counts those under a key it does not hold.
func TestKeysReencrypt(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	const newKey = "bmV3LW1hc3Rlci1rZXktb2YtdGhlLWtleS1zdG9yZSE="
	const foreignKey = "Zm9yZWlnbi1tYXN0ZXIta2V5LW9mLXRoZS1zdG9yZSE="
	owner := env.Seller(t, "approved")
	env.Show(t, owner, true)
	env.Show(t, owner, true)
	foreign := env.Show(t, owner, true)
	old := env.Getenv(map[string]string{"STREAM_KEY_ENCRYPTION_KEY": testMasterKey, "STREAM_KEY_ENCRYPTION_KEY_ID": "old"})
	if out, err := runCmd(t, old, "provision", "--all"); err != nil {
		t.Fatalf("provision --all = %q, %v", out, err)
	}
	// The third show's key and channel, as a replica holding another key
	// would have stored them.
	other := env.Getenv(map[string]string{"STREAM_KEY_ENCRYPTION_KEY": foreignKey, "STREAM_KEY_ENCRYPTION_KEY_ID": "foreign"})
	pgtest.Exec(t, env.DatabaseURL, `UPDATE ivs_ingest.stream_keys SET sealed_value = NULL, sealed_key_id = NULL
		WHERE key_arn = (SELECT ivs_stream_key_arn FROM public.shows WHERE id = $1)`, foreign.ID)
	pgtest.Exec(t, env.DatabaseURL, `DELETE FROM ivs_ingest.channels WHERE channel_arn = $1`, foreign.ChannelARN)
	pgtest.Exec(t, env.DatabaseURL, `UPDATE public.shows SET ivs_stream_key_arn = NULL WHERE id = $1`, foreign.ID)
	if out, err := runCmd(t, other, "provision", "--show", foreign.ID); err != nil {
		t.Fatalf("provision --show under the foreign key = %q, %v", out, err)
	}

	rotated := env.Getenv(map[string]string{"STREAM_KEY_ENCRYPTION_KEY": newKey, "STREAM_KEY_ENCRYPTION_KEY_ID": "new",
		"STREAM_KEY_DECRYPTION_KEYS": "old:" + testMasterKey})
	out, err := runCmd(t, rotated, "keys", "reencrypt")
	if err != nil || !strings.Contains(out, `4 sealed again under master key "new", 0 already were`) || !strings.Contains(out, "2 left as they are") {
		t.Errorf("keys reencrypt = %q, %v; want the 2 keys and 2 channels sealed again, the foreign key and channel left", out, err)
	}
	if !queryBool(t, env.DatabaseURL, `SELECT count(*) = 2 FROM ivs_ingest.stream_keys WHERE sealed_key_id = 'new'`) {
		t.Error("keys sealed under the new master key: not 2")
	}
	out, err = runCmd(t, rotated, "keys", "reencrypt")
	if err != nil || !strings.Contains(out, `0 sealed again under master key "new", 4 already were`) {
		t.Errorf("keys reencrypt again = %q, %v; want nothing to do", out, err)
	}
	if strings.Contains(out, testMasterKey) || strings.Contains(out, newKey) {
		t.Error("keys reencrypt printed a master key")
	}
	if _, err := runCmd(t, env.Getenv(nil), "keys", "reencrypt"); err == nil || !strings.Contains(err.Error(), "STREAM_KEY_ENCRYPTION_KEY") {
		t.Errorf("keys reencrypt without a key store = %v, want an error naming STREAM_KEY_ENCRYPTION_KEY", err)
	}
	if _, err := runCmd(t, rotated, "keys"); !errors.Is(err, errUsage) {
		t.Errorf("keys without a subcommand = %v, want a usage error", err)
	}
}
