package main

import (
	"context"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

func TestFormatProgress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    ingest.Progress
		want string
	}{
		{ingest.Progress{Total: 1234}, "provision: 0/1234 shows (0 created, 0 kept, 0 failed)"},
		{ingest.Progress{Total: 1234, Done: 118, Kept: 1, Failed: 1, Elapsed: 90 * time.Second, BudgetWait: 253 * time.Millisecond},
			"provision: 120/1234 shows (118 created, 1 kept, 1 failed), 1.3 shows/s, IVS budget wait 250ms, ETA 13m56s"},
		{ingest.Progress{Total: 2, Done: 2, Elapsed: 4 * time.Second}, "provision: 2/2 shows (2 created, 0 kept, 0 failed), 0.5 shows/s, IVS budget wait 0s, ETA 0s"},
	}
	for _, tt := range tests {
		if got := formatProgress("provision", showWords("created"), tt.p); got != tt.want {
			t.Errorf("formatProgress(%+v) = %q, want %q", tt.p, got, tt.want)
		}
	}
	// keys reencrypt calls no IVS API: no budget wait.
	reencrypt := []struct {
		p    ingest.Progress
		want string
	}{
		{ingest.Progress{Total: 1234}, "keys reencrypt: 0/1234 values (0 sealed again, 0 current, 0 left)"},
		{ingest.Progress{Total: 1234, Done: 118, Kept: 1, Failed: 1, Elapsed: 90 * time.Second},
			"keys reencrypt: 120/1234 values (118 sealed again, 1 current, 1 left), 1.3 values/s, ETA 13m56s"},
		{ingest.Progress{}, "keys reencrypt: 0/0 values (0 sealed again, 0 current, 0 left), ETA 0s"},
	}
	for _, tt := range reencrypt {
		if got := formatProgress("keys reencrypt", reencryptWords, tt.p); got != tt.want {
			t.Errorf("formatProgress(keys reencrypt, %+v) = %q, want %q", tt.p, got, tt.want)
		}
	}
}

// stepClock is a clock that moves step ahead each time it is read.
type stepClock struct {
	now  time.Time
	step time.Duration
}

func (c *stepClock) Now() time.Time {
	t := c.now
	c.now = c.now.Add(c.step)
	return t
}

// provisionWorld is a database with n shows whose channels have no key,
// and the domain over it.
func provisionWorld(t *testing.T, n int) (*testenv.Env, func(context.Context, ingest.BatchOptions) (ingest.BatchResult, error)) {
	t.Helper()
	env := testenv.New(t, testenv.Options{})
	owner := env.Seller(t, "approved")
	for range n {
		env.Show(t, owner, true)
	}
	d, err := openDomain(context.Background(), env.Getenv(nil), io.Discard)
	if err != nil {
		t.Fatalf("openDomain: %v", err)
	}
	t.Cleanup(d.Close)
	return env, func(ctx context.Context, opts ingest.BatchOptions) (ingest.BatchResult, error) {
		return d.Service.Provision(ctx, nil, opts)
	}
}

// progressLine is a progress line of provision, with its counts captured.
var progressLine = regexp.MustCompile(`^provision: (\d+)/5 shows \((\d+) created, 0 kept, 0 failed\)`)

// Off a terminal (a log, cron), a line at most every interval, and the
// first and the last; the summary goes to stdout.
func TestProgressLines(t *testing.T) {
	t.Parallel()
	_, provision := provisionWorld(t, 5)
	var stderr, stdout strings.Builder
	clock := &stepClock{now: time.Now(), step: 2 * time.Second}
	pp := &progressPrinter{w: &stderr, name: "provision", words: showWords("created"), every: 5 * time.Second, now: clock.Now}
	if err := runBatch(context.Background(), &stdout, pp, provision); err != nil {
		t.Fatalf("runBatch: %v", err)
	}
	// Reports at 0s, 2s, 4s, 6s, 8s, 10s: printed at 0s, 6s (5s after the
	// last line) and 10s (the last).
	var handled []string
	for _, line := range strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n") {
		m := progressLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("progress line %q is not provision's progress", line)
		}
		handled = append(handled, m[1])
	}
	if got := strings.Join(handled, ","); got != "0,3,5" {
		t.Errorf("progress lines at %s shows handled, want 0,3,5:\n%s", got, stderr.String())
	}
	if strings.Contains(stderr.String(), "\r") {
		t.Errorf("progress lines for a log carry a carriage return: %q", stderr.String())
	}
	if !strings.Contains(stdout.String(), "5 created, 0 kept, 0 failed\n") {
		t.Errorf("stdout = %q, want the summary", stdout.String())
	}
}

// On a terminal, one line rewritten in place after each show, ended by a
// newline before the summary.
func TestProgressLive(t *testing.T) {
	t.Parallel()
	_, provision := provisionWorld(t, 5)
	var stderr, stdout strings.Builder
	pp := &progressPrinter{w: &stderr, name: "provision", words: showWords("created"), live: true, every: time.Hour, now: time.Now}
	if err := runBatch(context.Background(), &stdout, pp, provision); err != nil {
		t.Fatalf("runBatch: %v", err)
	}
	out := stderr.String()
	if !strings.HasPrefix(out, "\r") || !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("live progress = %q, want carriage-return lines ended by one newline", out)
	}
	frames := strings.Split(strings.TrimPrefix(strings.TrimSuffix(out, "\n"), "\r"), "\r")
	if len(frames) != 6 {
		t.Fatalf("live progress has %d frames, want 6 (before the first show and after each): %q", len(frames), out)
	}
	for i, f := range frames {
		m := progressLine.FindStringSubmatch(f)
		if m == nil || m[1] != m[2] || m[1] != string(rune('0'+i)) {
			t.Errorf("frame %d = %q, want %d/5 shows handled", i, f, i)
		}
		// A shorter line is padded over the longer one before it.
		if i > 0 && len(f) < len(strings.TrimRight(frames[i-1], " ")) {
			t.Errorf("frame %d (%q) does not cover frame %d (%q)", i, f, i-1, frames[i-1])
		}
	}
	if !strings.Contains(frames[5], "ETA 0s") {
		t.Errorf("the last frame = %q, want ETA 0s", frames[5])
	}
}

// Interrupted (Ctrl-C cancels the command's context) after two of five
// shows: the batch stops, the progress says where it stood, the summary is
// still printed, and the command fails.
func TestProgressOnInterrupt(t *testing.T) {
	t.Parallel()
	env, provision := provisionWorld(t, 5)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interrupted := func(ctx context.Context, opts ingest.BatchOptions) (ingest.BatchResult, error) {
		report := opts.Progress
		opts.Progress = func(p ingest.Progress) {
			report(p)
			if p.Handled() == 2 {
				cancel() // the operator's Ctrl-C
			}
		}
		return provision(ctx, opts)
	}
	var stderr, stdout strings.Builder
	pp := &progressPrinter{w: &stderr, name: "provision", words: showWords("created"), every: time.Hour, now: time.Now}
	err := runBatch(ctx, &stdout, pp, interrupted)
	if !errors.Is(err, ingest.ErrInterrupted) || exitCode(err) != 1 {
		t.Errorf("runBatch = %v (exit %d), want ErrInterrupted, exit 1", err, exitCode(err))
	}
	if err != nil && !strings.Contains(err.Error(), "after 2 of 5 shows") {
		t.Errorf("the error %q does not say how far the batch got", err)
	}
	for _, want := range []string{"2 created, 0 kept, 0 failed\n", "stopped early: 3 of 5 shows not handled\n"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout = %q, want %q", stdout.String(), want)
		}
	}
	// The first line, the notice that the interruption was heard, then
	// (held back by the interval) where it stopped.
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "provision: 0/5 shows") ||
		lines[1] != "provision: interrupted: finishing the show in hand, then stopping" ||
		!strings.HasPrefix(lines[2], "provision: 2/5 shows (2 created") {
		t.Errorf("progress = %q, want the first line, the notice, and the line where it stopped", stderr.String())
	}
	if n := env.Emulator.Succeeded("CreateStreamKey"); n != 2 {
		t.Errorf("CreateStreamKey succeeded %d times, want 2", n)
	}
}

// The commands take --progress and --progress-interval, and print their
// progress to stderr, the summary to stdout.
func TestBatchCommandsPrintProgress(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	getenv := env.Getenv(map[string]string{"STREAM_KEY_MAX_AGE": "1h"})
	owner := env.Seller(t, "approved")
	env.Show(t, owner, true)
	env.Show(t, owner, true)
	command := func(args ...string) (stdout, stderr string, err error) {
		var out, errs strings.Builder
		err = run(context.Background(), args, getenv, &out, &errs)
		return out.String(), errs.String(), err
	}

	out, errs, err := command("provision", "--all", "--progress", "lines")
	if err != nil || !strings.Contains(out, "2 created, 0 kept, 0 failed") {
		t.Fatalf("provision --all = %q, %v", out, err)
	}
	if !strings.Contains(errs, "provision: 0/2 shows") || !strings.Contains(errs, "provision: 2/2 shows (2 created, 0 kept, 0 failed)") {
		t.Errorf("provision --all's stderr = %q, want its first and last progress lines", errs)
	}
	if strings.Contains(out, "shows/s") {
		t.Errorf("stdout carries progress: %q", out)
	}
	_, errs, err = command("rotate-expired", "--progress", "off")
	if err != nil || strings.Contains(errs, "rotate-expired:") {
		t.Errorf("rotate-expired --progress off = %v, stderr %q; want no progress", err, errs)
	}
	_, errs, err = command("rotate-expired", "--progress=lines", "--progress-interval=1m")
	if err != nil || !strings.Contains(errs, "rotate-expired: 0/0 shows (0 rotated, 0 kept, 0 failed)") {
		t.Errorf("rotate-expired with nothing expired = %v, stderr %q; want one line of 0/0", err, errs)
	}
	for _, args := range [][]string{
		{"provision", "--all", "--progress", "fancy"},
		{"rotate-expired", "--progress-interval", "0s"},
	} {
		if _, _, err := command(args...); exitCode(err) != 2 {
			t.Errorf("%v = %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
}

// Master keys of the key store, for tests: 32 bytes each, in base64.
const (
	oldMasterKey = "b2xkLW1hc3Rlci1rZXktb2YtdGhlLWtleS1zdG9yZSE="
	newMasterKey = "bmV3LW1hc3Rlci1rZXktb2YtdGhlLWtleS1zdG9yZSE="
)

// reencryptWorld is a database whose n shows stored their keys and
// channels (2n values) under master key "old", and keys reencrypt's domain
// call over it with "new" as the current key; rotated is its environment.
func reencryptWorld(t *testing.T, n int) (env *testenv.Env, rotated func(string) string,
	reencrypt func(context.Context, ingest.BatchOptions) (ingest.ReencryptResult, error)) {
	t.Helper()
	env = testenv.New(t, testenv.Options{})
	owner := env.Seller(t, "approved")
	for range n {
		env.Show(t, owner, true)
	}
	old := env.Getenv(map[string]string{"STREAM_KEY_ENCRYPTION_KEY": oldMasterKey, "STREAM_KEY_ENCRYPTION_KEY_ID": "old"})
	if out, err := runCmd(t, old, "provision", "--all"); err != nil {
		t.Fatalf("provision --all under the old key = %q, %v", out, err)
	}
	rotated = env.Getenv(map[string]string{"STREAM_KEY_ENCRYPTION_KEY": newMasterKey, "STREAM_KEY_ENCRYPTION_KEY_ID": "new",
		"STREAM_KEY_DECRYPTION_KEYS": "old:" + oldMasterKey})
	d, err := openDomain(context.Background(), rotated, io.Discard)
	if err != nil {
		t.Fatalf("openDomain: %v", err)
	}
	t.Cleanup(d.Close)
	return env, rotated, d.Service.Reencrypt
}

// sealedUnderNew counts the stored values sealed under master key "new".
func sealedUnderNew(t *testing.T, env *testenv.Env, want int) bool {
	t.Helper()
	return queryBool(t, env.DatabaseURL, `SELECT (SELECT count(*) FROM ivs_ingest.stream_keys WHERE sealed_key_id = 'new')
		+ (SELECT count(*) FROM ivs_ingest.channels WHERE sealed_key_id = 'new') = $1`, want)
}

// reencryptLine is a progress line of keys reencrypt over 6 values, with
// its counts captured.
var reencryptLine = regexp.MustCompile(`^keys reencrypt: (\d+)/6 values \((\d+) sealed again, 0 current, 0 left\)`)

// keys reencrypt's progress off a terminal: a line at most every interval,
// the first and the last, without a budget wait (it calls no IVS API); the
// summary goes to stdout.
func TestReencryptProgressLines(t *testing.T) {
	t.Parallel()
	env, _, reencrypt := reencryptWorld(t, 3)
	var stderr, stdout strings.Builder
	clock := &stepClock{now: time.Now(), step: 2 * time.Second}
	pp := &progressPrinter{w: &stderr, name: "keys reencrypt", words: reencryptWords, every: 5 * time.Second, now: clock.Now}
	if err := runReencrypt(context.Background(), &stdout, pp, "new", reencrypt); err != nil {
		t.Fatalf("runReencrypt: %v", err)
	}
	// Reports at 0s, 2s, ... 12s: printed at 0s, 6s and 12s (the last).
	var handled []string
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	for _, line := range lines {
		m := reencryptLine.FindStringSubmatch(line)
		if m == nil || m[1] != m[2] {
			t.Fatalf("progress line %q is not keys reencrypt's progress", line)
		}
		handled = append(handled, m[1])
	}
	if got := strings.Join(handled, ","); got != "0,3,6" {
		t.Errorf("progress lines at %s values handled, want 0,3,6:\n%s", got, stderr.String())
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, " values/s, ETA 0s") || strings.Contains(stderr.String(), "budget") {
		t.Errorf("the last line = %q, want a rate and ETA 0s, and no IVS budget wait", last)
	}
	if strings.Contains(stderr.String(), "\r") {
		t.Errorf("progress lines for a log carry a carriage return: %q", stderr.String())
	}
	if !strings.Contains(stdout.String(), `6 sealed again under master key "new", 0 already were`) {
		t.Errorf("stdout = %q, want the summary", stdout.String())
	}
	if !sealedUnderNew(t, env, 6) {
		t.Error("values sealed under the new key: not 6")
	}
}

// keys reencrypt's progress on a terminal: one line rewritten in place
// after each value, ended by a newline.
func TestReencryptProgressLive(t *testing.T) {
	t.Parallel()
	_, _, reencrypt := reencryptWorld(t, 3)
	var stderr, stdout strings.Builder
	pp := &progressPrinter{w: &stderr, name: "keys reencrypt", words: reencryptWords, live: true, every: time.Hour, now: time.Now}
	if err := runReencrypt(context.Background(), &stdout, pp, "new", reencrypt); err != nil {
		t.Fatalf("runReencrypt: %v", err)
	}
	out := stderr.String()
	if !strings.HasPrefix(out, "\r") || !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("live progress = %q, want carriage-return lines ended by one newline", out)
	}
	frames := strings.Split(strings.TrimPrefix(strings.TrimSuffix(out, "\n"), "\r"), "\r")
	if len(frames) != 7 {
		t.Fatalf("live progress has %d frames, want 7 (before the first value and after each): %q", len(frames), out)
	}
	for i, f := range frames {
		if m := reencryptLine.FindStringSubmatch(f); m == nil || m[1] != m[2] || m[1] != strconv.Itoa(i) {
			t.Errorf("frame %d = %q, want %d/6 values handled", i, f, i)
		}
	}
	if !strings.Contains(frames[6], "ETA 0s") {
		t.Errorf("the last frame = %q, want ETA 0s", frames[6])
	}
}

// Interrupted (Ctrl-C cancels the command's context) after two of six
// values: keys reencrypt stops, the progress says where, the summary says
// what was done and what was not, and the command fails.
func TestReencryptProgressOnInterrupt(t *testing.T) {
	t.Parallel()
	env, _, reencrypt := reencryptWorld(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interrupted := func(ctx context.Context, opts ingest.BatchOptions) (ingest.ReencryptResult, error) {
		report := opts.Progress
		opts.Progress = func(p ingest.Progress) {
			report(p)
			if p.Handled() == 2 {
				cancel() // the operator's Ctrl-C
			}
		}
		return reencrypt(ctx, opts)
	}
	var stderr, stdout strings.Builder
	pp := &progressPrinter{w: &stderr, name: "keys reencrypt", words: reencryptWords, every: time.Hour, now: time.Now}
	err := runReencrypt(ctx, &stdout, pp, "new", interrupted)
	if !errors.Is(err, ingest.ErrInterrupted) || exitCode(err) != 1 {
		t.Errorf("runReencrypt = %v (exit %d), want ErrInterrupted, exit 1", err, exitCode(err))
	}
	if err != nil && !strings.Contains(err.Error(), "after 2 of 6 stored values") {
		t.Errorf("the error %q does not say how far it got", err)
	}
	for _, want := range []string{`2 sealed again under master key "new", 0 already were` + "\n",
		"stopped early: 4 of 6 stored values not handled (run it again)\n"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout = %q, want %q", stdout.String(), want)
		}
	}
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "keys reencrypt: 0/6 values") ||
		lines[1] != "keys reencrypt: interrupted: finishing the value in hand, then stopping" ||
		!strings.HasPrefix(lines[2], "keys reencrypt: 2/6 values (2 sealed again") {
		t.Errorf("progress = %q, want the first line, the notice, and the line where it stopped", stderr.String())
	}
	if !sealedUnderNew(t, env, 2) {
		t.Error("values sealed under the new key after the interruption: not 2")
	}
}

// keys reencrypt takes --progress and --progress-interval, and prints its
// progress to stderr, its summary to stdout.
func TestKeysReencryptPrintsProgress(t *testing.T) {
	t.Parallel()
	_, rotated, _ := reencryptWorld(t, 2)
	command := func(args ...string) (stdout, stderr string, err error) {
		var out, errs strings.Builder
		err = run(context.Background(), args, rotated, &out, &errs)
		return out.String(), errs.String(), err
	}
	out, errs, err := command("keys", "reencrypt", "--progress", "lines")
	if err != nil || !strings.Contains(out, `4 sealed again under master key "new"`) {
		t.Fatalf("keys reencrypt --progress lines = %q, %v", out, err)
	}
	if !strings.Contains(errs, "keys reencrypt: 0/4 values (0 sealed again, 0 current, 0 left)\n") ||
		!strings.Contains(errs, "keys reencrypt: 4/4 values (4 sealed again, 0 current, 0 left), ") {
		t.Errorf("keys reencrypt's stderr = %q, want its first and last progress lines", errs)
	}
	if strings.Contains(out, "values/s") {
		t.Errorf("stdout carries progress: %q", out)
	}
	_, errs, err = command("keys", "reencrypt", "--progress=off")
	if err != nil || strings.Contains(errs, "keys reencrypt:") {
		t.Errorf("keys reencrypt --progress=off = %v, stderr %q; want no progress", err, errs)
	}
	for _, args := range [][]string{
		{"keys", "reencrypt", "--progress", "fancy"},
		{"keys", "reencrypt", "--progress-interval", "0s"},
	} {
		if _, _, err := command(args...); exitCode(err) != 2 {
			t.Errorf("%v = %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
}
