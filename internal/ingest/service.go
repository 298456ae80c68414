package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/ivs-ingest/ivs-ingest/internal/budget"
	"github.com/ivs-ingest/ivs-ingest/internal/limit"
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
	// The calls a step needs are reserved, and their first slot awaited,
	// before its channel lock is taken, so the lock is never held while
	// waiting in the budget's queue.
	Budget *budget.Budget
	// Limits keeps the per-show revocation limit; every replica sharing
	// the store must share it. nil means this process only.
	Limits limit.Source
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
	revocations    *limit.Limiter
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
	if opts.Limits == nil {
		opts.Limits = limit.NewLocal()
	}
	s.revocations = limit.New(opts.Limits, LimitRevocations, limit.Rate{Interval: RevokeInterval, Burst: 1})
	return s
}

// RevokeInterval is the least time between two revocations of one show by
// its owner. Why: each revocation costs three IVS calls and stops the stream;
// an owner has no reason to revoke more often, and admins are exempt.
const RevokeInterval = 10 * time.Second

// LimitRevocations names the per-show revocation limit in its refusals.
const LimitRevocations = "revocations"

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
		// expired key asks IVS once. The request that starts it writes the
		// rotation's audit row.
		audit := req.Audit
		v, err := s.flight(ctx, "expire|"+show.ID+"|"+show.StreamKeyARN, func(fctx context.Context) (any, error) {
			d, ok := s.renewExpired(fctx, show, audit)
			return renewal{d, ok}, nil
		})
		if err != nil {
			return Details{}, err
		}
		if rn := v.(renewal); rn.ok {
			d, starter := rn.d, rn.d.AuditedBy == req.Audit.RequestID
			if !starter {
				// The renewal is the starter's, on record once; this
				// request got the new key.
				d.Action, d.AuditedBy = ActionGet, ""
			}
			d, err := s.answerAfterWait(ctx, req, show, d)
			if err != nil && starter {
				// The renewal's row is written: no second one.
				return Details{}, &AuditedError{Err: err, RequestID: req.Audit.RequestID}
			}
			return d, err
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
	d, err := s.resolve(ctx, show, budget.Interactive)
	if err != nil {
		return Details{}, err
	}
	return s.answerAfterWait(ctx, req, show, d)
}

// renewal is the result of renewExpired shared by a flight.
type renewal struct {
	d  Details
	ok bool
}

// authzQuery names the facts authorizing req needs.
func (req Request) authzQuery() AuthzQuery {
	return AuthzQuery{
		UserID:               req.Caller.UserID,
		SessionID:            req.Caller.SessionID,
		ShowID:               req.ShowID,
		ImpersonatedSellerID: req.ImpersonateSellerID,
	}
}

// authorize decides whether req may see the show's key, from facts read in
// one round trip.
func (s *Service) authorize(ctx context.Context, req Request) (Show, error) {
	facts, err := s.store.Authorize(ctx, req.authzQuery())
	if err != nil {
		return Show{}, fmt.Errorf("authorize: %w", err)
	}
	return mayGetKey(facts, req.ImpersonateSellerID != "")
}

// answerAfterWait authorizes req again before details read from IVS leave:
// the request may have waited for the budget, the lock and IVS for long
// enough that the seller was suspended or the show moved meanwhile.
func (s *Service) answerAfterWait(ctx context.Context, req Request, was Show, d Details) (Details, error) {
	now, err := s.authorize(ctx, req)
	if err != nil {
		return Details{}, err
	}
	if now.SellerID != was.SellerID || now.ChannelARN != was.ChannelARN {
		return Details{}, fmt.Errorf("%w: %w", ErrStreamKeyUnavailable, ErrShowChanged)
	}
	return d, nil
}

// resolve reads or creates the show's key through IVS. Concurrent requests
// for the same show share one resolution; the result does not depend on who
// asked, since every asker was authorized before (and each is authorized
// again before it answers).
func (s *Service) resolve(ctx context.Context, show Show, p budget.Priority) (Details, error) {
	// The recorded key is part of the flight: a request that already saw a
	// rotated (or revoked) key must not share a flight that started from
	// the old one.
	v, err := s.flight(ctx, "resolve|"+show.ID+"|"+show.ChannelARN+"|"+show.StreamKeyARN, func(fctx context.Context) (any, error) {
		return s.resolveOnce(fctx, show, p)
	})
	if err != nil {
		return Details{}, err
	}
	return v.(Details), nil
}

func (s *Service) resolveOnce(ctx context.Context, show Show, p budget.Priority) (Details, error) {
	// GetChannel, then GetStreamKey of the recorded key, or ListStreamKeys
	// and the creation (or the adoption of a key found) under the lock.
	calls := 3
	if show.StreamKeyARN != "" {
		calls = 2
	}
	ctx, release, err := s.reserveCalls(ctx, show, calls, p)
	if err != nil {
		return Details{}, err
	}
	defer release()
	// GetChannel first, outside the lock: it waits for the reservation's
	// first slot, proves the channel exists and refreshes the ingest
	// endpoint, which may have changed since it was stored.
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
		// The recorded key is gone: ListStreamKeys and a creation follow,
		// reserved before the lock.
		release()
		if ctx, release, err = s.reserveCalls(ctx, show, 2, p); err != nil {
			return Details{}, err
		}
		defer release()
		if err := ready(ctx); err != nil {
			return Details{}, lockFailure(err)
		}
	}

	var key StreamKey
	action := ActionGet
	err = s.store.WithChannelLock(ctx, show.ChannelARN, func(tx ChannelTx) error {
		hold(ctx)
		if err := s.checkBound(ctx, tx, show, false); err != nil {
			return err
		}
		// Another request, maybe on another replica, may have recorded a
		// key while this one waited for the lock.
		if k, ok, err := s.recordedByOthers(ctx, tx, show); err != nil || ok {
			key = k
			if err == nil {
				err = tx.RecordStreamKey(ctx, show.ID, k.ARN, endpoint)
			}
			return err
		}
		k, ok, err := s.keyOfChannel(ctx, show.ChannelARN)
		if err != nil {
			return err
		}
		if !ok {
			if k, ok, err = s.createKey(ctx, tx, show, p != budget.Interactive); err != nil {
				return err
			}
			if ok {
				action = ActionCreate
			}
		}
		key = k
		return tx.RecordStreamKey(ctx, show.ID, k.ARN, endpoint)
	})
	if err != nil {
		return Details{}, lockFailure(err)
	}
	return found(key, action), nil
}

// checkBound reads the show again under its channel's lock and refuses to go
// on when it no longer names the same seller and channel.
func (s *Service) checkBound(ctx context.Context, tx ChannelTx, was Show, sharedAllowed bool) error {
	now, found, err := tx.Show(ctx, was.ID)
	if err != nil {
		return fmt.Errorf("read show again: %w", err)
	}
	return stillBound(was, now, found, sharedAllowed)
}

// recordedByOthers returns the key another section recorded for the show
// since it was read (ok false when there is none, or it no longer exists).
func (s *Service) recordedByOthers(ctx context.Context, tx ChannelTx, show Show) (StreamKey, bool, error) {
	recorded, err := tx.StreamKeyARN(ctx, show.ID)
	if err != nil {
		return StreamKey{}, false, fmt.Errorf("read recorded key: %w", err)
	}
	if recorded == "" || recorded == show.StreamKeyARN {
		return StreamKey{}, false, nil
	}
	return s.readKey(ctx, recorded, show.ChannelARN)
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

// keyOfChannel returns the channel's first readable key; ok is false when it
// has none.
func (s *Service) keyOfChannel(ctx context.Context, channelARN string) (StreamKey, bool, error) {
	arns, err := s.ivs.ListStreamKeys(ctx, channelARN)
	if err != nil {
		return StreamKey{}, false, ivsFailure(ErrStreamKeyUnavailable, "list stream keys", err)
	}
	for _, arn := range arns {
		if k, ok, err := s.readKey(ctx, arn, channelARN); err != nil || ok {
			return k, ok, err
		}
	}
	return StreamKey{}, false, nil
}

// createKey creates the key of show's channel, within the seller's hourly
// limit unless exempt (the service's own renewals and operators' commands),
// counted in the section tx so that it commits with the key's record. The
// caller holds the channel's lock, so within the replicas sharing the store
// this is the only creator; a creator outside them (the console, a script)
// shows up as a quota error, and its key is then adopted instead: created is
// false then.
func (s *Service) createKey(ctx context.Context, tx ChannelTx, show Show, exempt bool) (key StreamKey, created bool, err error) {
	if !exempt {
		id, err := s.reserveCreation(ctx, tx, show)
		if err != nil {
			return StreamKey{}, false, err
		}
		defer func() {
			if err == nil && !created && id != 0 {
				err = tx.CancelKeyCreation(ctx, id)
			}
		}()
	}
	k, err := s.ivs.CreateStreamKey(ctx, show.ChannelARN)
	if errors.Is(err, ErrIVSKeyQuota) {
		s.logger.InfoContext(ctx, "channel got a key from elsewhere; reading it", "channel_arn", show.ChannelARN)
		k, ok, err := s.keyOfChannel(ctx, show.ChannelARN)
		if err == nil && !ok {
			err = ivsFailure(ErrStreamKeyUnavailable, "create stream key", ErrIVSKeyQuota)
		}
		return k, false, err
	}
	if err != nil {
		return StreamKey{}, false, ivsFailure(ErrStreamKeyUnavailable, "create stream key", err)
	}
	s.logger.InfoContext(ctx, "created stream key", "channel_arn", show.ChannelARN, "stream_key_arn", k.ARN)
	return k, true, nil
}

// reserveCreation counts a creation against show's seller's hourly limit in
// the section tx, or refuses with a *RateLimitedError; id is 0 when there
// is no limit.
func (s *Service) reserveCreation(ctx context.Context, tx ChannelTx, show Show) (id int64, err error) {
	if s.createsPerHour <= 0 {
		return 0, nil
	}
	id, retryAfter, err := tx.ReserveKeyCreation(ctx, show.SellerID, s.createsPerHour, time.Hour)
	if err != nil {
		return 0, fmt.Errorf("reserve key creation: %w", err)
	}
	if id == 0 {
		return 0, &RateLimitedError{RetryAfter: retryAfter}
	}
	return id, nil
}

// creationWait refuses, before any IVS call is reserved, a creation the
// seller's hourly limit would refuse anyway.
func (s *Service) creationWait(ctx context.Context, show Show) error {
	if s.createsPerHour <= 0 {
		return nil
	}
	wait, err := s.store.KeyCreationWait(ctx, show.SellerID, s.createsPerHour, time.Hour)
	if err != nil {
		return fmt.Errorf("check key creation limit: %w", err)
	}
	if wait > 0 {
		return &RateLimitedError{RetryAfter: wait}
	}
	return nil
}

// reserveCalls reserves budget for n IVS calls on show, charged to its
// seller when p is Interactive, and returns ctx carrying the reservation,
// which the IVS client draws on call by call, and release, which gives back
// what the step did not use (call it when the step ends; it may be called
// again).
func (s *Service) reserveCalls(ctx context.Context, show Show, n int, p budget.Priority) (context.Context, func(), error) {
	if s.budget == nil {
		return ctx, func() {}, nil
	}
	r, err := s.budget.Reserve(ctx, budget.Claim{Calls: n, SellerID: show.SellerID, Priority: p})
	if err != nil {
		return ctx, nil, err
	}
	release := func() {
		if err := r.Release(ctx); err != nil {
			s.logger.WarnContext(ctx, "unused IVS call slots not returned", "error", err.Error())
		}
	}
	return budget.NewContext(ctx, r), release, nil
}

// ready waits for the first slot of the reservation ctx carries, before a
// lock is taken.
func ready(ctx context.Context) error {
	if r := budget.FromContext(ctx); r != nil {
		return r.Ready(ctx)
	}
	return nil
}

// lockedSlotWait bounds how long a call made under a channel's lock waits
// for a slot beyond its step's own (a call that starts late, after waiting
// for the lock; a retry): longer, and the step fails rather than hold the
// lock, a transaction and a connection while queueing.
const lockedSlotWait = 5 * time.Second

// hold marks the reservation ctx carries as used under a lock.
func hold(ctx context.Context) {
	if r := budget.FromContext(ctx); r != nil {
		r.Hold(lockedSlotWait)
	}
}

// ivsFailure wraps an IVS error in the domain error that names the step,
// unless AWS is not configured at all (the operator's problem, an internal
// error, not a fact about the channel) or the call budget ran out (the
// caller is told when to come back).
func ivsFailure(domainErr error, step string, err error) error {
	if errors.Is(err, ErrIVSCredentials) || errors.Is(err, budget.ErrExhausted) || errors.Is(err, limit.ErrLimited) {
		return fmt.Errorf("%s: %w", step, err)
	}
	return fmt.Errorf("%w: %s: %w", domainErr, step, err)
}
