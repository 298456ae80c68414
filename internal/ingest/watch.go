package ingest

import (
	"context"
	"fmt"
)

// WatchRequest asks for the channel whose stream status a caller follows.
type WatchRequest struct {
	Caller Caller
	ShowID string
}

// WatchShow decides whether req's caller may follow the show's stream status
// (mayWatch: the owner of any status, or an admin) and returns the show's
// channel ARN, "" for a show without a channel (its status is unknown). One
// store round trip; no audit row and no MFA gate, since the status reveals
// no key, as for the audit read.
func (s *Service) WatchShow(ctx context.Context, req WatchRequest) (channelARN string, err error) {
	facts, err := s.store.Authorize(ctx, AuthzQuery{UserID: req.Caller.UserID, SessionID: req.Caller.SessionID, ShowID: req.ShowID})
	if err != nil {
		return "", fmt.Errorf("authorize: %w", err)
	}
	show, err := mayWatch(facts)
	if err != nil {
		return "", err
	}
	return show.ChannelARN, nil
}
