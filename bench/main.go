// Command bench is ivs-ingest's load benchmark (issue 5). On one machine it
// builds and starts the service binary (`ivs-ingest serve`) against a
// database of its own on a throwaway PostgreSQL cluster, an IVS emulator and
// a JWKS server that it runs in-process, drives it with an in-process load
// generator (one token per seller), drives a floor server that does only the
// work no correct implementation can skip with the same load, and writes
// the figures to BENCHMARKS.md.
//
// Run it with `make bench`, which starts the PostgreSQL cluster
// (scripts/with-postgres) and passes its URL in TEST_DATABASE_URL. A quick
// check: make bench BENCH_FLAGS='-quick'.
//
// Everything it talks to is on 127.0.0.1; every phase is bounded in time
// (and the whole run by -timeout); the child processes it starts are
// stopped when it returns, fails or is interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == floorCommand {
		err = runFloor(ctx, os.Args[2:], os.Stderr)
	} else {
		err = run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	}
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		}
		os.Exit(1)
	}
}

// options are the benchmark's settings, from its flags.
type options struct {
	databaseURL   string
	binary        string
	out           string
	duration      time.Duration
	conns         []int
	sellers       int
	firstFetch    int
	restartFetch  int
	coldRuns      int
	keyStore      bool
	flashSellers  int
	flashWindow   time.Duration
	flashReplicas int
	flashIVSLimit int
	ivsLatency    time.Duration
	ivsRateLimit  int
	maxConns      int
	rateLimitRPM  int
	logLevel      string
	hotIVSBudget  string
	floorAudit    string
	serviceEnv    []string
	timeout       time.Duration
	settleBetween time.Duration
	waitQuiet     time.Duration
	// rounds is how many times each server runs at each level of -conns;
	// the report keeps each server's median run (by req/s).
	rounds int
	// prepared adds a service instance with DATABASE_PREPARED_STATEMENTS=true
	// to the hot runs; smallFloor adds a floor server whose pool is
	// max(4, cores) (0 when off), faster than a pool of 20 on few cores.
	prepared       bool
	smallFloorPool int
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: scripts/with-postgres go run ./bench [flags]   (or: make bench BENCH_FLAGS='...')")
		fs.PrintDefaults()
	}
	conns := fs.String("conns", "1,50,200,1000", "comma-separated concurrent connections of the hot runs")
	fs.StringVar(&o.databaseURL, "database-url", "", "admin URL of a PostgreSQL cluster on 127.0.0.1 (default $TEST_DATABASE_URL, set by scripts/with-postgres); the bench creates and drops a database of its own on it")
	fs.StringVar(&o.binary, "binary", "", "a prebuilt ivs-ingest binary to benchmark instead of building ./cmd/ivs-ingest")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", `file whose generated section gets the results ("" prints them only)`)
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each hot run (service and floor, at each -conns)")
	fs.IntVar(&o.sellers, "sellers", 1000, "approved sellers with one show each (the hot shows)")
	fs.IntVar(&o.firstFetch, "first-fetch", 100, "shows without a stream key, all requested at once in the first-fetch run (0 skips it)")
	fs.IntVar(&o.restartFetch, "restart-fetch", 100, "hot shows (key recorded, not cached) requested at once right after a restart (0 skips it)")
	fs.IntVar(&o.coldRuns, "cold-runs", 5, "service restarts measured for the cold start (0 skips it)")
	fs.BoolVar(&o.keyStore, "key-store", true, "run every instance with a key store (STREAM_KEY_ENCRYPTION_KEY: a random master key made for the run), as deployed; -key-store=false measures the memory-only service")
	fs.IntVar(&o.flashSellers, "flash-sellers", 2000, "sellers of the flash crowd run, whose keys are stored, each requesting once (0 skips it)")
	fs.DurationVar(&o.flashWindow, "flash-window", time.Minute, "the flash crowd's requests are spread evenly over this window")
	fs.IntVar(&o.flashReplicas, "flash-instances", 2, "fresh instances of the flash crowd run, over the same database; request i goes to instance i mod n")
	fs.IntVar(&o.flashIVSLimit, "flash-ivs-rate-limit", 5, "IVS emulator limit in calls per second during the flash crowd run (AWS's quota; 0 = unlimited)")
	fs.DurationVar(&o.ivsLatency, "ivs-latency", 30*time.Millisecond, "latency the IVS emulator adds to every call")
	fs.IntVar(&o.ivsRateLimit, "ivs-rate-limit", 0, "IVS emulator limit in calls per second, all operations (AWS's quota is 5; 0 = unlimited)")
	fs.IntVar(&o.maxConns, "db-max-conns", 20, "DATABASE_MAX_CONNS of the service, and the floor server's pool size")
	fs.IntVar(&o.rateLimitRPM, "rate-limit-rpm", 1_000_000, "RATE_LIMIT_REQUESTS_PER_MINUTE passed to the service, so a per-user limit (once it exists) does not shape the hot runs")
	fs.StringVar(&o.logLevel, "log-level", "warn", "LOG_LEVEL of the service")
	fs.StringVar(&o.hotIVSBudget, "hot-ivs-budget", "1000", "IVS_MAX_CALLS_PER_SECOND of the service instance of the hot runs, raised so that its warm-up pass (a few IVS calls per show) takes seconds; hot requests make no IVS call, which the emulator checks. The first-fetch and cold-start instances keep the service's default (or -env)")
	fs.StringVar(&o.floorAudit, "floor-audit", "auto", `whether the floor server inserts one audit row per request: "on", "off", or "auto" (on when the migrated database has the service's audit trail, ivs_ingest.audit_log)`)
	fs.Func("env", "KEY=VALUE added to the service's environment (repeatable; overrides the bench's own settings), e.g. -env GOGC=200", func(s string) error {
		if k, _, ok := strings.Cut(s, "="); !ok || k == "" {
			return fmt.Errorf("%q is not KEY=VALUE", s)
		}
		o.serviceEnv = append(o.serviceEnv, s)
		return nil
	})
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "bound on the whole benchmark")
	fs.IntVar(&o.rounds, "rounds", 3, "hot runs of each server at each level of -conns, interleaved; the report keeps each server's median run by req/s")
	fs.BoolVar(&o.prepared, "prepared", true, "also run the hot runs against an instance with DATABASE_PREPARED_STATEMENTS=true")
	smallFloor := fs.Bool("floor-small-pool", true, fmt.Sprintf("also run the hot runs against a floor server whose pool is max(4, cores) = %d connections", max(4, runtime.NumCPU())))
	fs.DurationVar(&o.settleBetween, "settle", time.Second, "pause between runs, so one run's connections and garbage do not weigh on the next")
	fs.DurationVar(&o.waitQuiet, "wait-quiet", time.Minute, "before measuring, wait up to this long for a second in which other processes use under 10 % of the machine's CPU (0 to skip)")
	quick := fs.Bool("quick", false, "a quick check that every phase works, in about two minutes: the settings of quickFlags for every flag not given")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if *quick {
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		for name, value := range quickFlags {
			if !given[name] {
				if err := fs.Set(name, value); err != nil {
					return o, err
				}
			}
		}
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *smallFloor {
		o.smallFloorPool = max(4, runtime.NumCPU())
	}
	for _, s := range strings.Split(*conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > maxConcurrency {
			return o, fmt.Errorf("-conns: %q is not a whole number from 1 to %d", s, maxConcurrency)
		}
		o.conns = append(o.conns, n)
	}
	switch {
	case o.duration <= 0 || o.duration > 5*time.Minute:
		return o, errors.New("-duration must be positive and at most 5m")
	case o.sellers < 1 || o.sellers > 100_000:
		return o, errors.New("-sellers must be from 1 to 100000")
	case o.firstFetch < 0 || o.firstFetch > 10_000 || o.restartFetch < 0 || o.restartFetch > 10_000:
		return o, errors.New("-first-fetch and -restart-fetch must be from 0 to 10000")
	case o.coldRuns < 0 || o.coldRuns > 100:
		return o, errors.New("-cold-runs must be from 0 to 100")
	case o.flashSellers < 0 || o.flashSellers > 100_000:
		return o, errors.New("-flash-sellers must be from 0 to 100000")
	case o.flashWindow <= 0 || o.flashWindow > 5*time.Minute:
		return o, errors.New("-flash-window must be positive and at most 5m")
	case o.flashReplicas < 1 || o.flashReplicas > 16:
		return o, errors.New("-flash-instances must be from 1 to 16")
	case o.flashIVSLimit < 0:
		return o, errors.New("-flash-ivs-rate-limit must not be negative")
	case o.ivsLatency < 0 || o.ivsRateLimit < 0:
		return o, errors.New("-ivs-latency and -ivs-rate-limit must not be negative")
	case o.maxConns < 2 || o.maxConns > 1000:
		return o, errors.New("-db-max-conns must be from 2 to 1000")
	case o.floorAudit != "auto" && o.floorAudit != "on" && o.floorAudit != "off":
		return o, errors.New(`-floor-audit must be "auto", "on" or "off"`)
	case o.waitQuiet < 0 || o.waitQuiet > 10*time.Minute:
		return o, errors.New("-wait-quiet must be from 0 to 10m")
	case o.rounds < 1 || o.rounds > 9:
		return o, errors.New("-rounds must be from 1 to 9")
	case o.timeout <= 0:
		return o, errors.New("-timeout must be positive")
	}
	return o, nil
}

// quickFlags are -quick's settings: every phase, briefly, once.
var quickFlags = map[string]string{
	"duration": "2s", "sellers": "200", "conns": "1,200,1000", "rounds": "1", "first-fetch": "10", "restart-fetch": "10",
	"cold-runs": "2", "flash-sellers": "100", "flash-window": "5s", "wait-quiet": "5s", "timeout": "9m",
}

// maxConcurrency bounds -conns: each connection is a goroutine and a socket
// in the bench and in the server under test.
const maxConcurrency = 5000

// run is the whole benchmark; main only supplies the process's environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	logf := func(format string, a ...any) {
		fmt.Fprintf(stderr, "bench %6.1fs  %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, a...))
	}

	adminURL := o.databaseURL
	if adminURL == "" {
		adminURL = getenv("TEST_DATABASE_URL")
	}
	if adminURL == "" {
		return errors.New("no database: run `make bench`, which starts a throwaway PostgreSQL (scripts/with-postgres), or pass -database-url")
	}

	r, err := runBenchmark(ctx, o, adminURL, logf)
	if err != nil {
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return fmt.Errorf("stopped after -timeout %s: %w", o.timeout, err)
		case ctx.Err() != nil:
			return fmt.Errorf("interrupted: %w", err)
		}
		return err
	}
	r.Elapsed = time.Since(began)
	md := renderResults(r)
	fmt.Fprintln(stdout, md)
	if o.out != "" {
		if err := writeResults(o.out, md); err != nil {
			return err
		}
		logf("wrote %s", o.out)
	}
	return nil
}
