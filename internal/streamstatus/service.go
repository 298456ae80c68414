package streamstatus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Options configure a Service.
type Options struct {
	Store Store
	// Streams lists live streams for Reconcile; nil: Reconcile fails.
	Streams Streams
	// Leases lets one replica at a time run the periodic reconciliation;
	// nil: no lease (one process uses the store).
	Leases Leaser
	// Metrics; nil records nothing.
	Metrics Metrics
	Logger  *slog.Logger
	// Now is the clock; nil for time.Now.
	Now func() time.Time
	// FreshFor is how long a stored state counts as recent (Known): twice
	// the reconciliation interval; 0: stored states are never trusted.
	FreshFor time.Duration
}

// Service keeps and reads the stream state.
type Service struct {
	opts   Options
	logger *slog.Logger
	now    func() time.Time
	// holder is this process in the reconciliation lease.
	holder string
}

// New returns a Service over opts.
func New(opts Options) *Service {
	s := &Service{opts: opts, logger: opts.Logger, now: opts.Now}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	s.holder = "streamstatus-" + hex.EncodeToString(b[:])
	return s
}

// Receive parses body as an EventBridge event and applies it. A body that is
// no event is counted and refused with an error matching ErrMalformed; a
// store failure is returned wrapped (the sender retries).
func (s *Service) Receive(ctx context.Context, body []byte) (Outcome, error) {
	e, err := ParseEvent(body)
	if err != nil {
		s.event("", Malformed)
		// The error is ParseEvent's own words, never the body's.
		s.logger.DebugContext(ctx, "stream event refused", "outcome", Malformed, "error", err.Error())
		return Malformed, err
	}
	return s.Apply(ctx, e)
}

// Apply applies one parsed event, and counts it.
func (s *Service) Apply(ctx context.Context, e Event) (Outcome, error) {
	if _, ok := e.State(); !ok {
		if _, ok := e.Health(); !ok {
			s.event(e.Kind, Irrelevant)
			s.logger.DebugContext(ctx, "stream event ignored", "kind", e.Kind, "outcome", Irrelevant)
			return Irrelevant, nil
		}
	}
	outcome, err := s.opts.Store.ApplyStreamEvent(ctx, e)
	if err != nil {
		s.event(e.Kind, Failed)
		s.logger.WarnContext(ctx, "stream event not applied; the sender retries", "kind", e.Kind, "event_id", e.ID,
			"channel_arn", e.ChannelARN, "error", err.Error())
		return Failed, fmt.Errorf("apply stream event: %w", err)
	}
	s.event(e.Kind, outcome)
	attrs := []any{"kind", e.Kind, "outcome", outcome, "event_id", e.ID, "event_time", e.Time, "channel_arn", e.ChannelARN}
	if outcome == Applied {
		s.logger.InfoContext(ctx, "stream event applied", append(attrs, "stream_id", e.StreamID)...)
	} else {
		s.logger.DebugContext(ctx, "stream event not applied", attrs...)
	}
	return outcome, nil
}

func (s *Service) event(k Kind, o Outcome) {
	if s.opts.Metrics != nil {
		s.opts.Metrics.StreamEvent(k, o)
	}
}

// View reads what the status endpoint shows of a channel ("" for a show
// without a channel: unknown). The health is shown only while the stream is
// live, and only a reading taken at or after the state's time: an older one
// belongs to an earlier stream, and a new stream is taken to be healthy.
func (s *Service) View(ctx context.Context, channelARN string) (View, error) {
	unknown := View{Status: "unknown"}
	if channelARN == "" {
		return unknown, nil
	}
	st, found, err := s.opts.Store.StreamState(ctx, channelARN)
	if err != nil {
		return View{}, fmt.Errorf("read stream state: %w", err)
	}
	if !found || st.State == "" {
		return unknown, nil
	}
	since := st.Since
	if since.IsZero() {
		since = st.StateAt
	}
	since = since.UTC()
	v := View{Status: string(st.State), Since: &since}
	if st.State == Live {
		h := Healthy
		if st.Health != "" && !st.HealthAt.Before(st.StateAt) {
			h = st.Health
		}
		v.Health = &h
	}
	return v, nil
}

// Known says whether the channel is live from the stored state, when that
// state was confirmed within FreshFor; ok is false otherwise (the caller
// asks IVS). Key expiry and rotation use it instead of a GetStream call.
func (s *Service) Known(ctx context.Context, channelARN string) (live, ok bool, err error) {
	if s.opts.FreshFor <= 0 || channelARN == "" {
		return false, false, nil
	}
	st, found, err := s.opts.Store.StreamState(ctx, channelARN)
	if err != nil {
		return false, false, fmt.Errorf("read stream state: %w", err)
	}
	if !found || st.State == "" || st.CheckedAt.IsZero() || s.now().Sub(st.CheckedAt) > s.opts.FreshFor {
		return false, false, nil
	}
	return st.State == Live, true, nil
}

// Report is what one reconciliation did.
type Report struct {
	Regions []string
	Live    int // live streams listed
	Changed int // channels whose state it corrected
}

// Reconcile lists the live streams of every region in use and corrects the
// stored state, now, without a lease (reconcile-streams on demand). A
// region that fails does not stop the others; the errors are returned
// joined, with the report of what was done.
func (s *Service) Reconcile(ctx context.Context) (Report, error) {
	rep, err := s.reconcile(ctx)
	outcome := "done"
	if err != nil {
		outcome = "failed"
	}
	if s.opts.Metrics != nil {
		s.opts.Metrics.StreamReconcile(outcome, rep.Changed)
	}
	return rep, err
}

// snapshotMargin dates a snapshot earlier than its listing began, so that
// an event a little older than the listing, which the listing may not
// reflect yet, is never overwritten by it.
const snapshotMargin = 5 * time.Second

func (s *Service) reconcile(ctx context.Context) (Report, error) {
	if s.opts.Streams == nil {
		return Report{}, errors.New("reconcile streams: no IVS client to list streams with")
	}
	regions, err := s.opts.Store.StreamRegions(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("reconcile streams: %w", err)
	}
	rep := Report{Regions: regions}
	var errs []error
	for _, region := range regions {
		// The snapshot's time is taken before listing: what the list says
		// was true at some moment after it. Event times have one-second
		// resolution, an event stamped T happened within [T, T+1s), so the
		// time is truncated to the second: an event of that second may be
		// newer than the snapshot, and the snapshot does not overwrite it.
		// snapshotMargin more: this host's clock may run ahead of AWS's,
		// and IVS's listing may lag its events by a moment.
		at := s.now().UTC().Add(-snapshotMargin).Truncate(time.Second)
		live, err := s.opts.Streams.LiveStreams(ctx, region)
		if err != nil {
			errs = append(errs, fmt.Errorf("list live streams in %s: %w", region, err))
			continue
		}
		rep.Live += len(live)
		changed, err := s.opts.Store.ApplyStreamSnapshot(ctx, region, at, live)
		rep.Changed += changed
		if err != nil {
			errs = append(errs, fmt.Errorf("apply the live streams of %s: %w", region, err))
			continue
		}
		s.logger.DebugContext(ctx, "stream states reconciled", "region", region, "live", len(live), "changed", changed)
	}
	if rep.Changed > 0 {
		s.logger.InfoContext(ctx, "stream states corrected from IVS", "changed", rep.Changed, "live", rep.Live)
	}
	return rep, errors.Join(errs...)
}

// ReconcileLease is the lease that makes one replica at a time reconcile.
const ReconcileLease = "reconcile-streams"

// Run reconciles at once, then every interval until ctx ends, one replica
// at a time through the ReconcileLease lease (when Options.Leases is set).
// The lease lasts a little longer than interval and is not released after a
// run, so that its holder keeps it from run to run and the other replicas
// skip; it passes to another replica when its holder stops. Run returns when
// ctx ends, leaving no goroutine behind; with interval <= 0 it returns at
// once.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.runOnce(ctx, interval)
		select {
		case <-ctx.Done():
			s.releaseLease()
			return
		case <-t.C:
		}
	}
}

// minRunTime is the least time a periodic run is given.
const minRunTime = 10 * time.Second

func (s *Service) runOnce(parent context.Context, interval time.Duration) {
	// A run ends within its interval (STREAM_RECONCILE_INTERVAL is 10 s at
	// least), before its lease (1.25 intervals) could pass to another
	// replica: a listing that waits for free call slots in a busy budget
	// gives up rather than overlap the next run. The floor keeps a short
	// interval's run (tests') from timing out on a loaded machine.
	ctx, cancel := context.WithTimeout(parent, max(interval, minRunTime))
	defer cancel()
	if s.opts.Leases != nil {
		ok, err := s.opts.Leases.TakeLease(ctx, ReconcileLease, s.holder, interval+interval/4)
		if err != nil {
			if ctx.Err() == nil {
				s.reconciled("failed", 0)
				s.logger.WarnContext(ctx, "stream reconciliation lease not taken; the next run tries again", "error", err.Error())
			}
			return
		}
		if !ok {
			s.reconciled("skipped", 0)
			return
		}
	}
	if _, err := s.Reconcile(ctx); err != nil && parent.Err() == nil {
		s.logger.WarnContext(ctx, "stream reconciliation failed; the next run tries again", "error", err.Error())
	}
}

// releaseLease gives the reconciliation lease up when Run stops (a
// deploy), so that another replica takes it at its next run instead of
// after the lease expires; nothing when this process does not hold it.
func (s *Service) releaseLease() {
	if s.opts.Leases == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.opts.Leases.ReleaseLease(ctx, ReconcileLease, s.holder); err != nil {
		s.logger.Warn("stream reconciliation lease not released; it expires by itself", "error", err.Error())
	}
}

func (s *Service) reconciled(outcome string, changed int) {
	if s.opts.Metrics != nil {
		s.opts.Metrics.StreamReconcile(outcome, changed)
	}
}
