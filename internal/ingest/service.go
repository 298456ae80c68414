package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/ivs-ingest/ivs-ingest/internal/budget"
)

// Options tunes a Service.
type Options struct {
	// KeyCacheTTL is how long a key value read from IVS is reused without
	// asking IVS again; 0 disables the cache.
	KeyCacheTTL time.Duration
	// ResolveTimeout bounds one read-or-create of a key, which several
	// requests may share; 0 means 30s.
	ResolveTimeout time.Duration
	// KeyCreatesPerHour limits each seller's key creations and rotations;
	// 0 for no limit.
	KeyCreatesPerHour int
	// KeyMaxAge is the age (since first seen) after which a key of an
	// offline channel is rotated on its next request; 0 for never.
	KeyMaxAge time.Duration
	// Budget is the IVS call budget shared by every replica; nil for none.
	// The calls a step needs are reserved before its channel lock is taken,
	// so the lock is never held while waiting in the budget's queue.
	Budget *budget.Budget
	Logger *slog.Logger
	// Metrics counts key cache hits and misses; nil for none.
	Metrics Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service answers requests for ingest details.
type Service struct {
	// base ends the key resolutions still running when the service closes.
	base           context.Context
	stop           context.CancelFunc
	store          Store
	ivs            IVS
	keys           *keyCache
	flights        singleflight.Group
	resolveTimeout time.Duration
	createsPerHour int
	budget         *budget.Budget
	maxAge         time.Duration
	liveMu         sync.Mutex
	liveUntil      map[string]time.Time // channel ARN -> until when it counts as live
	logger         *slog.Logger
	metrics        Metrics
	now            func() time.Time
}

// Metrics is what the service reports about its work.
type Metrics interface {
	KeyCacheLookup(hit bool)
}

type noMetrics struct{}

func (noMetrics) KeyCacheLookup(bool) {}

// NewService returns a Service over store and ivs.
func NewService(store Store, ivs IVS, opts Options) *Service {
	base, stop := context.WithCancel(context.Background())
	s := &Service{
		base:           base,
		stop:           stop,
		store:          store,
		ivs:            ivs,
		keys:           newKeyCache(opts.KeyCacheTTL),
		resolveTimeout: opts.ResolveTimeout,
		createsPerHour: opts.KeyCreatesPerHour,
		budget:         opts.Budget,
		maxAge:         opts.KeyMaxAge,
		liveUntil:      make(map[string]time.Time),
		logger:         opts.Logger,
		metrics:        opts.Metrics,
		now:            opts.Now,
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
	return s
}

// Close cancels the key resolutions still running, which requests that
// gave up left behind, so that the store can close without waiting for them.
func (s *Service) Close() { s.stop() }

// IngestDetails returns the RTMPS endpoint and stream key of the show in req,
// creating the key on first use. The checks run in the order of the API's
// error table, so the first failing one decides the answer.
//
// A show whose key is known costs one store round trip and no IVS call.
func (s *Service) IngestDetails(ctx context.Context, req Request) (Details, error) {
	show, err := s.authorize(ctx, req)
	if err != nil {
		return Details{}, err
	}
	if s.expired(show) {
		// One renewal per show at a time: a burst of requests for one
		// expired key asks IVS once.
		ch := s.flights.DoChan("expire|"+show.ID+"|"+show.StreamKeyARN, func() (any, error) {
			d, ok := s.renewExpired(context.WithoutCancel(ctx), show)
			return renewal{d, ok}, nil
		})
		select {
		case <-ctx.Done():
			return Details{}, ctx.Err()
		case r := <-ch:
			if rn := r.Val.(renewal); rn.ok {
				return rn.d, nil
			}
		}
	}
	if endpoint := NormalizeEndpoint(show.IngestEndpoint); endpoint != "" {
		if v, srt, ok := s.keys.get(show.StreamKeyARN, show.ChannelARN, s.now()); ok {
			s.metrics.KeyCacheLookup(true)
			return Details{IngestEndpoint: endpoint, StreamKey: v, SRT: srt, Action: ActionGet,
				StreamKeyARN: show.StreamKeyARN, SellerID: show.SellerID}, nil
		}
	}
	s.metrics.KeyCacheLookup(false)
	return s.resolve(ctx, show)
}

// renewal is the result of renewExpired shared by a flight.
type renewal struct {
	d  Details
	ok bool
}

// authorize decides whether req may see the show's key, from facts read in
// one round trip.
func (s *Service) authorize(ctx context.Context, req Request) (Show, error) {
	facts, err := s.store.Authorize(ctx, AuthzQuery{
		UserID:               req.Caller.UserID,
		SessionID:            req.Caller.SessionID,
		ShowID:               req.ShowID,
		ImpersonatedSellerID: req.ImpersonateSellerID,
	})
	if err != nil {
		return Show{}, fmt.Errorf("authorize: %w", err)
	}
	impersonating := req.ImpersonateSellerID != ""
	switch {
	case !facts.SessionActive:
		return Show{}, ErrSessionEnded
	case impersonating && !facts.IsAdmin:
		return Show{}, ErrImpersonationDenied
	case facts.Seller == nil:
		return Show{}, ErrSellerNotFound
	// Why: an admin acting as a seller may prepare a show before the
	// seller is approved; the seller alone may not go live until then.
	case facts.Seller.Status != SellerApproved && !impersonating:
		return Show{}, ErrSellerNotApproved
	case facts.Show == nil:
		return Show{}, ErrShowNotFound
	case facts.Show.SellerID != facts.Seller.ID:
		return Show{}, ErrNotShowOwner
	case facts.Show.ChannelARN == "":
		return Show{}, ErrNoChannel
	}
	return *facts.Show, nil
}

// resolve reads or creates the show's key through IVS. Concurrent requests
// for the same show share one resolution; the result does not depend on who
// asked, since every asker was authorized before.
func (s *Service) resolve(ctx context.Context, show Show) (Details, error) {
	// The recorded key is part of the flight: a request that already saw a
	// rotated (or revoked) key must not share a flight that started from
	// the old one.
	flight := show.ID + "|" + show.ChannelARN + "|" + show.StreamKeyARN
	ch := s.flights.DoChan(flight, func() (d any, err error) {
		// Why detached: a client that hangs up must not fail the others
		// waiting on the same flight. Close still ends it.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.resolveTimeout)
		defer cancel()
		defer context.AfterFunc(s.base, cancel)()
		// Why: singleflight re-panics in a goroutine of its own, where no
		// HTTP middleware can recover; the process would die.
		defer func() {
			if v := recover(); v != nil {
				s.logger.ErrorContext(ctx, "panic resolving stream key", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				d, err = nil, fmt.Errorf("panic resolving stream key: %v", v)
			}
		}()
		return s.resolveOnce(fctx, show)
	})
	select {
	case <-ctx.Done():
		return Details{}, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return Details{}, r.Err
		}
		return r.Val.(Details), nil
	}
}

func (s *Service) resolveOnce(ctx context.Context, show Show) (Details, error) {
	calls := 3 // GetChannel, ListStreamKeys, CreateStreamKey
	if show.StreamKeyARN != "" {
		calls = 2 // GetChannel, GetStreamKey
	}
	ctx, err := s.reserveCalls(ctx, calls)
	if err != nil {
		return Details{}, err
	}
	// GetChannel first: it proves the channel exists and refreshes the
	// ingest endpoint, which may have changed since it was stored.
	channel, err := s.ivs.GetChannel(ctx, show.ChannelARN)
	if err != nil {
		return Details{}, ivsFailure(ErrChannelUnavailable, "get channel", err)
	}
	endpoint := channel.IngestEndpoint
	found := func(key StreamKey, action Action) Details {
		s.keys.put(key, channel.SRT, s.now())
		s.noteSeen(ctx, key)
		return Details{IngestEndpoint: endpoint, StreamKey: key.Value, SRT: channel.SRT, Action: action,
			StreamKeyARN: key.ARN, SellerID: show.SellerID}
	}

	if show.StreamKeyARN != "" {
		key, ok, err := s.readKey(ctx, show.StreamKeyARN, show.ChannelARN)
		if err != nil {
			return Details{}, err
		}
		if ok {
			if show.IngestEndpoint != endpoint {
				if err := s.store.SetIngestEndpoint(ctx, show.ID, endpoint); err != nil {
					return Details{}, fmt.Errorf("record ingest endpoint: %w", err)
				}
			}
			return found(key, ActionGet), nil
		}
	}

	var key StreamKey
	action := ActionGet
	err = s.store.WithChannelLock(ctx, show.ChannelARN, func(tx ChannelTx) error {
		// Another request, maybe on another replica, may have recorded a
		// key while this one waited for the lock.
		recorded, err := tx.StreamKeyARN(ctx, show.ID)
		if err != nil {
			return fmt.Errorf("read recorded key: %w", err)
		}
		if recorded != "" && recorded != show.StreamKeyARN {
			k, ok, err := s.readKey(ctx, recorded, show.ChannelARN)
			if err != nil {
				return err
			}
			if ok {
				key = k
				return tx.RecordStreamKey(ctx, show.ID, k.ARN, endpoint)
			}
		}
		k, created, err := s.keyOfChannel(ctx, show)
		if err != nil {
			return err
		}
		if created {
			action = ActionCreate
		}
		key = k
		return tx.RecordStreamKey(ctx, show.ID, k.ARN, endpoint)
	})
	if err != nil {
		return Details{}, lockFailure(err)
	}
	return found(key, action), nil
}

// readKey reads a key by ARN. ok is false when the key no longer exists or
// belongs to another channel than channelARN.
func (s *Service) readKey(ctx context.Context, keyARN, channelARN string) (StreamKey, bool, error) {
	key, err := s.ivs.GetStreamKey(ctx, keyARN)
	switch {
	case errors.Is(err, ErrIVSNotFound):
		s.keys.forget(keyARN)
		s.logger.InfoContext(ctx, "stored stream key no longer exists in IVS", "stream_key_arn", keyARN)
		return StreamKey{}, false, nil
	case err != nil:
		return StreamKey{}, false, ivsFailure(ErrStreamKeyUnavailable, "get stream key", err)
	case key.ChannelARN != channelARN:
		s.logger.InfoContext(ctx, "stored stream key belongs to another channel",
			"stream_key_arn", keyARN, "key_channel_arn", key.ChannelARN, "channel_arn", channelARN)
		return StreamKey{}, false, nil
	}
	return key, true, nil
}

// keyOfChannel returns the channel's one key, creating it if there is none;
// created says which. The caller holds the channel's lock, so within the
// replicas sharing the store this is the only creator; a creator outside
// them (the console, a script) shows up as a quota error, and its key is
// then read instead.
func (s *Service) keyOfChannel(ctx context.Context, show Show) (key StreamKey, created bool, err error) {
	channelARN := show.ChannelARN
	existing := func() (StreamKey, bool, error) {
		arns, err := s.ivs.ListStreamKeys(ctx, channelARN)
		if err != nil {
			return StreamKey{}, false, ivsFailure(ErrStreamKeyUnavailable, "list stream keys", err)
		}
		for _, arn := range arns {
			k, ok, err := s.readKey(ctx, arn, channelARN)
			if err != nil || ok {
				return k, ok, err
			}
		}
		return StreamKey{}, false, nil
	}

	if k, ok, err := existing(); err != nil || ok {
		return k, false, err
	}
	return s.createKey(ctx, show, existing)
}

// createKey creates the key of show's channel, within the seller's hourly
// limit. On a quota error (another creator was first) it returns what adopt
// finds instead.
func (s *Service) createKey(ctx context.Context, show Show, adopt func() (StreamKey, bool, error)) (_ StreamKey, created bool, err error) {
	done, err := s.reserveCreation(ctx, show)
	if err != nil {
		return StreamKey{}, false, err
	}
	defer func() { done(created) }()
	return s.createReserved(ctx, show, adopt)
}

// operatorKey marks a context of an operator's batch command, whose
// creations do not use up the sellers' hourly allowance.
type operatorKey struct{}

// reserveCreation counts a key creation against the seller's hourly limit,
// or refuses with a *RateLimitedError. done must be called with whether the
// creation happened: only those count.
func (s *Service) reserveCreation(ctx context.Context, show Show) (done func(created bool), err error) {
	if s.createsPerHour <= 0 || ctx.Value(operatorKey{}) != nil {
		return func(bool) {}, nil
	}
	id, retryAfter, err := s.store.ReserveKeyCreation(ctx, show.SellerID, s.createsPerHour, time.Hour)
	if err != nil {
		return nil, err
	}
	if id == 0 {
		return nil, &RateLimitedError{RetryAfter: retryAfter}
	}
	return func(created bool) {
		if created {
			return
		}
		if err := s.store.CancelKeyCreation(context.WithoutCancel(ctx), id); err != nil {
			s.logger.ErrorContext(ctx, "key creation reservation not cancelled", "error", err.Error())
		}
	}, nil
}

// createReserved creates the key of show's channel; the caller reserved the
// creation.
func (s *Service) createReserved(ctx context.Context, show Show, adopt func() (StreamKey, bool, error)) (StreamKey, bool, error) {
	channelARN := show.ChannelARN
	k, err := s.ivs.CreateStreamKey(ctx, channelARN)
	if errors.Is(err, ErrIVSKeyQuota) {
		s.logger.InfoContext(ctx, "channel got a key from elsewhere; reading it", "channel_arn", channelARN)
		k, ok, err := adopt()
		if err == nil && !ok {
			err = ivsFailure(ErrStreamKeyUnavailable, "create stream key", ErrIVSKeyQuota)
		}
		return k, false, err
	}
	if err != nil {
		return StreamKey{}, false, ivsFailure(ErrStreamKeyUnavailable, "create stream key", err)
	}
	s.logger.InfoContext(ctx, "created stream key", "channel_arn", channelARN, "stream_key_arn", k.ARN)
	return k, true, nil
}

// reserveCalls reserves budget for n IVS calls and returns ctx carrying the
// reservation, which the IVS client draws on call by call.
func (s *Service) reserveCalls(ctx context.Context, n int) (context.Context, error) {
	if s.budget == nil {
		return ctx, nil
	}
	r, err := s.budget.Reserve(ctx, n)
	if err != nil {
		return ctx, err
	}
	return budget.NewContext(ctx, r), nil
}

// ivsFailure wraps an IVS error in the domain error that names the step,
// unless AWS is not configured at all (the operator's problem, an internal
// error, not a fact about the channel) or the call budget ran out (the
// caller is told when to come back).
func ivsFailure(domainErr error, step string, err error) error {
	if errors.Is(err, ErrIVSCredentials) || errors.Is(err, budget.ErrExhausted) {
		return fmt.Errorf("%s: %w", step, err)
	}
	return fmt.Errorf("%w: %s: %w", domainErr, step, err)
}
