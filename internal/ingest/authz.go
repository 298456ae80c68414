package ingest

import (
	"context"
	"errors"
	"fmt"
)

// authz.go holds the "who may" rules, as pure functions of the facts the
// store reads in one round trip. The cases run in the API's error order: the
// first that applies decides.

// mayUseKeys decides whether caller may get, rotate or revoke a key at all,
// from their token alone: with requireMFA, only a caller who verified a
// second factor in this session (aal2) may. A token without the aal claim
// counts as aal1, and so does any level Supabase does not issue as aal2.
// Admins too: an admin impersonating a seller acts on their own sign-in.
// Why: a key gives the power to broadcast on a seller's show, so a
// marketplace that requires MFA must be able to require it here, where a
// stolen password alone would otherwise be enough.
func mayUseKeys(caller Caller, requireMFA bool) error {
	if requireMFA && caller.AAL != AAL2 {
		return ErrMFARequired
	}
	return nil
}

// Admit decides what the caller's token alone allows of action, before any
// request limit or database work: the transport asks it first, so that a
// caller without the second factor is told so rather than to slow down.
// Every action but reading the audit trail uses a key (get, create,
// rotate, revoke, expire) and is gated by mayUseKeys. Why the audit read
// is open: it shows no key, and it is where a seller locked out by the gate
// sees what was done on their shows.
func (s *Service) Admit(caller Caller, action Action) error {
	if action == ActionAuditRead {
		return nil
	}
	return mayUseKeys(caller, s.requireMFA)
}

// mayGetKey decides whether the caller of facts may get (or rotate) the
// show's key; impersonating says whether they act as another seller.
func mayGetKey(f AuthzFacts, impersonating bool) (Show, error) {
	switch {
	case !f.SessionActive:
		return Show{}, ErrSessionEnded
	case impersonating && !f.IsAdmin:
		return Show{}, ErrImpersonationDenied
	case f.Seller == nil:
		return Show{}, ErrSellerNotFound
	// Why: an admin acting as a seller may prepare a show before the
	// seller is approved; the seller alone may not go live until then.
	case f.Seller.Status != SellerApproved && !impersonating:
		return Show{}, ErrSellerNotApproved
	case f.Show == nil:
		return Show{}, ErrShowNotFound
	case f.Show.SellerID != f.Seller.ID:
		return Show{}, notOwner(f)
	// Why: a channel named by two sellers' shows has one key, which either
	// could read, rotate or revoke: the other's stream is not theirs.
	case f.Show.ChannelShared:
		return Show{}, ErrChannelShared
	case f.Show.ChannelARN == "":
		return Show{}, ErrNoChannel
	}
	return *f.Show, nil
}

// mayRevoke decides whether the caller of facts may revoke the show's key.
// Revocation kills a leaked key; keeping a seller out is what the seller's
// status is for. So the owner may revoke whatever their status, and an admin
// may revoke any show's key without impersonating, a shared channel's too.
func mayRevoke(f AuthzFacts) (Show, error) {
	switch {
	case !f.SessionActive:
		return Show{}, ErrSessionEnded
	case !f.IsAdmin && f.Seller == nil:
		return Show{}, ErrSellerNotFound
	case f.Show == nil:
		return Show{}, ErrShowNotFound
	case !f.IsAdmin && f.Show.SellerID != f.Seller.ID:
		return Show{}, notOwner(f)
	case !f.IsAdmin && f.Show.ChannelShared:
		return Show{}, ErrChannelShared
	case f.Show.ChannelARN == "":
		return Show{}, ErrNoChannel
	}
	return *f.Show, nil
}

// mayWatch decides whether the caller of facts may follow the show's stream
// status: as for revocation, the owner whatever their status, and any admin.
// Why the same rule: the status reveals no key, but it says when a seller is
// on air, which is theirs and the marketplace's to know, not other sellers'.
// A show without a channel is no refusal: its status is simply unknown.
func mayWatch(f AuthzFacts) (Show, error) {
	// Why a shared channel is refused (by mayRevoke): the state is the
	// channel's, so on a channel another seller's show names it would be
	// that seller's broadcast the caller follows.
	show, err := mayRevoke(f)
	if errors.Is(err, ErrNoChannel) {
		return *f.Show, nil
	}
	return show, err
}

// mayReadAudit decides whether the caller of facts may read the audit trail
// of the show in facts, or of every show when allShows. Admins may read any;
// sellers, whatever their status, their own shows' (in the owner's view,
// which ReadAudit applies).
func mayReadAudit(f AuthzFacts, allShows bool) error {
	switch {
	case !f.SessionActive:
		return ErrSessionEnded
	case f.IsAdmin:
		return nil
	case allShows:
		return ErrAuditForbidden
	case f.Seller == nil:
		return ErrSellerNotFound
	case f.Show == nil:
		return ErrShowNotFound
	case f.Show.SellerID != f.Seller.ID:
		return notOwner(f)
	}
	return nil
}

// stillBound decides whether a show read again under its channel's lock is
// still the one a key is being read or changed for: same seller, same
// channel, and (unless shared is allowed) a channel no other seller names.
// Why: a request may have waited for the IVS budget or the lock, and the
// show may have moved meanwhile; the key must not be created, recorded or
// handed over for a binding that no longer holds.
func stillBound(was, now Show, found, sharedAllowed bool) error {
	switch {
	case !found:
		return ErrShowNotFound
	case !sameBinding(was, now):
		return ErrShowChanged
	case now.ChannelShared && !sharedAllowed:
		return ErrChannelShared
	}
	return nil
}

// checkBound reads the show again under its channel's lock and refuses to go
// on when it no longer names the same seller and channel.
func checkBound(ctx context.Context, tx ChannelTx, was Show, sharedAllowed bool) error {
	now, found, err := tx.Show(ctx, was.ID)
	if err != nil {
		return fmt.Errorf("read show again: %w", err)
	}
	return stillBound(was, now, found, sharedAllowed)
}

// sameBinding reports whether a show read again still belongs to the same
// seller and names the same channel as when it was first read.
func sameBinding(was, now Show) bool {
	return now.SellerID == was.SellerID && now.ChannelARN == was.ChannelARN
}

// reauthorize runs a request's authorization again in a channel section,
// with the show's row held until the section ends, and refuses to go on
// when may now refuses or the show moved to another seller or channel.
// Why: the request may have waited for the IVS budget, the lock and IVS
// while the seller was suspended or the show moved; nothing is changed,
// recorded or handed over on the strength of facts read before the wait.
func reauthorize(ctx context.Context, tx ChannelTx, q AuthzQuery, may func(AuthzFacts) (Show, error), was Show) error {
	facts, err := tx.Authorize(ctx, q)
	if err != nil {
		return fmt.Errorf("authorize again: %w", err)
	}
	now, err := may(facts)
	if err != nil {
		return err
	}
	if !sameBinding(was, now) {
		return ErrShowChanged
	}
	return nil
}
