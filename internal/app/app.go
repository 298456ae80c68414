// Package app assembles ivs-ingest from its configuration: the store, the
// token verifier, the IVS client, the domain service and the HTTP handler.
// The serve and dev commands and the end-to-end tests build the service
// through it, so all of them run the same wiring.
package app

import (
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
	"github.com/ivs-ingest/ivs-ingest/internal/version"
)

// Store is what the service needs of a store.
type Store interface {
	ingest.Store
	ingest.AuditPruner
	Ping(ctx context.Context) error
}

// App is the assembled service.
type App struct {
	Handler http.Handler
	// Service is the domain, for commands that act without HTTP.
	Service *ingest.Service
	// RequestTimeout bounds a request's work; the server's write timeout
	// must exceed it.
	RequestTimeout time.Duration

	// Metrics is the process's registry, also served at GET /metrics.
	Metrics *metrics.Metrics
	// Retention deletes audit rows older than AUDIT_RETENTION.
	Retention *ingest.Retention

	verifier *auth.Verifier
	closers  []func()
	logger   *slog.Logger
}

// Option changes how New and Build assemble the service.
type Option func(*options)

type options struct {
	metricsNeedToken bool
}

// WithMetricsOnlyBehindToken serves GET /metrics only when METRICS_TOKEN is
// set, and answers 404 there otherwise. Lambda mode uses it: a function URL
// is public, and no network boundary stands in for the token.
func WithMetricsOnlyBehindToken() Option {
	return func(o *options) { o.metricsNeedToken = true }
}

// New opens the PostgreSQL store named by cfg and assembles the service over
// it. cfg must satisfy cfg.RequireServe.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger, opts ...Option) (*App, error) {
	db, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a, err := Build(ctx, cfg, db, logger, opts...)
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := a.Metrics.WatchPool(func() metrics.PoolStats { return poolStats(db) }); err != nil {
		a.Close()
		db.Close()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	a.closers = append(a.closers, db.Close)
	logger.Info("store", "kind", "postgres", "checks_sessions", db.ChecksSessions())
	return a, nil
}

// OpenStore opens DATABASE_URL's PostgreSQL store and refuses one whose
// schema is older than this binary.
func OpenStore(ctx context.Context, cfg config.Config) (*postgres.DB, error) {
	db, err := postgres.Open(ctx, cfg.DatabaseURL.Reveal(), postgres.Options{MaxConns: cfg.DatabaseMaxConns})
	if err != nil {
		return nil, err
	}
	if err := db.CheckSchema(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Build assembles the service over store, which the caller keeps and closes.
func Build(ctx context.Context, cfg config.Config, store Store, logger *slog.Logger, opts ...Option) (*App, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	m := metrics.New(version.String())
	verifier, err := auth.New(context.WithoutCancel(ctx), auth.Config{
		Issuer:          cfg.JWTIssuer,
		JWKSURL:         cfg.JWKSURL,
		HS256Secret:     cfg.JWTSecret,
		RefetchInterval: cfg.JWKSRefetchInterval,
		Logger:          logger,
		Metrics:         m,
	})
	if err != nil {
		return nil, fmt.Errorf("token verification: %w", err)
	}
	svc := newService(ctx, cfg, store, logger, m)
	work := RequestTimeout(cfg)
	scrape := m.Handler()
	if o.metricsNeedToken && cfg.MetricsToken.IsZero() {
		scrape = nil // httpapi answers 404
	}
	var requestLimits limit.Source // nil: this process's memory
	if cfg.RequestLimitsInDatabase {
		if requestLimits = sharedLimits(store); requestLimits == nil {
			svc.Close()
			verifier.Close()
			return nil, fmt.Errorf("RATE_LIMIT_STORE=database: the %T store cannot keep rate limits", store)
		}
	}
	handler := httpapi.NewServer(httpapi.Config{
		AllowedOrigins:         cfg.CORSAllowedOrigins,
		RequestsPerMinute:      cfg.RequestsPerMinute,
		RequestsPerMinutePerIP: cfg.RequestsPerMinutePerIP,
		Limits:                 requestLimits,
		RequestTimeout:         work,
		Logger:                 logger,
		Metrics:                m,
		MetricsHandler:         scrape,
		MetricsToken:           cfg.MetricsToken,
	}, verifier, svc, store.Ping)
	return &App{Handler: handler, Service: svc, RequestTimeout: work, Metrics: m, Retention: NewRetention(cfg, store, logger),
		verifier: verifier, closers: []func(){svc.Close}, logger: logger}, nil
}

// NewRetention returns the retention of store's audit trail, leased
// across replicas where the store can lease (one process holds the
// embedded store, which needs no lease).
func NewRetention(cfg config.Config, store ingest.AuditPruner, logger *slog.Logger) *ingest.Retention {
	opts := ingest.RetentionOptions{Age: cfg.AuditRetention, Logger: logger}
	if l, ok := store.(ingest.Leaser); ok {
		opts.Leases = l
	}
	if p, ok := store.(interface {
		PruneRateLimits(ctx context.Context) (int64, error)
	}); ok {
		opts.Sweep = p.PruneRateLimits
	}
	return ingest.NewRetention(store, opts)
}

// AuditRetentionInterval is how often a serving process prunes the audit
// trail (give or take a tenth).
const AuditRetentionInterval = time.Hour

// StartAuditRetention prunes the audit trail now and then about every
// interval, in the background, until Close. It does nothing when
// AUDIT_RETENTION is 0.
func (a *App) StartAuditRetention(every time.Duration) {
	if a.Retention.Age() <= 0 {
		a.logger.Info("audit retention off: AUDIT_RETENTION is 0, rows are kept for ever")
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Retention.Run(ctx, every)
	}()
	// First among the closers: the loop ends before the store closes.
	a.closers = append([]func(){func() { cancel(); <-done }}, a.closers...)
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

// RequestTimeout is how long a request may work: it may wait for IVS call
// budget, then needs time for its IVS calls.
func RequestTimeout(cfg config.Config) time.Duration { return cfg.IVSBudgetWait + 30*time.Second }

// NewService assembles the domain over store: the IVS client, with the call
// budget shared by every replica where the store can share it (in process
// otherwise: the embedded store has one process). The caller closes it.
func NewService(ctx context.Context, cfg config.Config, store ingest.Store, logger *slog.Logger) *ingest.Service {
	return newService(ctx, cfg, store, logger, nil)
}

// newService is NewService reporting to m, which may be nil.
func newService(ctx context.Context, cfg config.Config, store ingest.Store, logger *slog.Logger, m *metrics.Metrics) *ingest.Service {
	// A nil *Metrics in an interface would not be a nil interface: give the
	// consumers nil itself, so that they install no instrumentation at all.
	var (
		ivsMetrics ivs.Metrics
		svcMetrics ingest.Metrics
	)
	if m != nil {
		ivsMetrics, svcMetrics = m, m
	}
	var slots budget.SlotSource = budget.NewLocal()
	if shared, ok := store.(budget.SlotSource); ok {
		slots = shared
	}
	limits := sharedLimits(store)
	if limits == nil {
		limits = limit.NewLocal()
	}
	calls := budget.New(slots, cfg.IVSCallsPerSecond, cfg.IVSBudgetWait).
		ShareBySeller(limits, cfg.AWSRegion, limit.PerSecond(cfg.IVSSellerCallsPerSecond, cfg.IVSSellerBurst))
	ivsClient, err := ivs.New(ctx, ivs.Config{
		Region:          cfg.AWSRegion,
		Endpoint:        cfg.AWSEndpointIVS,
		AccessKeyID:     cfg.AWSAccessKeyID,
		SecretAccessKey: cfg.AWSSecretAccessKey,
		SessionToken:    cfg.AWSSessionToken,
		Budget:          calls,
		Metrics:         ivsMetrics,
	})
	if err != nil {
		// Calls to IVS will fail and log this again.
		logger.Warn("AWS is not usable; requests that need IVS will fail", "error", err.Error())
	}
	return ingest.NewService(store, ivsClient, ingest.Options{
		KeyCacheTTL:       cfg.StreamKeyCacheTTL,
		KeyCreatesPerHour: cfg.KeyCreatesPerHour,
		Revocations:       limit.New(limits, ingest.LimitRevocations, limit.Rate{Interval: ingest.RevokeInterval, Burst: 1}),
		KeyMaxAge:         cfg.StreamKeyMaxAge,
		ResolveTimeout:    RequestTimeout(cfg),
		Logger:            logger,
		Metrics:           svcMetrics,
	})
}

// sharedLimits returns the store's rate limits, shared by every replica on
// it; nil when the store keeps none (the embedded store: one process).
func sharedLimits(store any) limit.Source {
	if shared, ok := store.(limit.Source); ok {
		return shared
	}
	return nil
}

// Close stops background work and closes what New opened, in order: the
// service's leftover key resolutions before the store they use.
func (a *App) Close() {
	a.verifier.Close()
	for _, c := range a.closers {
		c()
	}
}
