package ingest

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Options tunes a Service.
type Options struct {
	// KeyCacheTTL is how long a key value read from IVS (or opened from
	// the store) is reused from this process's memory; 0 disables the
	// cache.
	KeyCacheTTL time.Duration
	// Vault seals the key values and SRT passphrases the store keeps, so
	// that every replica, after any restart, serves a stored key without
	// asking IVS. nil keeps key values in this process's memory only.
	Vault Vault
	// VerifyInterval is how old a stored key's last check against IVS may
	// be before a request that touches it starts another, in the
	// background; 0 for never. Only with a Vault.
	VerifyInterval time.Duration
	// ResolveTimeout bounds one read-or-create of a key, which several
	// requests may share; 0 means 30s.
	ResolveTimeout time.Duration
	// KeyCreatesPerHour limits each seller's key creations and rotations;
	// 0 for no limit.
	KeyCreatesPerHour int
	// KeyMaxAge is the age (since first seen) after which a key of an
	// offline channel is rotated on its next request; 0 for never.
	KeyMaxAge time.Duration
	// Limits makes the rate limits the service's rules set (a show's
	// revocations by its owner: one every RevokeInterval); every replica
	// sharing the store must share them. nil for none.
	Limits RateLimits
	// RequireMFA refuses getting, rotating and revoking keys to callers
	// whose token is not aal2 (see mayUseKeys).
	RequireMFA bool
	// StreamStates tells key expiry (and rotate-expired) whether a channel
	// is live from the stored stream state, when it is recent, instead of
	// an IVS GetStream call; nil: IVS is always asked.
	StreamStates StreamStates
	Logger       *slog.Logger
	// Metrics counts key cache hits and misses; nil for none.
	Metrics Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service answers requests for ingest details.
type Service struct {
	// base ends the key resolutions still running when the service closes.
	base           context.Context
	stop           context.CancelCauseFunc
	store          Store
	ivs            IVS
	keys           *keyCache
	flights        singleflight.Group
	resolveTimeout time.Duration
	createsPerHour int
	revocations    Limiter
	maxAge         time.Duration
	requireMFA     bool
	liveMu         sync.Mutex
	liveUntil      map[string]time.Time     // channel ARN -> until when it counts as live
	streamStates   StreamStates             // nil: ask IVS
	vault          atomic.Pointer[vaultBox] // nil box: no key store (yet)
	verifyInterval time.Duration
	unknownKeys    sync.Map // master key ids already logged as unknown
	checks         checks
	background     sync.WaitGroup // the background checks running
	logger         *slog.Logger
	metrics        Metrics
	now            func() time.Time
	// ivsWait sums how long the service's IVS reservations queued for
	// their first slot (nanoseconds), for a batch's progress.
	ivsWait atomic.Int64
}

// NewService returns a Service over store and ivs.
func NewService(store Store, ivs IVS, opts Options) *Service {
	base, stop := context.WithCancelCause(context.Background())
	s := &Service{
		base:           base,
		stop:           stop,
		store:          store,
		ivs:            ivs,
		keys:           newKeyCache(opts.KeyCacheTTL),
		resolveTimeout: opts.ResolveTimeout,
		createsPerHour: opts.KeyCreatesPerHour,
		maxAge:         opts.KeyMaxAge,
		requireMFA:     opts.RequireMFA,
		liveUntil:      make(map[string]time.Time),
		streamStates:   opts.StreamStates,
		verifyInterval: opts.VerifyInterval,
		checks:         checks{started: make(map[string]time.Time)},
		logger:         opts.Logger,
		metrics:        opts.Metrics,
		now:            opts.Now,
	}
	if opts.Vault != nil {
		s.vault.Store(&vaultBox{opts.Vault})
	}
	if s.metrics == nil {
		s.metrics = noMetrics{}
	}
	if s.resolveTimeout <= 0 {
		s.resolveTimeout = 30 * time.Second
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if opts.Limits != nil {
		s.revocations = opts.Limits(LimitRevocations, RevokeInterval, 1)
	}
	return s
}

// vaultBox holds a Vault for an atomic.Pointer, which cannot hold an
// interface.
type vaultBox struct{ v Vault }

// SetVault turns the key store on, or changes its vault, while the service
// runs: for a vault whose master key becomes available after start (a KMS
// data key unwrapped once KMS answers). Requests already running finish with
// the vault they started with, or without one.
func (s *Service) SetVault(v Vault) {
	if v == nil {
		s.vault.Store(nil)
		return
	}
	s.vault.Store(&vaultBox{v})
}

// keyVault is the key store's vault now; nil when there is no key store.
func (s *Service) keyVault() Vault {
	if b := s.vault.Load(); b != nil {
		return b.v
	}
	return nil
}

// Close cancels in-flight key resolutions (detached from their requests)
// and background checks, with ErrClosed as their cause, and waits for the
// checks to end, so the store can close.
func (s *Service) Close() {
	s.checks.close()
	s.stop(ErrClosed)
	s.background.Wait()
}
