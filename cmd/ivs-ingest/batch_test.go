package main

import (
	"bufio"
	"context"
	"encoding/json"
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
