package ivsemu

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
)

func TestPersistenceRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "ivs-state.json")
	withState := func(c *Config) { c.StateFile = path }

	emu1, url1 := startEmulator(t, withState, nil)
	client1 := newClient(url1)
	ctx := context.Background()
	created, err := client1.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("persisted"),
		LatencyMode: "NORMAL", Tags: map[string]string{"show": "7"}})
	if err != nil {
		t.Fatal(err)
	}
	seeded, err := emu1.CreateChannel("seeded")
	if err != nil {
		t.Fatal(err)
	}
	doomed, err := emu1.CreateChannel("doomed")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client1.DeleteChannel(ctx, &ivs.DeleteChannelInput{Arn: &doomed.ARN}); err != nil {
		t.Fatal(err)
	}
	// Rotate the seeded channel's key.
	if _, err := client1.DeleteStreamKey(ctx, &ivs.DeleteStreamKeyInput{Arn: &seeded.StreamKey.ARN}); err != nil {
		t.Fatal(err)
	}
	rotated, err := client1.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: &seeded.ARN})
	if err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("state file: %v", err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("state file mode = %v, want 0600", mode)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("state directory holds %d entries, want only the state file (no temporary files)", len(entries))
	}

	// A second emulator on the same file sees the same channels and keys.
	_, url2 := startEmulator(t, withState, nil)
	client2 := newClient(url2)
	got, err := client2.GetChannel(ctx, &ivs.GetChannelInput{Arn: created.Channel.Arn})
	if err != nil {
		t.Fatalf("GetChannel after reload = %v", err)
	}
	c := got.Channel
	if *c.PlaybackUrl != *created.Channel.PlaybackUrl || *c.Srt.Passphrase != *created.Channel.Srt.Passphrase ||
		c.LatencyMode != "NORMAL" || c.Tags["show"] != "7" {
		t.Errorf("GetChannel after reload = %+v, want %+v", *c, *created.Channel)
	}
	keys, err := client2.BatchGetStreamKey(ctx, &ivs.BatchGetStreamKeyInput{Arns: []string{
		*created.StreamKey.Arn, *rotated.StreamKey.Arn, seeded.StreamKey.ARN, doomed.StreamKey.ARN}})
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{}
	for _, k := range keys.StreamKeys {
		values[*k.Arn] = *k.Value
	}
	if len(values) != 2 || values[*created.StreamKey.Arn] != *created.StreamKey.Value || values[*rotated.StreamKey.Arn] != *rotated.StreamKey.Value {
		t.Errorf("after reload: %d keys found, want the 2 live keys with their values", len(values))
	}
	if len(keys.Errors) != 2 {
		t.Errorf("after reload: %d missing keys, want 2 (the rotated-out key and the deleted channel's key)", len(keys.Errors))
	}
	if _, err := client2.GetChannel(ctx, &ivs.GetChannelInput{Arn: &doomed.ARN}); errorCode(err) != "ResourceNotFoundException" {
		t.Errorf("GetChannel(deleted) after reload = %v, want ResourceNotFoundException", err)
	}
	// The one-key quota holds across the reload.
	if _, err := client2.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: &seeded.ARN}); errorCode(err) != "ServiceQuotaExceededException" {
		t.Errorf("CreateStreamKey after reload = %v, want ServiceQuotaExceededException", err)
	}
	// Endpoints keep the account's prefix.
	more, err := client2.CreateChannel(ctx, &ivs.CreateChannelInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *more.Channel.IngestEndpoint != *created.Channel.IngestEndpoint {
		t.Errorf("ingest endpoint after reload = %s, want the account's %s", *more.Channel.IngestEndpoint, *created.Channel.IngestEndpoint)
	}
}

func TestStateFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	emu, err := New(Config{AccessKeyID: "a", SecretAccessKey: "b", Region: testRegion, AccountID: testAccountID, StateFile: good})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := emu.CreateChannel("x"); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(dir, "corrupt.json")
	if err := os.WriteFile(corrupt, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	oldVersion := filepath.Join(dir, "old.json")
	if err := os.WriteFile(oldVersion, []byte(`{"version":0}`), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"missing file is empty", Config{StateFile: filepath.Join(dir, "none.json"), Region: testRegion}, false},
		{"same identity", Config{StateFile: good, Region: testRegion, AccountID: testAccountID}, false},
		{"other region", Config{StateFile: good, Region: "us-west-2", AccountID: testAccountID}, true},
		{"other account", Config{StateFile: good, Region: testRegion}, true},
		{"corrupt", Config{StateFile: corrupt, Region: testRegion}, true},
		{"old version", Config{StateFile: oldVersion, Region: testRegion}, true},
		{"directory missing", Config{StateFile: filepath.Join(dir, "no", "such", "dir", "s.json")}, false},
	}
	for _, tt := range tests {
		tt.cfg.AccessKeyID, tt.cfg.SecretAccessKey = "a", "b"
		_, err := New(tt.cfg)
		if (err != nil) != tt.wantErr {
			t.Errorf("New(%s) = %v, want error %v", tt.name, err, tt.wantErr)
		}
	}

	// A state that cannot be saved fails the mutation and leaves memory as
	// it was, so memory never runs ahead of disk.
	var logs bytes.Buffer
	unsaved, err := New(Config{AccessKeyID: "a", SecretAccessKey: "b",
		StateFile: filepath.Join(dir, "no", "such", "dir", "s.json"),
		Logger:    slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unsaved.CreateChannel("x"); err == nil {
		t.Errorf("CreateChannel with an unwritable state file = nil error")
	}
	if n := len(unsaved.channels); n != 0 {
		t.Errorf("after a failed save: %d channels in memory, want 0", n)
	}
	if !strings.Contains(logs.String(), "save state") {
		t.Errorf("failed save not logged: %q", logs.String())
	}
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"defaults", Config{AccessKeyID: "a", SecretAccessKey: "b"}, false},
		{"no key id", Config{SecretAccessKey: "b"}, true},
		{"no secret", Config{AccessKeyID: "a"}, true},
		{"bad account", Config{AccessKeyID: "a", SecretAccessKey: "b", AccountID: "1234"}, true},
		{"bad region", Config{AccessKeyID: "a", SecretAccessKey: "b", Region: "Mars"}, true},
		{"negative latency", Config{AccessKeyID: "a", SecretAccessKey: "b", Latency: -time.Second}, true},
	}
	for _, tt := range tests {
		emu, err := New(tt.cfg)
		if (err != nil) != tt.wantErr {
			t.Errorf("New(%s) = %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if err == nil && (emu.region != DefaultRegion || emu.accountID != DefaultAccountID) {
			t.Errorf("New(%s): region %q account %q, want the defaults", tt.name, emu.region, emu.accountID)
		}
	}

	emu, err := New(Config{AccessKeyID: "a", SecretAccessKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := emu.CreateChannel("d")
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws:ivs:us-east-1:" + DefaultAccountID + ":channel/"; !strings.HasPrefix(ch.ARN, want) {
		t.Errorf("default ARN = %s, want prefix %s", ch.ARN, want)
	}
	if !strings.HasPrefix(ch.StreamKey.Value, "sk_us-east-1_") {
		t.Errorf("default key value does not name us-east-1")
	}
	if _, err := emu.CreateChannel("bad name"); err == nil {
		t.Errorf("CreateChannel(%q) = nil error", "bad name")
	}
}

func TestConfigRedactsSecrets(t *testing.T) {
	t.Parallel()
	cfg := Config{AccessKeyID: "AKIDVISIBLE", SecretAccessKey: "very-secret-value", SessionToken: "token-value-xyz"}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg)
	outputs := []string{
		fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(cfg), logs.String(),
	}
	for _, out := range outputs {
		if strings.Contains(out, "very-secret-value") || strings.Contains(out, "token-value-xyz") {
			t.Errorf("formatted Config leaks a secret: %s", out)
		}
		if !strings.Contains(out, "AKIDVISIBLE") {
			t.Errorf("formatted Config hides the access key id: %s", out)
		}
	}
}

// TestNoKeyValueInErrors sends stream key values where ARNs belong, and
// provokes every error around keys: no answer may carry a key value.
func TestNoKeyValueInErrors(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil, nil)
	client := newClient(url, noRetries)
	ctx := context.Background()
	ch, err := emu.CreateChannel("secret")
	if err != nil {
		t.Fatal(err)
	}
	value := ch.StreamKey.Value
	missingKey := "arn:aws:ivs:eu-west-1:111122223333:stream-key/GGGGGGGGGGGG"
	emu.FailNext("BatchGetStreamKey", "InternalServerException", 1)

	calls := []struct {
		name string
		call func() error
	}{
		{"GetStreamKey(value)", func() error {
			_, err := client.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: &value})
			return err
		}},
		{"DeleteStreamKey(value)", func() error {
			_, err := client.DeleteStreamKey(ctx, &ivs.DeleteStreamKeyInput{Arn: &value})
			return err
		}},
		{"GetChannel(value)", func() error {
			_, err := client.GetChannel(ctx, &ivs.GetChannelInput{Arn: &value})
			return err
		}},
		{"CreateStreamKey(value)", func() error {
			_, err := client.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: &value})
			return err
		}},
		{"ListChannels(nextToken=value)", func() error {
			_, err := client.ListChannels(ctx, &ivs.ListChannelsInput{NextToken: &value})
			return err
		}},
		{"ListChannels(filterByName=value)", func() error {
			_, err := client.ListChannels(ctx, &ivs.ListChannelsInput{FilterByName: aws.String(value + " ")})
			return err
		}},
		{"BatchGetStreamKey injected", func() error {
			_, err := client.BatchGetStreamKey(ctx, &ivs.BatchGetStreamKeyInput{Arns: []string{ch.StreamKey.ARN}})
			return err
		}},
		{"BatchGetStreamKey([value])", func() error {
			_, err := client.BatchGetStreamKey(ctx, &ivs.BatchGetStreamKeyInput{Arns: []string{value}})
			return err
		}},
		{"CreateStreamKey quota", func() error {
			_, err := client.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: &ch.ARN})
			return err
		}},
		{"GetStreamKey missing", func() error {
			_, err := client.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: &missingKey})
			return err
		}},
	}
	for _, c := range calls {
		err := c.call()
		if err == nil {
			t.Errorf("%s = nil error, want an error", c.name)
			continue
		}
		if strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), value) {
			t.Errorf("%s: error %v contains the stream key value", c.name, err)
		}
	}

	// The same holds for the raw bodies, which the SDK only partly shows.
	for _, body := range []string{`{"arn":"` + value + `"}`, `{"arn":` + value + `}`} {
		resp := do(t, signedRequest(t, url, "GetStreamKey", []byte(body), testCreds(), testRegion, "ivs", time.Now()))
		if resp.status != 400 || strings.Contains(string(resp.body), value) {
			t.Errorf("GetStreamKey(%d-byte body with a key value) = %d %s, want 400 without the value", len(body), resp.status, resp.body)
		}
	}
}
