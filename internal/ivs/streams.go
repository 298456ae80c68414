package ivs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"

	"github.com/ivs-ingest/ivs-ingest/internal/budget"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
)

var (
	_ streamstatus.Streams = (*Client)(nil)
	_ streamstatus.Streams = (*Regions)(nil)
)

// streamsPageSize is ListStreams' largest page: one call per 100 live
// channels.
const streamsPageSize = 100

// minBusyRetry is the least a refused page waits before asking the budget
// again.
const minBusyRetry = 10 * time.Millisecond

// LiveStreams implements streamstatus.Streams in the region's own client and
// budget (IVS's quotas are per region): see Client.LiveStreams. "" is the
// default region.
func (r *Regions) LiveStreams(ctx context.Context, region string) ([]streamstatus.LiveStream, error) {
	if region == "" {
		return r.def.LiveStreams(ctx, "")
	}
	return r.Region(region).LiveStreams(ctx, region)
}

// LiveStreams implements streamstatus.Streams for the client's region (""
// or c.Region(); another region is an error: Regions has its client): every
// live stream, page by page with ListStreams, one call per 100 live
// channels. Each page is a Background claim on the region's budget: it
// takes only a slot that is free at once, so it never delays a seller; when
// none is, it waits until the schedule would be free and asks again, for as
// long as ctx allows. IVS's UNKNOWN health is "".
func (c *Client) LiveStreams(ctx context.Context, region string) ([]streamstatus.LiveStream, error) {
	if region != "" && region != c.region {
		return nil, fmt.Errorf("ivs: list the streams of %s with the client of %s", region, c.region)
	}
	var out []streamstatus.LiveStream
	var next *string
	for {
		page, err := c.streamsPage(ctx, next)
		if err != nil {
			return nil, fmt.Errorf("list the live streams of %s: %w", c.region, err)
		}
		for _, s := range page.Streams {
			out = append(out, liveStream(s))
		}
		if aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		next = page.NextToken
	}
}

// streamsPage reads one page of ListStreams under a Background claim of one
// slot, asking again while the budget refuses it.
func (c *Client) streamsPage(ctx context.Context, next *string) (*ivs.ListStreamsOutput, error) {
	for {
		page, err := c.streamsPageOnce(ctx, next)
		var busy *ingest.BusyError
		if !errors.Is(err, budget.ErrExhausted) || !errors.As(err, &busy) {
			return page, err
		}
		// The schedule is not free now: someone, maybe a seller, holds
		// the next slots. Ask again once they have passed.
		t := time.NewTimer(max(busy.RetryAfter, minBusyRetry))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
	}
}

func (c *Client) streamsPageOnce(ctx context.Context, next *string) (*ivs.ListStreamsOutput, error) {
	k, err := c.Reserve(ctx, ingest.Claim{Calls: 1, Priority: ingest.Background})
	if err != nil {
		return nil, err
	}
	defer k.Release(context.WithoutCancel(ctx))
	var r *budget.Reservation
	if kc, ok := k.(calls); ok {
		r = kc.r
	}
	page, err := c.api.ListStreams(ctx, &ivs.ListStreamsInput{
		MaxResults: aws.Int32(streamsPageSize),
		NextToken:  next,
	}, c.withSlots(r))
	if err != nil {
		return nil, translate(err)
	}
	return page, nil
}

// liveStream is the domain's view of a ListStreams item.
func liveStream(s types.StreamSummary) streamstatus.LiveStream {
	ls := streamstatus.LiveStream{
		ChannelARN: aws.ToString(s.ChannelArn),
		StreamID:   aws.ToString(s.StreamId),
		StartTime:  aws.ToTime(s.StartTime).UTC(),
	}
	switch s.Health {
	case types.StreamHealthStreamHealthy:
		ls.Health = streamstatus.Healthy
	case types.StreamHealthStarving:
		ls.Health = streamstatus.Starving
	}
	return ls
}
