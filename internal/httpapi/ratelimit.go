package httpapi

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/limit"
)

// The request limits' names, as their refusals and metrics label them.
const (
	limitUserRequests = "user_requests"
	limitIPRequests   = "ip_requests"
	limitRefusalAudit = "audited_refusals"
	// limitStatusRequests is the stream status reads' own per-user bucket.
	limitStatusRequests = "stream_status_requests"
)

// maxRequestBurst caps a user's (or an IP's) burst of requests: a panel
// makes a handful at once, and a larger burst would let one token start
// that many IVS-bound requests together.
const maxRequestBurst = 10

// requestLimits are the limits a request meets before any database work
// (unless the limits themselves are kept in the database, as in AWS Lambda
// mode, where every request may run in a fresh process).
type requestLimits struct {
	user *limit.Limiter // keyed on the token's sub
	ip   *limit.Limiter // keyed on the client IP
	// status limits each user's stream status reads, apart from user.
	status *limit.Limiter
	// refusals lets one refusal a rolling minute per user write its audit
	// row: a flood is on record, and still costs no write per request.
	refusals *limit.Limiter
}

func newRequestLimits(src limit.Source, perUser, perIP, perUserStatus int) requestLimits {
	if src == nil {
		src = limit.NewLocal()
	}
	return requestLimits{
		user:     limit.New(src, limitUserRequests, limit.PerMinute(perUser, min(perUser, maxRequestBurst))),
		ip:       limit.New(src, limitIPRequests, limit.PerMinute(perIP, min(perIP, maxRequestBurst))),
		status:   limit.New(src, limitStatusRequests, limit.PerMinute(perUserStatus, min(perUserStatus, maxRequestBurst))),
		refusals: limit.New(src, limitRefusalAudit, limit.Rate{Interval: time.Minute, Burst: 1}),
	}
}

// auditRefusal reports whether a refusal of userID's request by the per-user
// limit writes its audit row: the first in a rolling minute does. When the
// limit cannot be asked, the row is written (a doubt audits).
func (l requestLimits) auditRefusal(ctx context.Context, userID string) bool {
	return !errors.Is(l.refusals.Take(ctx, userID, 1), limit.ErrLimited)
}

// limitKeyOfIP is the per-IP limit's key for ip: the address, but an IPv6
// address's /64, which one client usually holds whole (and could otherwise
// walk through to escape the limit).
func limitKeyOfIP(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is6() || addr.Is4In6() {
		return ip
	}
	prefix, err := addr.Prefix(64)
	if err != nil {
		return ip
	}
	return prefix.String()
}
