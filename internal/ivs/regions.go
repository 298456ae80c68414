package ivs

import (
	"context"
	"regexp"
	"strings"
	"sync"

	"github.com/ivs-ingest/ivs-ingest/internal/budget"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

var _ ingest.IVS = (*Regions)(nil)

// Regions routes IVS calls to the region of the channel they are about.
// IVS's quotas (5 calls per second) are per account and region, so each
// region has a client of its own, signing for that region, and a budget of
// its own; both are created on first use. The default client (AWS_REGION's)
// serves its region, ARNs that name no readable region, and calls that are
// about no channel.
type Regions struct {
	def      *Client
	budgetOf func(region string) *budget.Budget

	mu      sync.Mutex
	clients map[string]*Client
}

// NewRegions returns a router over def, the default region's client. A
// client for another region is made like def (credentials, endpoint
// override, retries, metrics), with budgetOf(region) as its budget (nil for
// none).
func NewRegions(def *Client, budgetOf func(region string) *budget.Budget) *Regions {
	return &Regions{def: def, budgetOf: budgetOf, clients: map[string]*Client{}}
}

// Reserve implements ingest.IVS in the region of c.ChannelARN: the calls are
// charged to that region's budget and made by its client.
func (r *Regions) Reserve(ctx context.Context, c ingest.Claim) (ingest.Calls, error) {
	return r.For(c.ChannelARN).Reserve(ctx, c)
}

// For returns the client of arn's region (a channel's or a stream key's
// ARN), or the default client when arn names no region.
func (r *Regions) For(arn string) *Client {
	region, ok := RegionOf(arn)
	if !ok {
		return r.def
	}
	return r.Region(region)
}

// Region returns region's client, created on first use.
func (r *Regions) Region(region string) *Client {
	if region == r.def.Region() {
		return r.def
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.clients[region]
	if !ok {
		var b *budget.Budget
		if r.budgetOf != nil {
			b = r.budgetOf(region)
		}
		c = r.def.inRegion(region, b)
		r.clients[region] = c
	}
	return c
}

// regionPattern is an AWS region's name, such as us-east-1 or
// us-gov-west-1.
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// RegionOf returns the region an IVS ARN names
// (arn:<partition>:ivs:<region>:<account>:<resource>); ok is false when arn
// is not such an ARN.
func RegionOf(arn string) (region string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !strings.HasPrefix(parts[1], "aws") || parts[2] != "ivs" ||
		!regionPattern.MatchString(parts[3]) || parts[4] == "" || parts[5] == "" {
		return "", false
	}
	return parts[3], true
}
