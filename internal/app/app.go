// Package app assembles ivs-ingest from its configuration: the store, the
// token verifier, the IVS client, the domain service and the HTTP handler.
// It is the only place that does: serve, Lambda, dev, doctor, the batch
// commands and the end-to-end tests build what they run through it, so all
// of them run the same wiring.
//
// Open assembles the service over DATABASE_URL's PostgreSQL, Assemble over
// Parts the caller opened (dev's SQLite, tests), and OpenDomain the domain
// without its HTTP front for the batch commands. The builders they share
// (OpenPostgres, OpenSQLite, IVS, CallBudget, IAMPolicy) are exported for
// the commands that need one part only.
package app

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/auth"
	"github.com/ivs-ingest/ivs-ingest/internal/budget"
	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/httpapi"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ivs"
	"github.com/ivs-ingest/ivs-ingest/internal/limit"
	"github.com/ivs-ingest/ivs-ingest/internal/metrics"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
	"github.com/ivs-ingest/ivs-ingest/internal/version"
)

// Domain is the service without its HTTP front: what the batch commands
// run, and the core of an App.
type Domain struct {
	// Service is the domain.
	Service *ingest.Service
	// Store is the store the service runs over, for reads the domain does
	// not wrap (the audit command's).
	Store Store
	// Metrics is the process's registry, also served at GET /metrics by an
	// App. Always set: nothing downstream handles a missing registry.
	Metrics *metrics.Metrics
	// Retention deletes audit rows older than AUDIT_RETENTION.
	Retention *ingest.Retention
	// Streams keeps the channels' stream states (IVS events, reconciliation)
	// and reads them for the status endpoint and key expiry.
	Streams *streamstatus.Service

	closers  []func()
	logger   *slog.Logger
	keyStore *kmsKeyStore // the KMS option's; nil without it
}

// App is the assembled service.
type App struct {
	*Domain
	// Handler serves the HTTP API, /healthz, /readyz and /metrics.
	Handler http.Handler
	// RequestTimeout bounds a request's work; the server's write timeout
	// must exceed it.
	RequestTimeout time.Duration

	verifier *auth.Verifier
}

// Option changes how Open and Assemble assemble the service.
type Option func(*options)

type options struct {
	metricsNeedToken bool
	keyStoreRetry    func(time.Duration) <-chan time.Time
}

// WithKeyStoreRetry makes the KMS option's background retry wait each of
// its delays with after instead of time.After: tests decide when it retries.
func WithKeyStoreRetry(after func(time.Duration) <-chan time.Time) Option {
	return func(o *options) { o.keyStoreRetry = after }
}

// WithMetricsOnlyBehindToken serves GET /metrics only when METRICS_TOKEN is
// set, and answers 404 there otherwise. Lambda mode uses it: a function URL
// is public, and no network boundary stands in for the token.
func WithMetricsOnlyBehindToken() Option {
	return func(o *options) { o.metricsNeedToken = true }
}

// Open opens DATABASE_URL's PostgreSQL store, refusing a schema older than
// this binary, and assembles the service over it; Close closes both. cfg
// must satisfy cfg.RequireServe.
func Open(ctx context.Context, cfg config.Config, logger *slog.Logger, opts ...Option) (*App, error) {
	db, err := openChecked(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a, err := Assemble(ctx, cfg, PostgresParts(db), logger, opts...)
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := a.Metrics.WatchPool(func() metrics.PoolStats { return poolStats(db) }); err != nil {
		a.Close()
		db.Close()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	batches, err := a.Metrics.AuditBatches(db.AuditRowsQueued)
	if err != nil {
		a.Close()
		db.Close()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	db.ObserveAuditBatches(batches)
	a.closers = append(a.closers, db.Close)
	logger.Info("store", "kind", "postgres", "checks_sessions", db.ChecksSessions())
	return a, nil
}

// OpenDomain opens DATABASE_URL's PostgreSQL store, refusing a schema older
// than this binary, and assembles the domain over it, for the commands that
// act without HTTP; Close closes both. cfg must satisfy cfg.RequireDatabase.
func OpenDomain(ctx context.Context, cfg config.Config, logger *slog.Logger) (*Domain, error) {
	db, err := openChecked(ctx, cfg)
	if err != nil {
		return nil, err
	}
	d, err := newDomain(ctx, cfg, PostgresParts(db), logger, metrics.New(version.String()), options{})
	if err != nil {
		db.Close()
		return nil, err
	}
	d.closers = append(d.closers, db.Close)
	return d, nil
}

// Assemble assembles the service over parts, whose store the caller keeps
// and closes after the App.
func Assemble(ctx context.Context, cfg config.Config, parts Parts, logger *slog.Logger, opts ...Option) (*App, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	m := metrics.New(version.String())
	var requestLimits limit.Source // nil: this process's memory
	if cfg.RequestLimitsInDatabase {
		if requestLimits = parts.Limits; requestLimits == nil {
			return nil, fmt.Errorf("RATE_LIMIT_STORE=database: the %T store cannot keep rate limits", parts.Store)
		}
	}
	verifier, err := auth.New(context.WithoutCancel(ctx), verifierConfig(cfg, logger, m))
	if err != nil {
		return nil, fmt.Errorf("token verification: %w", err)
	}
	d, err := newDomain(ctx, cfg, parts, logger, m, o)
	if err != nil {
		verifier.Close()
		return nil, err
	}
	if !cfg.KeyStore() {
		logger.Warn(NoKeyStore)
	}
	scrape := m.Handler()
	if o.metricsNeedToken && cfg.MetricsToken.IsZero() {
		scrape = nil // httpapi answers 404
	}
	handler := httpapi.NewServer(httpapi.Config{
		AllowedOrigins:                cfg.CORSAllowedOrigins,
		TrustedProxies:                cfg.TrustedProxies,
		RequestsPerMinute:             cfg.RequestsPerMinute,
		RequestsPerMinutePerIP:        cfg.RequestsPerMinutePerIP,
		Limits:                        requestLimits,
		KeySetRetry:                   cfg.JWKSRefetchInterval,
		RequestTimeout:                cfg.RequestTimeout(),
		Logger:                        logger,
		Metrics:                       m,
		MetricsHandler:                scrape,
		MetricsToken:                  cfg.MetricsToken,
		ReadyDetail:                   d.KeyStoreDetail,
		EventsToken:                   cfg.IVSEventsToken,
		StreamEvents:                  d.Streams,
		StreamViews:                   d.Streams,
		StreamStatusRequestsPerMinute: cfg.StreamStatusRequestsPerMinute,

		// By default four times the pool: while as many requests hold a
		// connection, the others verify tokens, encode answers or wait
		// for their audit row's group commit without one, whose batches
		// grow with them. Measured (BENCHMARKS.md section 8): at 200
		// connections 2x gave 1.05x the floor's throughput, 4x 1.23x, 8x
		// 1.59x; at 1,000 connections 4x kept peak RSS 5.7 MiB above the
		// floor's, 8x 9.8 MiB (the stacks of the admitted requests).
		MaxActiveRequests: cmp.Or(cfg.MaxActiveRequests, httpapi.ActiveRequestsPerConn*int(cfg.DatabaseMaxConns)),
	}, verifier, d.Service, parts.Store.Ping)
	return &App{Domain: d, Handler: handler, RequestTimeout: cfg.RequestTimeout(), verifier: verifier}, nil
}

// NoKeyStore says what running without a key store costs: serve logs it at
// start, doctor prints it.
const NoKeyStore = "no key store (STREAM_KEY_ENCRYPTION_KEY and STREAM_KEY_KMS_KEY_ID are unset): stream keys live in each process's memory only, " +
	"so each new process (a deploy, a scale-out, a Lambda instance) asks IVS again for every key: about two sellers per second " +
	"for the whole marketplace. See docs/key-store.md"

// newDomain assembles the domain over parts, reporting to m.
func newDomain(ctx context.Context, cfg config.Config, parts Parts, logger *slog.Logger, m *metrics.Metrics, o options) (*Domain, error) {
	svc, streams, err := newService(ctx, cfg, parts, logger, m)
	if err != nil {
		return nil, err
	}
	retention := ingest.NewRetention(parts.Store, ingest.RetentionOptions{
		Age: cfg.AuditRetention, Leases: parts.Leases, Sweep: parts.SweepLimits, Logger: logger,
	})
	d := &Domain{Service: svc, Store: parts.Store, Metrics: m, Retention: retention, Streams: streams, closers: []func(){svc.Close}, logger: logger}
	if cfg.StreamKeyKMSKeyID != "" {
		ks, err := startKMSKeyStore(ctx, cfg, parts.Store, svc, logger, o.keyStoreRetry)
		if err != nil {
			svc.Close()
			return nil, err
		}
		d.keyStore = ks
		// First: the retry ends before the service and the store close.
		d.closers = append([]func(){ks.close}, d.closers...)
	}
	return d, nil
}

// KeyStoreDetail is "" unless a key store is configured but not in use
// yet (the KMS option, while KMS has not unwrapped its data key): then it
// says why, for /readyz and the log.
func (d *Domain) KeyStoreDetail() string {
	if d.keyStore == nil {
		return ""
	}
	return d.keyStore.Detail()
}

// KeyStoreReady is closed once the KMS option's key store is in use; nil
// without the KMS option.
func (d *Domain) KeyStoreReady() <-chan struct{} {
	if d.keyStore == nil {
		return nil
	}
	return d.keyStore.ready
}

// newService assembles the domain service over parts: the IVS clients, one
// per region (each channel's calls go to its ARN's region), their call
// budgets kept in parts.Slots and each seller's share of them in
// parts.Limits (this process's memory where the parts keep none), and the
// key store's vault.
func newService(ctx context.Context, cfg config.Config, parts Parts, logger *slog.Logger, m *metrics.Metrics) (*ingest.Service, *streamstatus.Service, error) {
	vault, err := Vault(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("key store: %w", err)
	}
	limits := parts.Limits
	if limits == nil {
		limits = limit.NewLocal()
	}
	schedules := parts.Slots
	if schedules == nil {
		schedules = budget.NewLocalSchedules()
	}
	budgetOf := func(region string) *budget.Budget {
		return regionBudget(cfg, schedules, region).
			ShareBySeller(limits, region, limit.PerSecond(cfg.IVSSellerCallsPerSecond, cfg.IVSSellerBurst))
	}
	ivsClient, err := IVS(ctx, cfg, IVSOptions{Budget: budgetOf(cfg.AWSRegion), Metrics: m})
	if err != nil {
		// Calls to IVS will fail and log this again.
		logger.Warn("AWS is not usable; requests that need IVS will fail", "error", err.Error())
	}
	regions := ivs.NewRegions(ivsClient, budgetOf)
	streams := streamstatus.New(streamstatus.Options{
		Store:   parts.Store,
		Streams: regions,
		Leases:  parts.Leases,
		Metrics: m,
		Logger:  logger,
		// A state one missed reconciliation old is still trusted; with
		// reconciliation off, none is (0).
		FreshFor: 2 * cfg.StreamReconcileInterval(),
	})
	return ingest.NewService(parts.Store, regions, ingest.Options{
		KeyCacheTTL:       cfg.StreamKeyCacheTTL,
		Vault:             vault,
		VerifyInterval:    cfg.StreamKeyVerifyInterval,
		KeyCreatesPerHour: cfg.KeyCreatesPerHour,
		Limits: func(name string, interval time.Duration, burst int) ingest.Limiter {
			return limit.New(limits, name, limit.Rate{Interval: interval, Burst: burst})
		},
		RequireMFA:     cfg.RequireMFA,
		KeyMaxAge:      cfg.StreamKeyMaxAge,
		ResolveTimeout: cfg.RequestTimeout(),
		Logger:         logger,
		Metrics:        m,
		StreamStates:   streams,
	}), streams, nil
}

// AuditRetentionInterval is how often a serving process prunes the audit
// trail (give or take a tenth).
const AuditRetentionInterval = time.Hour

// StartAuditRetention prunes the audit trail now and then about every
// interval, in the background, until Close. It does nothing when
// AUDIT_RETENTION is 0.
func (d *Domain) StartAuditRetention(every time.Duration) {
	if d.Retention.Age() <= 0 {
		d.logger.Info("audit retention off: AUDIT_RETENTION is 0, rows are kept for ever")
		return
	}
	d.background(func(ctx context.Context) { d.Retention.Run(ctx, every) })
}

// Close stops background work and closes what OpenDomain opened, in order:
// the service's leftover key resolutions before the store they use.
func (d *Domain) Close() {
	for _, c := range d.closers {
		c()
	}
}

// Close stops the token verifier's refreshes, then closes the Domain.
func (a *App) Close() {
	a.verifier.Close()
	a.Domain.Close()
}

// CallBudget is AWS_REGION's IVS call budget of IVS_MAX_CALLS_PER_SECOND,
// a seller's call waiting at most IVS_BUDGET_WAIT, over schedules: those
// every replica shares, or nil for this process's memory.
func CallBudget(cfg config.Config, schedules budget.Schedules) *budget.Budget {
	if schedules == nil {
		schedules = budget.NewLocalSchedules()
	}
	return regionBudget(cfg, schedules, cfg.AWSRegion)
}

// regionBudget is region's IVS call budget over its schedule: AWS_REGION's
// is budget.DefaultBucket (the schedule of the versions before regions),
// any other region's is named after it.
func regionBudget(cfg config.Config, schedules budget.Schedules, region string) *budget.Budget {
	bucket := region
	if region == cfg.AWSRegion {
		bucket = budget.DefaultBucket
	}
	return budget.New(schedules.Schedule(bucket), cfg.IVSCallsPerSecond, cfg.IVSBudgetWait)
}

// poolStats reads db's pool figures for the metrics.
func poolStats(db *postgres.DB) metrics.PoolStats {
	s := db.Stat()
	return metrics.PoolStats{
		MaxConns:             s.MaxConns(),
		AcquiredConns:        s.AcquiredConns(),
		IdleConns:            s.IdleConns(),
		ConstructingConns:    s.ConstructingConns(),
		AcquireCount:         s.AcquireCount(),
		AcquireDuration:      s.AcquireDuration(),
		EmptyAcquireCount:    s.EmptyAcquireCount(),
		CanceledAcquireCount: s.CanceledAcquireCount(),
	}
}

// verifierConfig is the token verifier's configuration: SUPABASE_*, the
// JWKS intervals and JWT_LEEWAY.
func verifierConfig(cfg config.Config, logger *slog.Logger, m *metrics.Metrics) auth.Config {
	leeway := cfg.JWTLeeway
	if leeway == 0 {
		leeway = auth.NoLeeway // JWT_LEEWAY=0 means none; auth's zero means its default
	}
	cacheSize := cfg.JWTCacheSize
	if cacheSize == 0 {
		cacheSize = auth.NoTokenCache // likewise
	}
	return auth.Config{
		Issuer:          cfg.JWTIssuer,
		JWKSURL:         cfg.JWKSURL,
		HS256Secret:     cfg.JWTSecret,
		RefetchInterval: cfg.JWKSRefetchInterval,
		RefreshInterval: cfg.JWKSRefreshInterval,
		Leeway:          leeway,
		TokenCacheSize:  cacheSize,
		Logger:          logger,
		Metrics:         m,
	}
}
