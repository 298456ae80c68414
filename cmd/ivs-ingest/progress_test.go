package main

import (
	"context"
	"errors"
	"io"
	"regexp"
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
		if got := formatProgress("provision", "created", tt.p); got != tt.want {
			t.Errorf("formatProgress(%+v) = %q, want %q", tt.p, got, tt.want)
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
	pp := &progressPrinter{w: &stderr, name: "provision", verb: "created", every: 5 * time.Second, now: clock.Now}
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
	pp := &progressPrinter{w: &stderr, name: "provision", verb: "created", live: true, every: time.Hour, now: time.Now}
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
	pp := &progressPrinter{w: &stderr, name: "provision", verb: "created", every: time.Hour, now: time.Now}
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
