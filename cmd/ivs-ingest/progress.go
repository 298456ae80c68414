package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// How a batch command shows its progress (--progress).
const (
	progressAuto  = "auto"  // live on a terminal, lines otherwise
	progressLive  = "live"  // one line rewritten in place
	progressLines = "lines" // a line every --progress-interval, for logs and cron
	progressOff   = "off"
)

// defaultProgressInterval is how often a batch command's progress is
// printed as lines: often enough that a log shows the run alive, seldom
// enough that an hour's run stays readable.
const defaultProgressInterval = 5 * time.Second

// progressFlags are a batch command's progress flags.
type progressFlags struct {
	mode  *string
	every *time.Duration
}

func addProgressFlags(fs *flag.FlagSet) progressFlags {
	return progressFlags{
		mode: fs.String("progress", progressAuto,
			"how to show progress on stderr: auto (live on a terminal, lines otherwise), live, lines or off"),
		every: fs.Duration("progress-interval", defaultProgressInterval, "with lines, at most one line this often (and the first and last)"),
	}
}

// batchWords are what a batch command's progress and summary call its
// items and what came of them.
type batchWords struct {
	one, many          string // an item, items: "show", "shows"
	done, kept, failed string // what ingest.Progress's Done, Kept and Failed count: "created", "kept", "failed"
	ivs                bool   // the batch calls IVS: its progress shows the budget wait
}

// showWords are the words of a batch over shows whose Done counts done
// ("created", "rotated").
func showWords(done string) batchWords {
	return batchWords{one: "show", many: "shows", done: done, kept: "kept", failed: "failed", ivs: true}
}

// reencryptWords are keys reencrypt's: it goes over stored values, and
// calls no IVS API, so there is no budget wait to show.
var reencryptWords = batchWords{one: "value", many: "values", done: "sealed again", kept: "current", failed: "left"}

// printer returns the progress printer the flags ask for, on w (the
// command's stderr) and the clock now; name starts each line and words
// say what the batch handles and counts.
func (f progressFlags) printer(w io.Writer, name string, words batchWords, now func() time.Time) (*progressPrinter, error) {
	p := &progressPrinter{w: w, name: name, words: words, every: *f.every, now: now}
	switch *f.mode {
	case progressAuto:
		p.live = isTerminal(w)
	case progressLive:
		p.live = true
	case progressLines:
	case progressOff:
		p.w = io.Discard
	default:
		return nil, fmt.Errorf("%w: --progress must be auto, live, lines or off", errUsage)
	}
	if *f.every <= 0 {
		return nil, fmt.Errorf("%w: --progress-interval must be positive", errUsage)
	}
	return p, nil
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressPrinter prints a batch command's progress reports. On a terminal
// it keeps one line, rewritten in place after each item (a carriage return,
// then the line padded over the previous one). Elsewhere (a log, cron's
// mail) it prints a line at most every interval, the first report's and the
// last's always, so a long run shows it is alive without a line per item.
type progressPrinter struct {
	w     io.Writer
	name  string
	words batchWords
	live  bool
	every time.Duration
	now   func() time.Time

	mu        sync.Mutex       // the notice of an interruption comes from another goroutine
	printedAt time.Time        // when the last line was printed; zero: none yet
	width     int              // of the live line on screen; 0: none
	pending   *ingest.Progress // a report not printed yet (lines)
}

// report prints p as the printer's mode says. It is the batch's
// ingest.BatchOptions.Progress.
func (pp *progressPrinter) report(p ingest.Progress) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	line := formatProgress(pp.name, pp.words, p)
	if pp.live {
		fmt.Fprintf(pp.w, "\r%s%s", line, strings.Repeat(" ", max(pp.width-len(line), 0)))
		pp.width = len(line)
		return
	}
	now := pp.now()
	if !pp.printedAt.IsZero() && now.Sub(pp.printedAt) < pp.every && p.Handled() < p.Total {
		pp.pending = &p
		return
	}
	fmt.Fprintln(pp.w, line)
	pp.printedAt, pp.pending = now, nil
}

// end closes the progress: the live line ends with a newline, so that what
// follows starts on a line of its own, and a report held back (an
// interrupted run's last) is printed.
func (pp *progressPrinter) end() {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pp.endLine()
	if pp.pending != nil {
		fmt.Fprintln(pp.w, formatProgress(pp.name, pp.words, *pp.pending))
		pp.pending = nil
	}
}

// interrupted says at once that the interruption was heard: the batch stops
// only once the item in hand is done, which may take a while.
func (pp *progressPrinter) interrupted() {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pp.endLine()
	fmt.Fprintf(pp.w, "%s: interrupted: finishing the %s in hand, then stopping\n", pp.name, pp.words.one)
}

// endLine ends the live line on screen, if any.
func (pp *progressPrinter) endLine() {
	if pp.width > 0 {
		fmt.Fprintln(pp.w)
		pp.width = 0
	}
}

// formatProgress is p as one line, such as
// "provision: 120/1234 shows (118 created, 1 kept, 1 failed), 1.3 shows/s, IVS budget wait 0.25s, ETA 14m17s"
// or, for a batch that calls no IVS API,
// "keys reencrypt: 120/1234 values (118 sealed again, 1 current, 1 left), 480.0 values/s, ETA 2s".
func formatProgress(name string, words batchWords, p ingest.Progress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d/%d %s (%d %s, %d %s, %d %s)", name, p.Handled(), p.Total, words.many,
		p.Done, words.done, p.Kept, words.kept, p.Failed, words.failed)
	if p.Handled() > 0 {
		fmt.Fprintf(&b, ", %.1f %s/s", p.Rate(), words.many)
		if words.ivs {
			fmt.Fprintf(&b, ", IVS budget wait %s", p.BudgetWait.Round(10*time.Millisecond))
		}
	}
	if eta, ok := p.ETA(); ok {
		fmt.Fprintf(&b, ", ETA %s", eta.Round(time.Second))
	}
	return b.String()
}
