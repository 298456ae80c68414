package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ivs"

	"github.com/ivs-ingest/ivs-ingest/internal/ivsemu"
)

// The credentials the emulator accepts and the service signs with.
const (
	accessKeyID     = "AKIABENCHBENCHBENCH0"
	secretAccessKey = "benchSecretAccessKey/0123456789abcdefghij"
	region          = "us-east-1"
)

// results is everything one benchmark run measured.
type results struct {
	Options   options
	Machine   machine
	Postgres  string // server version
	BuildTime time.Duration
	Hot       []hotLevel
	Bursts    []*burstPhase // first fetch, first fetch with the channel stored, restart
	// Cold is measured with the service's settings as deployed; the other
	// series change one thing each, to show what the time is made of.
	Cold       []*coldStart
	Flash      *flashRun
	FloorAudit bool
	LoadBefore string // /proc/loadavg when the bench started
	Notes      []string
	Elapsed    time.Duration
}

// hotLevel is the servers at one concurrency, each its median run of
// -rounds (by req/s).
type hotLevel struct {
	Service, Floor hotRun
	// Prepared is the service with DATABASE_PREPARED_STATEMENTS=true and
	// FloorSmall the floor with a pool of max(4, cores); nil when not run.
	Prepared, FloorSmall *hotRun
	SmallPool            int // FloorSmall's pool size
	// Rounds holds every round's req/s, by server (hotServer.name).
	Rounds map[string][]float64
}

// The servers of the hot runs, by name.
const (
	serverService    = "ivs-ingest"
	serverPrepared   = "ivs-ingest, prepared statements"
	serverFloor      = "floor"
	serverFloorSmall = "floor, small pool"
)

// hotServer is one server the hot runs drive.
type hotServer struct {
	name    string
	proc    *child
	url     string
	service bool // warmed before each level
}

// medianRun returns the run with the median req/s (the lower of the two
// middle ones for an even count).
func medianRun(runs []hotRun) hotRun {
	sorted := append([]hotRun(nil), runs...)
	slices.SortFunc(sorted, func(a, b hotRun) int { return cmp.Compare(a.RPS(), b.RPS()) })
	return sorted[(len(sorted)-1)/2]
}

// env is the world the bench builds for the service.
type env struct {
	o       options
	logf    func(string, ...any)
	tmp     string
	bin     string
	emu     *ivsemu.Emulator
	ivsURL  string
	iss     *issuer
	dbURL   string
	hot     []seller
	keyless []seller
	// keylessStored are the first fetch's shows whose channel is stored:
	// seeded with a key, which the bench has the service read (storing
	// the channel) and then revoke, as a seller would a leaked key.
	keylessStored []seller
	// flash are the flash crowd's sellers, whose keys the service stored
	// before the run.
	flash []seller
	notes []string
	// tidyFailed is set once a tidy has failed and said so in notes.
	tidyFailed bool
	// postmaster is PostgreSQL's main process, when it can be found (the
	// cluster is on this machine), for CPU accounting; 0 otherwise.
	postmaster int
	childEnv   []string // the service's environment, without PORT or -env
	floorAudit bool
	closeList  []func()
}

// serviceEnv returns the service's environment: the bench's settings, then
// extra, then -env, later entries winning (os/exec keeps the last of
// duplicate keys).
func (e *env) serviceEnv(port int, extra ...string) []string {
	env := append([]string(nil), e.childEnv...)
	env = append(env, "PORT="+strconv.Itoa(port))
	env = append(env, extra...)
	return append(env, e.o.serviceEnv...)
}

// hotEnv is what the instance of the hot runs gets on top of the defaults.
func (e *env) hotEnv() []string {
	if e.o.hotIVSBudget == "" {
		return nil
	}
	return []string{"IVS_MAX_CALLS_PER_SECOND=" + e.o.hotIVSBudget}
}

func (e *env) onClose(f func()) { e.closeList = append(e.closeList, f) }

func (e *env) close() {
	for i := len(e.closeList) - 1; i >= 0; i-- {
		e.closeList[i]()
	}
}

// runBenchmark builds the world, runs every phase, and tears it all down.
func runBenchmark(ctx context.Context, o options, adminURL string, logf func(string, ...any)) (*results, error) {
	e := &env{o: o, logf: logf}
	defer e.close()
	r := &results{Options: o, Machine: describeMachine(), LoadBefore: loadAverage()}

	tmp, err := os.MkdirTemp("", "ivs-ingest-bench-")
	if err != nil {
		return nil, err
	}
	e.tmp = tmp
	e.onClose(func() { os.RemoveAll(tmp) })

	if e.bin = o.binary; e.bin == "" {
		t0 := time.Now()
		e.bin = filepath.Join(tmp, "ivs-ingest")
		logf("building ./cmd/ivs-ingest")
		out, err := exec.CommandContext(ctx, "go", "build", "-o", e.bin, "./cmd/ivs-ingest").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("go build ./cmd/ivs-ingest (run the bench from the repository root): %w\n%s", err, out)
		}
		r.BuildTime = time.Since(t0)
	}

	if err := e.startFakes(); err != nil {
		return nil, err
	}
	if err := e.prepareDatabase(ctx, adminURL); err != nil {
		return nil, err
	}
	r.Postgres, _ = queryString(ctx, e.dbURL, `SHOW server_version`)
	if backend, err := queryString(ctx, e.dbURL, `SELECT pg_backend_pid()::text`); err == nil {
		if pid, err := strconv.Atoi(backend); err == nil {
			e.postmaster, _ = parentPID(pid)
		}
	}
	if e.postmaster == 0 {
		e.notes = append(e.notes, "PostgreSQL's processes were not found, so its CPU time is not reported.")
	}
	if err := e.seed(ctx); err != nil {
		return nil, err
	}

	if o.waitQuiet > 0 {
		logf("waiting up to %s for the machine to be quiet", o.waitQuiet)
		if !waitQuiet(ctx, o.waitQuiet) {
			e.notes = append(e.notes, fmt.Sprintf("The machine was busy with other work for the %s the bench waited before measuring.", o.waitQuiet))
		}
	}

	// The hot runs: the service (and the service with prepared
	// statements), warmed up, against the floor (and a floor with a small
	// pool), in interleaved rounds.
	svc, svcURL, err := e.startService(ctx, e.hotEnv()...)
	if err != nil {
		return nil, err
	}
	defer svc.stop()
	logf("warming: one request per hot show, so the service records and caches every key")
	if err := e.warm(ctx, svcURL); err != nil {
		return nil, svc.failure(err)
	}
	servers := []hotServer{{name: serverService, proc: svc, url: svcURL, service: true}}
	if o.prepared {
		p, pURL, err := e.startService(ctx, append(e.hotEnv(), "DATABASE_PREPARED_STATEMENTS=true")...)
		if err != nil {
			return nil, err
		}
		defer p.stop()
		servers = append(servers, hotServer{name: serverPrepared, proc: p, url: pURL, service: true})
	}
	floorProc, floorURL, err := e.startFloor(ctx, o.maxConns)
	if err != nil {
		return nil, err
	}
	defer floorProc.stop()
	servers = append(servers, hotServer{name: serverFloor, proc: floorProc, url: floorURL})
	if o.smallFloorPool > 0 {
		f, fURL, err := e.startFloor(ctx, o.smallFloorPool)
		if err != nil {
			return nil, err
		}
		defer f.stop()
		servers = append(servers, hotServer{name: serverFloorSmall, proc: f, url: fURL})
	}
	r.FloorAudit = e.floorAudit

	e.emu.SetLatency(o.ivsLatency)
	e.emu.SetRateLimit(o.ivsRateLimit)
	reqs := make([]request, len(e.hot))
	for i, s := range e.hot {
		reqs[i] = newRequest(s)
	}
	for _, conns := range o.conns {
		// A pass over every show before each level keeps the runs hot
		// however long they take (STREAM_KEY_CACHE_TTL is 5m by default).
		for _, s := range servers {
			if s.service {
				if err := e.warm(ctx, s.url); err != nil {
					return nil, s.proc.failure(err)
				}
			}
		}
		runs := map[string][]hotRun{}
		level := hotLevel{Rounds: map[string][]float64{}, SmallPool: o.smallFloorPool}
		for round := 1; round <= o.rounds; round++ {
			for _, s := range servers {
				e.tidy(ctx)
				logf("hot: %s, %d connections, %s, round %d of %d", s.name, conns, o.duration, round, o.rounds)
				h, err := e.hotRun(ctx, s.name, s.proc, s.url, reqs, conns)
				if err != nil {
					return nil, s.proc.failure(err)
				}
				runs[s.name] = append(runs[s.name], h)
				level.Rounds[s.name] = append(level.Rounds[s.name], h.RPS())
				e.settle(ctx)
			}
		}
		level.Service, level.Floor = medianRun(runs[serverService]), medianRun(runs[serverFloor])
		if rs := runs[serverPrepared]; len(rs) > 0 {
			m := medianRun(rs)
			level.Prepared = &m
		}
		if rs := runs[serverFloorSmall]; len(rs) > 0 {
			m := medianRun(rs)
			level.FloorSmall = &m
		}
		logf("hot %d: ivs-ingest %.0f req/s p99 %s, floor %.0f req/s p99 %s (medians)", conns,
			level.Service.RPS(), ms(level.Service.Latency.P99), level.Floor.RPS(), ms(level.Floor.Latency.P99))
		r.Hot = append(r.Hot, level)
	}
	// Stopped before the next phases, whose instances share the database
	// (and its IVS call budget row) and the CPU.
	for _, s := range servers {
		s.proc.stop()
	}

	bursts := []struct {
		name      string
		sellers   []seller
		checkKeys bool
	}{
		{"first fetch", e.keyless, true},
		{storedChannelBurstName, e.keylessStored, true},
		{restartBurstName, e.hot[:min(o.restartFetch, len(e.hot))], false},
	}
	// The service stores what the first fetch with the channel stored and
	// the flash crowd start from; untimed.
	if err := e.prepareStored(ctx); err != nil {
		return nil, err
	}
	for _, b := range bursts {
		if len(b.sellers) == 0 {
			continue
		}
		logf("%s: %d shows requested at once from a new instance with the default IVS call budget", b.name, len(b.sellers))
		bp, err := e.burstPhase(ctx, b.name, b.sellers, b.checkKeys)
		if err != nil {
			return nil, err
		}
		logf("%s: %s, %d errors, %d IVS calls", b.name, ms(bp.Total), bp.Errors, bp.TotalCalls)
		r.Bursts = append(r.Bursts, bp)
		e.settle(ctx)
	}

	if o.coldRuns > 0 {
		series := []struct {
			label   string
			latency time.Duration
			env     []string
		}{
			{"as deployed: default settings", o.ivsLatency, nil},
			{"IVS latency 0", 0, nil},
			{"IVS_MAX_CALLS_PER_SECOND=" + o.hotIVSBudget, o.ivsLatency, e.hotEnv()},
		}
		for i, s := range series {
			if i > 0 && (s.latency == o.ivsLatency && len(s.env) == 0) {
				continue // the same as the first
			}
			logf("cold start: %d runs, %s", o.coldRuns, s.label)
			cs, err := e.coldStarts(ctx, o.coldRuns, s.latency, s.env)
			if err != nil {
				return nil, err
			}
			cs.Label = s.label
			r.Cold = append(r.Cold, cs)
		}
	}

	if len(e.flash) > 0 {
		e.settle(ctx)
		logf("flash crowd: %d sellers over %s, %d fresh instances, IVS emulator limited to %s", len(e.flash), o.flashWindow,
			o.flashReplicas, rateLimit(o.flashIVSLimit))
		if r.Flash, err = e.flashCrowd(ctx); err != nil {
			return nil, err
		}
		f := r.Flash
		logf("flash crowd: %d of %d answered 200, p99 %s, %d IVS calls, %d throttled", f.OK, f.Sellers, ms(f.Latency.P99), f.TotalCalls, f.Throttled)
	}
	r.Notes = e.notes
	return r, nil
}

// startFakes serves the IVS emulator and the JWKS on 127.0.0.1.
func (e *env) startFakes() error {
	emu, err := ivsemu.New(ivsemu.Config{Region: region, AccessKeyID: accessKeyID, SecretAccessKey: secretAccessKey})
	if err != nil {
		return err
	}
	e.emu = emu
	emuURL, err := e.serve(emu)
	if err != nil {
		return err
	}
	e.ivsURL = emuURL

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	iss, err := newIssuer("http://" + ln.Addr().String())
	if err != nil {
		ln.Close()
		return err
	}
	e.iss = iss
	e.serveOn(ln, iss)
	return nil
}

// serve serves h on a new port of 127.0.0.1 until the bench ends.
func (e *env) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	e.serveOn(ln, h)
	return "http://" + ln.Addr().String(), nil
}

func (e *env) serveOn(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	e.onClose(func() { _ = srv.Close() })
}

// prepareDatabase creates the bench's database, makes it look like a
// Supabase project's, and migrates it with the binary's migrate command.
func (e *env) prepareDatabase(ctx context.Context, adminURL string) error {
	dbURL, drop, err := createDatabase(ctx, adminURL)
	if err != nil {
		return err
	}
	e.dbURL = dbURL
	e.onClose(drop)
	if err := execSQL(ctx, dbURL, supabaseSchema); err != nil {
		return fmt.Errorf("supabase schema: %w", err)
	}
	home := filepath.Join(e.tmp, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		return err
	}
	e.childEnv = []string{
		"PATH=" + os.Getenv("PATH"),
		// A home of its own, so that no ~/.aws file of the user's is read.
		"HOME=" + home,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_REGION=" + region,
		"AWS_ACCESS_KEY_ID=" + accessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + secretAccessKey,
		"AWS_ENDPOINT_URL_IVS=" + e.ivsURL,
		"DATABASE_URL=" + dbURL,
		"DATABASE_MAX_CONNS=" + strconv.Itoa(e.o.maxConns),
		"SUPABASE_URL=" + e.iss.baseURL,
		"LOG_LEVEL=" + e.o.logLevel,
		// Per-user request limit of the lifecycle issue: not in the service
		// yet; raised now so that the runs never measure the limiter.
		"RATE_LIMIT_REQUESTS_PER_MINUTE=" + strconv.Itoa(e.o.rateLimitRPM),
	}
	if e.o.keyStore {
		// The key store, as deployed: a master key of the run's own,
		// the same for every instance (and never printed).
		master := make([]byte, 32)
		if _, err := rand.Read(master); err != nil {
			return err
		}
		e.childEnv = append(e.childEnv, "STREAM_KEY_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(master))
	}

	mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(mctx, e.bin, "migrate")
	cmd.Env = append(append([]string(nil), e.childEnv...), e.o.serviceEnv...)
	cmd.SysProcAttr = childAttr()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ivs-ingest migrate: %w\n%s", err, out)
	}

	switch e.o.floorAudit {
	case "on":
		e.floorAudit = true
	case "auto":
		has, err := queryString(ctx, dbURL, `SELECT (to_regclass('ivs_ingest.audit_log') IS NOT NULL)::text`)
		if err != nil {
			return err
		}
		e.floorAudit = has == "true"
	}
	if e.floorAudit {
		if err := execSQL(ctx, dbURL, floorAuditTable); err != nil {
			return fmt.Errorf("floor audit table: %w", err)
		}
	}
	// The hot runs insert an audit row per request; the bench vacuums
	// between runs instead (see tidy).
	for _, table := range []string{"ivs_ingest.audit_log", "bench_floor.audit_log"} {
		if err := execSQL(ctx, dbURL, `DO $$ BEGIN
	IF to_regclass('`+table+`') IS NOT NULL THEN
		ALTER TABLE `+table+` SET (autovacuum_enabled = false);
	END IF;
END $$`); err != nil {
			return fmt.Errorf("autovacuum off on %s: %w", table, err)
		}
	}
	return nil
}

// tidy does, before a hot run, the background work that the runs before it
// left to PostgreSQL: a vacuum with statistics (the audit rows they
// inserted) and a checkpoint (their WAL). Why: the bench counts every
// PostgreSQL process's CPU, background ones included, against the server
// under test, and a vacuum or checkpoint that one server's inserts set off
// would otherwise land at random in another server's run (its CPU per
// request, and its req/s on 2 cores). Autovacuum is off on the audit tables
// (prepare), so it cannot start mid-run. The pause after it lets its
// backend exit before the run's CPU is first read. A failure is said in the
// report's notes (the run's figures may then carry background work).
func (e *env) tidy(ctx context.Context) {
	err := execSQL(ctx, e.dbURL, `VACUUM (ANALYZE)`)
	if err == nil {
		err = execSQL(ctx, e.dbURL, `CHECKPOINT`) // needs a superuser or pg_checkpoint
	}
	if err != nil && ctx.Err() == nil && !e.tidyFailed {
		e.tidyFailed = true
		e.notes = append(e.notes, fmt.Sprintf("The vacuum and checkpoint between hot runs failed (%v): runs may carry background work of earlier ones.", err))
	}
	e.settle(ctx)
}

// seed creates the hot and the keyless sellers and signs their tokens.
func (e *env) seed(ctx context.Context) error {
	stored := 0
	if e.o.keyStore {
		stored = e.o.firstFetch
	}
	e.logf("seeding %d sellers with a hot show, %d with a keyless one, %d with one whose channel the service will store, %d for the flash crowd",
		e.o.sellers, e.o.firstFetch, stored, e.o.flashSellers)
	client := ivs.New(ivs.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, ""),
		BaseEndpoint: aws.String(e.ivsURL),
	})
	groups, err := seedSellers(ctx, e.dbURL, e.emu, client, []seedGroup{
		{n: e.o.sellers}, {n: e.o.firstFetch, keyless: true}, {n: stored}, {n: e.o.flashSellers},
	})
	if err != nil {
		return err
	}
	ttl := e.o.timeout + 10*time.Minute
	for _, g := range groups {
		for i := range g {
			if g[i].token, err = e.iss.token(g[i].userID, g[i].sessionID, ttl); err != nil {
				return err
			}
		}
	}
	e.hot, e.keyless, e.keylessStored, e.flash = groups[0], groups[1], groups[2], groups[3]
	return nil
}

// startService starts `ivs-ingest serve`, with extra in its environment,
// and waits for /healthz.
func (e *env) startService(ctx context.Context, extra ...string) (*child, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	c, err := startChild("ivs-ingest serve", e.bin, []string{"serve"}, e.serviceEnv(port, extra...))
	if err != nil {
		return nil, "", err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := c.waitHealthy(ctx, base+"/healthz"); err != nil {
		c.stop()
		return nil, "", err
	}
	return c, base, nil
}

// startFloor writes the floor's configuration, with a pool of poolSize
// connections, and starts it.
func (e *env) startFloor(ctx context.Context, poolSize int) (*child, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	pem, err := e.iss.publicKeyPEM()
	if err != nil {
		return nil, "", err
	}
	cfg := floorConfig{
		Port:        port,
		DatabaseURL: e.dbURL,
		MaxConns:    int32(poolSize),
		Issuer:      e.iss.issuerURL(),
		KID:         e.iss.kid,
		PublicKey:   pem,
		Keys:        make(map[string]string, len(e.hot)),
		Audit:       e.floorAudit,
	}
	for _, s := range e.hot {
		cfg.Keys[s.channel.StreamKey.ARN] = s.channel.StreamKey.Value
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(e.tmp, fmt.Sprintf("floor-%d.json", port))
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return nil, "", err
	}
	c, err := startChild("floor server", self, []string{floorCommand, "-config", path}, []string{"PATH=" + os.Getenv("PATH")})
	if err != nil {
		return nil, "", err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := c.waitHealthy(ctx, base+"/healthz"); err != nil {
		c.stop()
		return nil, "", err
	}
	return c, base, nil
}

// warm requests every hot show once (32 at a time) and checks that each
// answer carries the key the emulator holds for the show's channel. The
// service then has every key ARN recorded and cached. It resets the
// emulator's counts.
func (e *env) warm(ctx context.Context, base string) error {
	return e.warmSellers(ctx, base, e.hot, checkAnswer)
}

// warmSellers sends do for every seller of sellers, 32 at a time, and
// returns the first error. It resets the emulator's counts.
func (e *env) warmSellers(ctx context.Context, base string, sellers []seller, do func(context.Context, *loadClient, seller) error) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	c := newLoadClient(base, 32, 30*time.Second)
	defer c.close()
	var (
		next     atomic.Int64
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(sellers) {
					return
				}
				if err := do(ctx, c, sellers[i]); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	e.emu.ResetCounts()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// checkAnswer requests s's show and compares the key with the emulator's.
func checkAnswer(ctx context.Context, c *loadClient, s seller) error {
	_, err := fetchKey(ctx, c, s)
	return err
}

// fetchKey requests s's show and compares the key with the emulator's: the
// error says why the answer is not s's key (never with a key's value),
// status is the answer's status (0 when there was none).
func fetchKey(ctx context.Context, c *loadClient, s seller) (status int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(newRequest(s).body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		StreamKey string `json:"streamKey"`
		Error     string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return resp.StatusCode, fmt.Errorf("show %s: status %d, undecodable answer: %w", s.showID, resp.StatusCode, err)
	}
	switch {
	case resp.StatusCode != http.StatusOK:
		return resp.StatusCode, fmt.Errorf("show %s: status %d: %s", s.showID, resp.StatusCode, body.Error)
	case body.StreamKey != s.channel.StreamKey.Value:
		return resp.StatusCode, fmt.Errorf("show %s: the answer's stream key is not the channel's", s.showID)
	}
	return resp.StatusCode, nil
}

// hotRun drives one server, called name in the notes, with the hot load and
// reads its peak RSS.
func (e *env) hotRun(ctx context.Context, name string, proc *child, base string, reqs []request, conns int) (hotRun, error) {
	rssReset := resetPeakRSS(proc.pid()) == nil
	e.emu.ResetCounts()
	before := e.cpuUse(proc)
	c := newLoadClient(base, conns, 35*time.Second)
	h, err := hotLoad(ctx, c, reqs, conns, e.o.duration)
	c.close()
	if err != nil {
		return h, err
	}
	after := e.cpuUse(proc)
	h.CPU = cpuUse{Server: after.Server - before.Server, Postgres: after.Postgres - before.Postgres,
		Bench: after.Bench - before.Bench, Machine: after.Machine - before.Machine}
	if o := h.CPU.other(); o > h.CPU.Machine/20 {
		e.notes = append(e.notes, fmt.Sprintf("During the %d-connection run of %s, other processes used %.0f %% of the machine's busy CPU time: its figures are disturbed; rerun on a quiet machine.",
			conns, name, 100*float64(o)/float64(h.CPU.Machine)))
	}
	if proc.exited() {
		return h, errors.New("exited during the run")
	}
	h.IVSCalls = e.emu.TotalCalls()
	h.IVSCallsPerRequest = float64(h.IVSCalls) / float64(h.Requests+conns)
	if rss, err := peakRSS(proc.pid()); err == nil {
		h.PeakRSS = rss
		if !rssReset {
			h.PeakRSSNote = "since start"
		}
	}
	return h, nil
}

// cpuUse reads the CPU time used so far by proc, PostgreSQL and the bench;
// a figure it cannot read is 0.
func (e *env) cpuUse(proc *child) cpuUse {
	var u cpuUse
	u.Server, _ = cpuTime(proc.pid(), false)
	u.Bench, _ = cpuTime(os.Getpid(), false)
	u.Machine, _ = machineCPU()
	if e.postmaster > 0 {
		u.Postgres, _ = treeCPU(e.postmaster)
	}
	return u
}

// settle pauses between runs.
func (e *env) settle(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(e.o.settleBetween):
	}
}

// burstPhase is the outcome of a burst run: shows requested all at once from
// a new instance with the service's default settings.
type burstPhase struct {
	Name  string
	Shows int
	burstResult
	Calls           map[string]int // by operation
	TotalCalls      int
	Throttled       int
	CallSpan        time.Duration // first IVS call to last
	AvgCallsPerSec  float64       // over CallSpan
	PeakCallsPerSec int           // most calls within any one-second window
	MinGap          time.Duration // shortest time between two calls' arrivals
	KeysCreated     int           // successful CreateStreamKey calls
	ChannelsKeyed   int           // channels with exactly one key afterwards; -1 when not checked
}

// burstTimeout bounds a burst run. At IVS's 5 calls per second (the
// service's default budget is below that), 100 shows of 3 calls each take
// more than a minute; the service refuses what would wait longer than
// IVS_BUDGET_WAIT (90 s by default).
const burstTimeout = 4 * time.Minute

// burstPhase starts a new instance with the service's default settings,
// requests every show of sellers at once, and reads the emulator's call
// log. With checkKeys it then counts the channels that have exactly one key.
func (e *env) burstPhase(ctx context.Context, name string, sellers []seller, checkKeys bool) (*burstPhase, error) {
	svc, base, err := e.startService(ctx)
	if err != nil {
		return nil, err
	}
	defer svc.stop()
	reqs := make([]request, len(sellers))
	for i, s := range sellers {
		reqs[i] = newRequest(s)
	}
	e.emu.ResetCounts()
	c := newLoadClient(base, len(reqs), burstTimeout)
	defer c.close()
	ctx, cancel := context.WithTimeout(ctx, burstTimeout+10*time.Second)
	defer cancel()
	b := burst(ctx, c, reqs)
	if err := ctx.Err(); err != nil {
		return nil, svc.failure(err)
	}
	bp := &burstPhase{Name: name, Shows: len(reqs), burstResult: b, Calls: map[string]int{}, ChannelsKeyed: -1,
		TotalCalls: e.emu.TotalCalls(), Throttled: e.emu.Throttled(), KeysCreated: e.emu.Succeeded("CreateStreamKey")}
	log := e.emu.CallLog()
	for _, call := range log {
		bp.Calls[call.Op]++
	}
	if len(log) > 0 {
		bp.CallSpan = log[len(log)-1].At.Sub(log[0].At)
		if bp.CallSpan > 0 {
			bp.AvgCallsPerSec = float64(len(log)) / bp.CallSpan.Seconds()
		}
		j := 0
		for i := range log {
			for log[i].At.Sub(log[j].At) >= time.Second {
				j++
			}
			bp.PeakCallsPerSec = max(bp.PeakCallsPerSec, i-j+1)
			if gap := log[i].At.Sub(log[max(i-1, 0)].At); i > 0 && (bp.MinGap == 0 || gap < bp.MinGap) {
				bp.MinGap = gap
			}
		}
	}
	if checkKeys {
		if bp.ChannelsKeyed, err = e.keyedChannels(ctx, sellers); err != nil {
			return nil, err
		}
	}
	return bp, nil
}

// keyedChannels counts the sellers' channels that have exactly one key,
// asking the emulator through the SDK as an operator would.
func (e *env) keyedChannels(ctx context.Context, sellers []seller) (int, error) {
	client := ivs.New(ivs.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, ""),
		BaseEndpoint: aws.String(e.ivsURL),
	})
	// The bench's own calls are not the service's: no latency, no limit.
	e.emu.SetLatency(0)
	e.emu.SetRateLimit(0)
	defer func() {
		e.emu.SetLatency(e.o.ivsLatency)
		e.emu.SetRateLimit(e.o.ivsRateLimit)
	}()
	n := 0
	for _, s := range sellers {
		out, err := client.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: aws.String(s.channel.ARN)})
		if err != nil {
			return n, err
		}
		if len(out.StreamKeys) == 1 {
			n++
		}
	}
	return n, nil
}

// coldStart is the time from process start to the first 200 answer.
type coldStart struct {
	Label      string // what the series changes
	Runs       []coldRun
	IVSLatency time.Duration
}

type coldRun struct {
	Listening time.Duration // to the first 200 from /healthz
	First200  time.Duration // to the first 200 to a hot request
	IVSCalls  int           // made for that request
}

func (c *coldStart) median(f func(coldRun) time.Duration) time.Duration {
	d := make([]time.Duration, len(c.Runs))
	for i, r := range c.Runs {
		d[i] = f(r)
	}
	return summarize(d).P50
}

// coldStarts starts the service runs times at IVS latency latency, with
// extra in its environment, each time measuring from just before the
// process starts to the first 200 answer to a hot request (a show whose key
// ARN is recorded but, in a new process, not cached). It leaves the emulator
// at the configured latency.
func (e *env) coldStarts(ctx context.Context, runs int, latency time.Duration, extra []string) (*coldStart, error) {
	e.emu.SetLatency(latency)
	defer e.emu.SetLatency(e.o.ivsLatency)
	cs := &coldStart{IVSLatency: latency}
	for i := range runs {
		// A pause first, as between deployments: the IVS call budget, a
		// token bucket of burst 1, is full again.
		e.settle(ctx)
		run, err := e.coldStart(ctx, newRequest(e.hot[i%len(e.hot)]), extra)
		if err != nil {
			return nil, err
		}
		cs.Runs = append(cs.Runs, run)
	}
	return cs, nil
}

func (e *env) coldStart(ctx context.Context, req request, extra []string) (coldRun, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	port, err := freePort()
	if err != nil {
		return coldRun{}, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	e.emu.ResetCounts()
	c, err := startChild("ivs-ingest serve (cold start)", e.bin, []string{"serve"}, e.serviceEnv(port, extra...))
	if err != nil {
		return coldRun{}, err
	}
	defer c.stop()

	listening := make(chan time.Duration, 1)
	go func() {
		client := &http.Client{Timeout: time.Second}
		for ctx.Err() == nil {
			if resp, err := client.Get(base + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					listening <- time.Since(c.started)
					return
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	lc := newLoadClient(base, 1, 30*time.Second)
	defer lc.close()
	var run coldRun
	for {
		status, body, err := lc.do(ctx, req)
		if err == nil && status == http.StatusOK {
			run.First200 = time.Since(c.started)
			break
		}
		if err == nil {
			return coldRun{}, c.failure(fmt.Errorf("first answer %d %s", status, body))
		}
		if c.exited() || ctx.Err() != nil {
			return coldRun{}, c.failure(fmt.Errorf("no 200 answer: %w", err))
		}
		time.Sleep(time.Millisecond)
	}
	run.IVSCalls = e.emu.TotalCalls()
	select {
	case run.Listening = <-listening:
	case <-ctx.Done():
	}
	return run, nil
}

// callsPerShow is the IVS calls of the burst per show requested.
func (b *burstPhase) callsPerShow() float64 {
	if b.Shows == 0 {
		return 0
	}
	return float64(b.TotalCalls) / float64(b.Shows)
}
