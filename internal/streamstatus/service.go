package streamstatus

import (
	"context"
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
	opts Options
}

// New returns a Service over opts.
func New(opts Options) *Service {
	return &Service{opts: opts}
}

// Receive parses body as an EventBridge event and applies it. A body that is
// no event is counted and refused with an error matching ErrMalformed; a
// store failure is returned as it is (the sender retries).
func (s *Service) Receive(ctx context.Context, body []byte) (Outcome, error) {
	panic("to be written (lane A)")
}

// Apply applies one parsed event.
func (s *Service) Apply(ctx context.Context, e Event) (Outcome, error) {
	panic("to be written (lane A)")
}

// View reads what the status endpoint shows of a channel ("" for a show
// without a channel: unknown).
func (s *Service) View(ctx context.Context, channelARN string) (View, error) {
	panic("to be written (lane A)")
}

// Known says whether the channel is live from the stored state, when that
// state was confirmed within FreshFor; ok is false otherwise (the caller
// asks IVS). Key expiry and rotation use it instead of a GetStream call.
func (s *Service) Known(ctx context.Context, channelARN string) (live, ok bool, err error) {
	panic("to be written (lane A)")
}

// Report is what one reconciliation did.
type Report struct {
	Regions []string
	Live    int // live streams listed
	Changed int // channels whose state it corrected
}

// Reconcile lists the live streams of every region in use and corrects the
// stored state, now, without a lease (reconcile-streams on demand).
func (s *Service) Reconcile(ctx context.Context) (Report, error) {
	panic("to be written (lane A)")
}

// Run reconciles every interval until ctx ends, one replica at a time
// through the "reconcile-streams" lease.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	panic("to be written (lane A)")
}
