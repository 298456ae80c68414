package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// machine describes where the benchmark ran.
type machine struct {
	CPUs      int
	CPUModel  string
	MemTotal  string
	Kernel    string
	GoVersion string
	OS, Arch  string
	Date      time.Time
}

func describeMachine() machine {
	m := machine{
		CPUs:      runtime.NumCPU(),
		CPUModel:  "unknown",
		MemTotal:  "unknown",
		Kernel:    "unknown",
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
		Date:      time.Now().UTC(),
	}
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		m.CPUModel = v
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		var kb int64
		if _, err := fmt.Sscanf(v, "%d kB", &kb); err == nil {
			m.MemTotal = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return m
}

// procField returns the value of the first "name: value" line of a /proc file.
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// queryString runs a query that returns one text value.
func queryString(ctx context.Context, dbURL, sql string) (string, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var s string
	err = conn.QueryRow(ctx, sql).Scan(&s)
	return s, err
}

// The targets of issue 5.
const (
	targetThroughputRatio = 0.75
	targetP99Ratio        = 2.0
	targetPeakRSS         = 64 << 20
	targetColdStart       = 150 * time.Millisecond
	targetConns           = 200
	targetErrorConns      = 1000
)

// The targets of issue 15 (faster than the floor): throughput at
// targetConns with the default settings and with prepared statements, p99
// at or below the floor's, and peak RSS at targetErrorConns at most
// targetRSSAboveFloor above the floor's.
const (
	targetDefaultRatio  = 1.2
	targetPreparedRatio = 1.5
	targetRSSAboveFloor = 8 << 20
	loneConns           = 1 // the level whose p50 is a lone request's latency
)

// The targets of issue 13 (the key store).
const (
	targetStoredColdStart  = 50 * time.Millisecond
	targetCallsPerNewShow  = 1.1
	targetFlashP99         = 250 * time.Millisecond
	storedChannelBurstName = "first fetch, channel stored"
	restartBurstName       = "restart"
)

func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}

func us(d time.Duration) string {
	if d <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

func mib(b int64) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func yesNo(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**missed**"
}

// renderResults writes the generated part of BENCHMARKS.md.
func renderResults(r *results) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	o, m := r.Options, r.Machine

	p("## Machine and settings")
	p("")
	p("| | |")
	p("|---|---|")
	p("| date | %s |", m.Date.Format("2006-01-02 15:04 MST"))
	p("| CPU | %s, %d cores (runtime.NumCPU) |", m.CPUModel, m.CPUs)
	p("| memory | %s |", m.MemTotal)
	p("| OS | %s (%s/%s) |", m.Kernel, m.OS, m.Arch)
	p("| Go | %s |", m.GoVersion)
	p("| load average at start | %s (1, 5, 15 min) |", r.LoadBefore)
	p("| PostgreSQL | %s, on the same machine (scripts/with-postgres: fsync=off, synchronous_commit=off) |", orNA(r.Postgres))
	p("| everything on one machine | service, floor server, load generator, IVS emulator, JWKS server, PostgreSQL |")
	p("| hot runs | %s connections, %s each, after one untimed request per connection; %d round(s) per server and level, interleaved, the median kept; servers: %s |", joinInts(o.conns), o.duration, o.rounds, hotServersSetting(o))
	p("| before each hot run | `VACUUM (ANALYZE)` and `CHECKPOINT` of the bench's database, with autovacuum off on both audit tables, then a pause of %s: PostgreSQL's CPU (background processes included) is counted against the server under test, so no run pays for the vacuum or checkpoint of another's inserts |", o.settleBetween)
	stored := 0
	if o.keyStore {
		stored = o.firstFetch
	}
	p("| sellers | %d approved sellers, one show each, one token per seller; %d more with a keyless show for the first fetch; %d more with a keyless show whose channel is stored, for the first fetch with the channel stored; %d of the hot shows for the restart burst; %d more for the flash crowd |",
		o.sellers, o.firstFetch, stored, min(o.restartFetch, o.sellers), o.flashSellers)
	p("| IVS emulator | %s per call, rate limit %s |", o.ivsLatency, rateLimit(o.ivsRateLimit))
	p("| service settings | DATABASE_MAX_CONNS=%d, LOG_LEVEL=%s, RATE_LIMIT_REQUESTS_PER_MINUTE=%d (the per-user limit, raised so that the hot runs measure the service, not the limiter)%s, every other variable at its default%s |",
		o.maxConns, o.logLevel, o.rateLimitRPM, keyStoreSetting(o.keyStore), extraEnv(o.serviceEnv))
	if o.keyStore {
		p("| key store | on, as deployed with one: every instance (hot, bursts, cold starts, flash crowd) has STREAM_KEY_ENCRYPTION_KEY set, a random 32-byte master key made for the run (id `1`); the warm-up passes store every hot key, so the restart burst and the cold starts find theirs stored |")
	} else {
		p("| key store | off (-key-store=false): every instance keeps keys in memory only, as without STREAM_KEY_ENCRYPTION_KEY |")
	}
	p("| instances | hot runs: one instance with IVS_MAX_CALLS_PER_SECOND=%s (so that its warm-up pass takes seconds; hot requests make no IVS call, as the emulator counts), warmed by one request per show before each level; bursts and cold starts: new instances with the default IVS call budget; before the bursts, an untimed instance with the hot runs' budget has the first fetch with the channel stored and the flash crowd start from what the service stored (one request per show, then the revocations) |", o.hotIVSBudget)
	if o.flashSellers > 0 {
		p("| flash crowd | %d sellers whose keys (and channels) the service stored beforehand, one request each, spread evenly over %s, across %d fresh instances (request i to instance i mod %d) with the default IVS call budget; IVS emulator limited to %s; a seller waits up to %s |",
			o.flashSellers, o.flashWindow, o.flashReplicas, o.flashReplicas, rateLimit(o.flashIVSLimit), flashTimeout)
	}
	p("| floor server | a process of its own (the bench binary), pgx pool of %d%s (QueryExecModeExec, as the service by default), audit row %s |", o.maxConns, smallPoolSetting(o), onOff(r.FloorAudit))
	if r.BuildTime > 0 {
		p("| bench run time | %s (of which `go build` %s; `make bench` adds compiling the bench and starting PostgreSQL) |", r.Elapsed.Round(time.Second), r.BuildTime.Round(100*time.Millisecond))
	} else {
		p("| bench run time | %s (prebuilt binary) |", r.Elapsed.Round(time.Second))
	}
	p("")

	p("## Hot path: shows whose key exists")
	p("")
	p("Requests per second over the timed window; latency from the load generator (request written to answer read); errors are non-200 answers and failed requests, connection set-up included; IVS calls per request are the emulator's calls over the run divided by every request sent; peak RSS is the process's VmHWM over the run. Ratios are ivs-ingest ÷ floor.")
	p("")
	p("| connections | server | req/s | p50 | p95 | p99 | max | errors | IVS calls/req | peak RSS | req/s ratio | p99 ratio |")
	p("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, h := range r.Hot {
		f := h.Floor
		for _, x := range h.servers() {
			ratios := "| | |"
			if x.service {
				ratios = fmt.Sprintf("| %s | %s |", ratio(x.run.RPS(), f.RPS()), ratio(float64(x.run.Latency.P99), float64(f.Latency.P99)))
			}
			p("| %d | %s | %.0f | %s | %s | %s | %s | %d | %.4f | %s %s", x.run.Conns, x.label, x.run.RPS(), ms(x.run.Latency.P50), ms(x.run.Latency.P95),
				ms(x.run.Latency.P99), ms(x.run.Latency.Max), x.run.Errors, x.run.IVSCallsPerRequest, rssCell(x.run), ratios)
		}
	}
	if len(r.Hot) > 0 && (r.Hot[0].FloorSmall != nil || r.Options.rounds > 1) {
		p("")
		p("Each row is the server's median of %d interleaved rounds by req/s (every round's req/s below). The floor with a small pool has %d connections, max(4, cores); on few cores it is faster than with the service's pool, so the service's ratios are also given against it.", r.Options.rounds, r.Options.smallFloorPool)
		p("")
		p("| connections | server | req/s of each round | req/s ratio to the floor with a small pool | p99 ratio to it |")
		p("|---:|---|---|---:|---:|")
		for _, h := range r.Hot {
			for _, x := range h.servers() {
				rr, pr := "", ""
				if x.service && h.FloorSmall != nil {
					rr = ratio(x.run.RPS(), h.FloorSmall.RPS())
					pr = ratio(float64(x.run.Latency.P99), float64(h.FloorSmall.Latency.P99))
				}
				p("| %d | %s | %s | %s | %s |", x.run.Conns, x.label, joinRPS(h.Rounds[x.name]), rr, pr)
			}
		}
	}
	if len(r.Hot) > 0 {
		p("")
		p("Where the CPU goes: CPU time per request (user + system, from /proc/<pid>/stat over the whole run, divided by every request sent). The bench process is the load generator plus the idle IVS emulator and JWKS server. \"Other processes\" is the rest of the machine's busy time (the kernel's softirq work, and anyone else's jobs: more than a few µs means the run was disturbed). The machine has %d cores, so a total of T µs per request caps throughput at about %d,000,000 / T req/s.", m.CPUs, m.CPUs)
		p("")
		p("| connections | server | server process | PostgreSQL | bench process | total | other processes |")
		p("|---:|---|---:|---:|---:|---:|---:|")
		for _, h := range r.Hot {
			for _, x := range h.servers() {
				c := x.run.CPU
				p("| %d | %s | %s | %s | %s | %s | %s |", x.run.Conns, x.label, us(x.run.perRequest(c.Server)), us(x.run.perRequest(c.Postgres)),
					us(x.run.perRequest(c.Bench)), us(x.run.perRequest(c.Server+c.Postgres+c.Bench)), us(x.run.perRequest(c.other())))
			}
		}
	}
	var samples []string
	for _, h := range r.Hot {
		for _, x := range h.servers() {
			if x.run.ErrorSample != "" {
				samples = append(samples, fmt.Sprintf("%s at %d connections: %s", x.label, x.run.Conns, oneLine(x.run.ErrorSample)))
			}
		}
	}
	if len(samples) > 0 {
		p("")
		p("First error of each run that had one:")
		p("")
		for _, s := range samples {
			p("- %s", s)
		}
	}
	p("")

	if len(r.Bursts) > 0 {
		p("## Bursts: shows requested all at once from a new instance")
		p("")
		p("Each from a new instance with the service's default settings, IVS call budget included. **First fetch**: shows whose channel has no key yet, so each request reads the channel and creates its key. **First fetch, channel stored**: the same, for shows whose channel the key store holds (the service read the show's key and channel earlier, then the seller revoked the key through the API), so the key can be created without GetChannel. **Restart**: hot shows (key ARN recorded) right after a restart, when the new process has not cached their keys, as after a deploy. The time is from the requests' start to the last answer; the IVS call rates and gaps are observed at the emulator (arrival times: network jitter can put a call a little closer to the previous one than the service spaced their starts).")
		p("")
		p("| run | shows | total time | answered 200 | errors | p50 | p99 | IVS calls | IVS calls/show | by operation | keys created | channels with exactly one key | IVS calls/s, mean | IVS calls/s, busiest second | shortest gap between calls | throttled |")
		p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
		for _, b := range r.Bursts {
			keyed := "n/a"
			if b.ChannelsKeyed >= 0 {
				keyed = fmt.Sprintf("%d of %d", b.ChannelsKeyed, b.Shows)
			}
			p("| %s | %d | %s | %d | %d | %s | %s | %d | %.2f | %s | %d | %s | %.1f | %d | %s | %d |", b.Name, b.Shows, ms(b.Total), b.OK, b.Errors,
				ms(b.Latency.P50), ms(b.Latency.P99), b.TotalCalls, b.callsPerShow(), opCountsOrNone(b.Calls), b.KeysCreated, keyed, b.AvgCallsPerSec, b.PeakCallsPerSec, ms(b.MinGap), b.Throttled)
		}
		for _, b := range r.Bursts {
			if b.ErrorSample != "" {
				p("")
				p("First error of the %s: %s", b.Name, oneLine(b.ErrorSample))
			}
		}
		p("")
	}

	if len(r.Cold) > 0 {
		p("## Cold start: process start to the first 200 answer")
		p("")
		p("From just before the process is started to the first 200 answer to a hot show's request (its key ARN is recorded, but a new process has not cached the key yet), polling every millisecond; median of %d runs, one second apart. \"Listening\" is the first 200 from /healthz. The first series is the target's; the others change one setting each, to show what the time is made of.", len(r.Cold[0].Runs))
		p("")
		p("| series | IVS latency | median to first 200 | min | max | median to listening | IVS calls for the request | runs (ms to first 200) |")
		p("|---|---:|---:|---:|---:|---:|---:|---|")
		for _, cs := range r.Cold {
			first := func(c coldRun) time.Duration { return c.First200 }
			var runs []string
			var lo, hi time.Duration
			calls := map[int]bool{}
			for i, c := range cs.Runs {
				runs = append(runs, fmt.Sprintf("%.0f", float64(c.First200)/float64(time.Millisecond)))
				if i == 0 || c.First200 < lo {
					lo = c.First200
				}
				hi = max(hi, c.First200)
				calls[c.IVSCalls] = true
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %s |", cs.Label, cs.IVSLatency, ms(cs.median(first)), ms(lo), ms(hi),
				ms(cs.median(func(c coldRun) time.Duration { return c.Listening })), joinSet(calls), strings.Join(runs, ", "))
		}
		p("")
	}

	if f := r.Flash; f != nil {
		p("## Flash crowd: stored keys, fresh instances, IVS at its quota")
		p("")
		p("Sellers whose keys the service stored beforehand each request their show once, the requests spread evenly over the window (an open schedule: a request is sent at its time whatever the others' answers), across fresh instances: new processes over the same database, their in-memory caches empty, as right after a deploy. The IVS emulator refuses calls beyond its limit (429 ThrottlingException), as AWS does. An answer counts as 200 only when it carries the seller's key. Latency is from the request's sending to its answer or failure, failed requests included; \"behind schedule\" is the latest a request was sent after its time (the load generator's own delay).")
		p("")
		p("| sellers | window | instances | IVS limit | answered 200 | errors | by outcome | p50 | p99 | max | IVS calls | by operation | throttled | total time | behind schedule |")
		p("|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|")
		p("| %d | %s | %d | %s | %d | %d | %s | %s | %s | %s | %d | %s | %d | %s | %s |", f.Sellers, f.Window, f.Instances, rateLimit(f.IVSRateLimit),
			f.OK, f.Errors, opCountsOrNone(f.Outcomes), ms(f.Latency.P50), ms(f.Latency.P99), ms(f.Latency.Max), f.TotalCalls, opCountsOrNone(f.Calls),
			f.Throttled, ms(f.Total), ms(f.Behind))
		if f.ErrorSample != "" {
			p("")
			p("First error of the flash crowd: %s", oneLine(f.ErrorSample))
		}
		p("")
	}

	p("## Targets (issues 5, 13 and 15)")
	p("")
	p("| target | measured | verdict |")
	p("|---|---|---|")
	for _, t := range verdicts(r) {
		p("| %s | %s | %s |", t[0], t[1], t[2])
	}
	if len(r.Notes) > 0 {
		p("")
		for _, n := range r.Notes {
			p("- %s", n)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// levelServer is one server's median run at a level, for the tables.
type levelServer struct {
	name, label string
	run         hotRun
	service     bool // an ivs-ingest instance: its ratios to the floor are shown
}

// servers returns the level's runs in the tables' order.
func (h hotLevel) servers() []levelServer {
	out := []levelServer{{serverService, serverService, h.Service, true}}
	if h.Prepared != nil {
		out = append(out, levelServer{serverPrepared, serverPrepared, *h.Prepared, true})
	}
	out = append(out, levelServer{serverFloor, serverFloor, h.Floor, false})
	if h.FloorSmall != nil {
		out = append(out, levelServer{serverFloorSmall, fmt.Sprintf("floor, pool of %d", h.SmallPool), *h.FloorSmall, false})
	}
	return out
}

// joinRPS writes every round's req/s.
func joinRPS(rps []float64) string {
	parts := make([]string, len(rps))
	for i, v := range rps {
		parts[i] = fmt.Sprintf("%.0f", v)
	}
	return strings.Join(parts, " / ")
}

// verdicts compares the run with the targets: target, measured,
// verdict.
func verdicts(r *results) [][3]string {
	var out [][3]string
	level := func(conns int) *hotLevel {
		for i := range r.Hot {
			if r.Hot[i].Service.Conns == conns {
				return &r.Hot[i]
			}
		}
		return nil
	}
	notRun := "not measured in this run"
	if h := level(targetConns); h != nil {
		rr := h.Service.RPS() / h.Floor.RPS()
		out = append(out, [3]string{"hot throughput at 200 connections ≥ 75 % of the floor's",
			fmt.Sprintf("%.0f vs %.0f req/s: %.0f %%", h.Service.RPS(), h.Floor.RPS(), 100*rr), yesNo(rr >= targetThroughputRatio)})
		pr := float64(h.Service.Latency.P99) / float64(h.Floor.Latency.P99)
		out = append(out, [3]string{"p99 at 200 connections ≤ 2× the floor's",
			fmt.Sprintf("%s vs %s: %.2f×", ms(h.Service.Latency.P99), ms(h.Floor.Latency.P99), pr), yesNo(pr <= targetP99Ratio)})
	} else {
		out = append(out, [3]string{"hot throughput and p99 at 200 connections vs the floor", notRun, "–"})
	}
	if len(r.Hot) > 0 {
		calls := 0
		var rss, met, missed []string
		for _, h := range r.Hot {
			calls += h.Service.IVSCalls
			rss = append(rss, fmt.Sprintf("%s at %d connections (floor %s)", mib(h.Service.PeakRSS), h.Service.Conns, mib(h.Floor.PeakRSS)))
			if h.Service.PeakRSS > 0 && h.Service.PeakRSS <= targetPeakRSS {
				met = append(met, fmt.Sprint(h.Service.Conns))
			} else {
				missed = append(missed, fmt.Sprint(h.Service.Conns))
			}
		}
		out = append(out, [3]string{"zero IVS calls per hot request", fmt.Sprintf("%d calls over all hot runs", calls), yesNo(calls == 0)})
		verdict := yesNo(len(missed) == 0)
		if len(missed) > 0 && len(met) > 0 {
			verdict = fmt.Sprintf("**met** at %s connections, **missed** at %s", strings.Join(met, ", "), strings.Join(missed, ", "))
		}
		out = append(out, [3]string{"peak RSS ≤ 64 MB under hot load", strings.Join(rss, "; "), verdict})
	}
	if h := level(targetErrorConns); h != nil {
		var m []string
		errs := 0
		for _, x := range h.servers() {
			if x.service {
				m = append(m, fmt.Sprintf("%s: %d errors of %d requests", x.label, x.run.Errors, x.run.Requests+x.run.Conns))
				errs += x.run.Errors
			}
		}
		out = append(out, [3]string{"zero errors at 1,000 connections", strings.Join(m, "; "), yesNo(errs == 0)})
	} else {
		out = append(out, [3]string{"zero errors at 1,000 connections", notRun, "–"})
	}
	if len(r.Cold) > 0 {
		c := r.Cold[0]
		med := c.median(func(c coldRun) time.Duration { return c.First200 })
		out = append(out, [3]string{"cold start to first 200 ≤ 150 ms", fmt.Sprintf("median %s (%s, IVS latency %s)", ms(med), c.Label, c.IVSLatency), yesNo(med <= targetColdStart)})
	} else {
		out = append(out, [3]string{"cold start to first 200 ≤ 150 ms", notRun, "–"})
	}
	out = append(out, keyStoreVerdicts(r)...)
	return append(out, fasterVerdicts(r, level)...)
}

// fasterVerdicts checks issue 15's targets.
func fasterVerdicts(r *results, level func(int) *hotLevel) [][3]string {
	var out [][3]string
	notRun := "not measured in this run"
	h := level(targetConns)
	throughput := func(name string, run *hotRun, target float64) {
		t := fmt.Sprintf("hot throughput at 200 connections ≥ %.1f× the floor's (%s; median of the rounds)", target, name)
		if h == nil || run == nil {
			out = append(out, [3]string{t, notRun, "–"})
			return
		}
		m := fmt.Sprintf("%.0f vs %.0f req/s: %.2f× (floor's pool of %d)", run.RPS(), h.Floor.RPS(), run.RPS()/h.Floor.RPS(), r.Options.maxConns)
		if h.FloorSmall != nil {
			m += fmt.Sprintf("; vs %.0f req/s: %.2f× (pool of %d)", h.FloorSmall.RPS(), run.RPS()/h.FloorSmall.RPS(), h.SmallPool)
		}
		out = append(out, [3]string{t, m, yesNo(run.RPS() >= target*h.Floor.RPS())})
	}
	var service, prepared *hotRun
	if h != nil {
		service, prepared = &h.Service, h.Prepared
	}
	throughput("default settings", service, targetDefaultRatio)
	throughput("DATABASE_PREPARED_STATEMENTS=true", prepared, targetPreparedRatio)
	if h != nil {
		var ms2 []string
		ok := true
		for _, x := range h.servers() {
			if x.service {
				ms2 = append(ms2, fmt.Sprintf("%s %s", x.label, ms(x.run.Latency.P99)))
				ok = ok && x.run.Latency.P99 <= h.Floor.Latency.P99
			}
		}
		out = append(out, [3]string{"p99 at 200 connections ≤ the floor's", strings.Join(ms2, ", ") + "; floor " + ms(h.Floor.Latency.P99), yesNo(ok)})
	}
	if l := level(loneConns); l != nil {
		m := fmt.Sprintf("ivs-ingest %s, floor %s", ms(l.Service.Latency.P50), ms(l.Floor.Latency.P50))
		if l.Prepared != nil {
			m = fmt.Sprintf("ivs-ingest %s (prepared statements %s), floor %s", ms(l.Service.Latency.P50), ms(l.Prepared.Latency.P50), ms(l.Floor.Latency.P50))
		}
		out = append(out, [3]string{"a lone request's latency no worse than before (p50 at 1 connection)", m, "compare with the previous run"})
	} else {
		out = append(out, [3]string{"a lone request's latency (p50 at 1 connection)", notRun, "–"})
	}
	if l := level(targetErrorConns); l != nil {
		var m []string
		ok := l.Floor.PeakRSS > 0
		for _, x := range l.servers() {
			if x.service {
				m = append(m, fmt.Sprintf("%s %s", x.label, mib(x.run.PeakRSS)))
				ok = ok && x.run.PeakRSS > 0 && x.run.PeakRSS <= l.Floor.PeakRSS+targetRSSAboveFloor
			}
		}
		out = append(out, [3]string{"peak RSS at 1,000 connections ≤ the floor's + 8 MiB", strings.Join(m, ", ") + "; floor " + mib(l.Floor.PeakRSS), yesNo(ok)})
	} else {
		out = append(out, [3]string{"peak RSS at 1,000 connections ≤ the floor's + 8 MiB", notRun, "–"})
	}
	return out
}

// hotServersSetting names the servers of the hot runs.
func hotServersSetting(o options) string {
	s := "the service"
	if o.prepared {
		s += ", the service with DATABASE_PREPARED_STATEMENTS=true (a second instance)"
	}
	s += fmt.Sprintf(", the floor (pool of %d)", o.maxConns)
	if o.smallFloorPool > 0 {
		s += fmt.Sprintf(", the floor with a pool of %d (max(4, cores))", o.smallFloorPool)
	}
	return s
}

// smallPoolSetting says the second floor's pool, when there is one.
func smallPoolSetting(o options) string {
	if o.smallFloorPool == 0 {
		return ""
	}
	return fmt.Sprintf(", and a second instance with a pool of %d", o.smallFloorPool)
}

// keyStoreVerdicts compares the run with the targets of issue 13, which
// hold with a key store.
func keyStoreVerdicts(r *results) [][3]string {
	var out [][3]string
	notRun := "not measured in this run"
	if !r.Options.keyStore {
		notRun = "not measured: no key store in this run (-key-store=false)"
	}
	burst := func(name string) *burstPhase {
		for _, b := range r.Bursts {
			if b.Name == name {
				return b
			}
		}
		return nil
	}
	const restartTarget = "restart burst: zero IVS calls (key store)"
	if b := burst(restartBurstName); b != nil && r.Options.keyStore {
		out = append(out, [3]string{restartTarget, fmt.Sprintf("%d calls for %d shows, %d answered 200 in %s", b.TotalCalls, b.Shows, b.OK, ms(b.Total)),
			yesNo(b.TotalCalls == 0 && b.OK == b.Shows)})
	} else {
		out = append(out, [3]string{restartTarget, notRun, "–"})
	}
	const coldTarget = "cold start to first 200 ≤ 50 ms, key stored"
	if len(r.Cold) > 0 && r.Options.keyStore {
		c := r.Cold[0]
		med := c.median(func(c coldRun) time.Duration { return c.First200 })
		calls := 0
		for _, run := range c.Runs {
			calls += run.IVSCalls
		}
		out = append(out, [3]string{coldTarget, fmt.Sprintf("median %s (%s; %d IVS calls over %d runs)", ms(med), c.Label, calls, len(c.Runs)),
			yesNo(med <= targetStoredColdStart && calls == 0)})
	} else {
		out = append(out, [3]string{coldTarget, notRun, "–"})
	}
	const firstTarget = "first fetch with the channel stored ≤ 1.1 IVS calls per new show"
	if b := burst(storedChannelBurstName); b != nil {
		out = append(out, [3]string{firstTarget, fmt.Sprintf("%.2f calls per show (%d for %d shows; %s), %d answered 200", b.callsPerShow(), b.TotalCalls, b.Shows,
			opCountsOrNone(b.Calls), b.OK), yesNo(b.callsPerShow() <= targetCallsPerNewShow && b.OK == b.Shows)})
	} else {
		out = append(out, [3]string{firstTarget, notRun, "–"})
	}
	if f := r.Flash; f != nil {
		out = append(out,
			[3]string{"flash crowd: every seller answered 200", fmt.Sprintf("%d of %d (%d errors)", f.OK, f.Sellers, f.Errors), yesNo(f.OK == f.Sellers)},
			[3]string{"flash crowd: p99 ≤ 250 ms", fmt.Sprintf("p99 %s (p50 %s, max %s)", ms(f.Latency.P99), ms(f.Latency.P50), ms(f.Latency.Max)), yesNo(f.Latency.P99 <= targetFlashP99)},
			[3]string{"flash crowd: zero IVS calls", fmt.Sprintf("%d calls", f.TotalCalls), yesNo(f.TotalCalls == 0)},
			[3]string{"flash crowd: zero throttles", fmt.Sprintf("%d throttled", f.Throttled), yesNo(f.Throttled == 0)})
	} else {
		out = append(out, [3]string{"flash crowd: every seller 200, p99 ≤ 250 ms, zero IVS calls and throttles", "not measured in this run", "–"})
	}
	return out
}

func keyStoreSetting(on bool) string {
	if on {
		return ", STREAM_KEY_ENCRYPTION_KEY (the key store, below)"
	}
	return ""
}

// opCountsOrNone is opCounts, or "none" for an empty map.
func opCountsOrNone(calls map[string]int) string {
	if len(calls) == 0 {
		return "none"
	}
	return opCounts(calls)
}

func rssCell(h hotRun) string {
	if h.PeakRSSNote != "" {
		return mib(h.PeakRSS) + " (" + h.PeakRSSNote + ")"
	}
	return mib(h.PeakRSS)
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}

func onOff(b bool) string {
	if b {
		return "on (one row per request, in a table shaped like ivs_ingest.audit_log)"
	}
	return "off (the service has no audit trail; -floor-audit on forces it)"
}

func rateLimit(n int) string {
	if n == 0 {
		return "off"
	}
	return fmt.Sprintf("%d calls/s", n)
}

func extraEnv(env []string) string {
	if len(env) == 0 {
		return ""
	}
	return ", " + strings.Join(env, ", ")
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

func joinSet(set map[int]bool) string {
	var ns []int
	for n := range set {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return joinInts(ns)
}

func opCounts(calls map[string]int) string {
	var ops []string
	for op := range calls {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for i, op := range ops {
		ops[i] = fmt.Sprintf("%s %d", op, calls[op])
	}
	return strings.Join(ops, ", ")
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", `\|`)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return "`" + strings.ReplaceAll(s, "`", "'") + "`"
}

// The generated part of BENCHMARKS.md sits between these markers; the rest
// of the file is hand-written and kept as it is.
const (
	beginMarker = "<!-- bench:begin: generated by `make bench`; edits between these markers are overwritten -->"
	endMarker   = "<!-- bench:end -->"
)

// writeResults puts md between the markers of the file at path, creating
// the file (with a heading and an empty notes section) if it does not exist.
func writeResults(path, md string) error {
	old, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		old = []byte("# Benchmarks\n\n" + beginMarker + "\n" + endMarker + "\n\n## What bounds it\n\n(Hand-written notes; `make bench` leaves them alone.)\n")
	} else if err != nil {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %q … %q section to rewrite; add the markers where the results go", path, beginMarker, endMarker)
	}
	s = s[:i] + beginMarker + "\n\n" + md + "\n\n" + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
