package ingest

import (
	"context"
	"errors"
	"fmt"
)

// BatchResult counts what a batch command did with each show.
type BatchResult struct {
	// Total is how many shows the batch was to handle: more than
	// Done+Kept+Failed when it was interrupted.
	Total   int
	Done    int // keys rotated, or created
	Kept    int // nothing to do: live channel, or a key already there
	Failed  int
	Details []BatchItem
}

// BatchItem is one show's outcome in a batch.
type BatchItem struct {
	ShowID string
	Result string // "rotated", "created", "kept (live)", "exists", or the error
}

// RotateExpired rotates every key older than the maximum age whose channel
// is offline, for a cron job. Each rotation is audited as an expiry. It
// reports its progress and stops early as opts and runBatch say.
func (s *Service) RotateExpired(ctx context.Context, opts BatchOptions) (BatchResult, error) {
	if s.maxAge <= 0 {
		return BatchResult{}, errors.New("STREAM_KEY_MAX_AGE is not set: keys never expire")
	}
	shows, err := s.store.ShowsWithKeysOlderThan(ctx, s.maxAge)
	if err != nil {
		return BatchResult{}, err
	}
	return s.runBatch(ctx, shows, opts, func(ctx context.Context, show Show, res *BatchResult) {
		live, err := s.live(ctx, show, Batch)
		switch {
		case err != nil:
			res.add(show.ID, "", err)
		case live:
			res.Kept++
			res.Details = append(res.Details, BatchItem{show.ID, "kept (live)"})
		default:
			// The rotation writes its own row with the change; only a
			// failure before it changed anything is written here.
			_, err := s.rotate(ctx, show, ActionExpire, Batch, batchAudit(ActionExpire, show), nil)
			res.add(show.ID, "rotated", err)
			var audited *AuditedError
			if err != nil && !errors.As(err, &audited) {
				s.auditBatch(ctx, ActionExpire, show, "", err)
			}
		}
	})
}

// Provision creates the keys that shows with a channel lack, ahead of a big
// event: the given shows, or every show when showIDs is empty. An operator's
// creations count neither against the sellers' hourly limit nor against
// their share of the IVS budget. It reports its progress and stops early as
// opts and runBatch say.
func (s *Service) Provision(ctx context.Context, showIDs []string, opts BatchOptions) (BatchResult, error) {
	var shows []Show
	if len(showIDs) == 0 {
		var err error
		if shows, err = s.store.ShowsWithoutKey(ctx); err != nil {
			return BatchResult{}, err
		}
	}
	for _, id := range showIDs {
		show, found, err := s.store.Show(ctx, id)
		if err != nil {
			return BatchResult{}, err
		}
		if !found {
			return BatchResult{}, fmt.Errorf("show %s: %w", id, ErrShowNotFound)
		}
		shows = append(shows, show)
	}
	return s.runBatch(ctx, shows, opts, func(ctx context.Context, show Show, res *BatchResult) {
		if show.ChannelARN == "" {
			res.add(show.ID, "", ErrNoChannel)
			return
		}
		d, err := s.resolve(ctx, show, Batch, stored{})
		switch {
		case err != nil:
			res.add(show.ID, "", err)
		case d.Action == ActionCreate:
			res.add(show.ID, "created", nil)
		default:
			res.Kept++
			res.Details = append(res.Details, BatchItem{show.ID, "exists"})
		}
		if err != nil || d.Action == ActionCreate {
			s.auditBatch(ctx, ActionCreate, show, d.StreamKeyARN, err)
		}
	})
}

// progress is r's counts, as a batch reports them.
func (r *BatchResult) progress() Progress {
	p := Progress{Total: r.Total, Done: r.Done, Kept: r.Kept, Failed: r.Failed}
	if n := len(r.Details); n > 0 {
		p.Last = r.Details[n-1]
	}
	return p
}

func (r *BatchResult) add(showID, done string, err error) {
	if err != nil {
		r.Failed++
		r.Details = append(r.Details, BatchItem{showID, err.Error()})
		return
	}
	r.Done++
	r.Details = append(r.Details, BatchItem{showID, done})
}

// batchAudit is the audit row of a batch command's action on a show;
// http_status 0 marks it as no HTTP request's.
func batchAudit(action Action, show Show) AuditEntry {
	return AuditEntry{
		RequestID: "cli-" + NewID(), Action: action, Outcome: OutcomeAllowed,
		SellerID: show.SellerID, ShowID: show.ID, Reason: "batch command",
	}
}

// auditBatch records a batch command's action on a show.
func (s *Service) auditBatch(ctx context.Context, action Action, show Show, keyARN string, err error) {
	e := batchAudit(action, show)
	e.StreamKeyARN = keyARN
	if err != nil {
		e.Outcome = OutcomeError
	}
	if werr := s.store.WriteAudit(ctx, e); werr != nil {
		s.logger.ErrorContext(ctx, "audit row not written", "error", werr.Error())
	}
}
