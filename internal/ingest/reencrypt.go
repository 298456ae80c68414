package ingest

import (
	"context"
	"errors"
	"fmt"
)

// reencrypt.go moves every stored value under the current master key: the
// last step of a master key's rotation (`ivs-ingest keys reencrypt`).

// ReencryptResult counts what Reencrypt did with the stored values.
type ReencryptResult struct {
	// Total is how many values were stored when Reencrypt started: more
	// than it handled when it was interrupted.
	Total int
	// Resealed were sealed under an older master key, and now are under
	// the current one.
	Resealed int
	// Current were already sealed under the current master key.
	Current int
	// Unknown are sealed under a master key this process does not hold:
	// left as they are.
	Unknown int
	// Unreadable do not open (tampered, or bound to another row): left;
	// each is read from IVS and stored again when next requested.
	Unreadable int
}

// Handled is how many stored values Reencrypt handled, whatever came of
// them.
func (r ReencryptResult) Handled() int { return r.Resealed + r.Current + r.Unknown + r.Unreadable }

// progress is r's counts, as Progress reports them: the values sealed
// again are done, those already current kept, the others left.
func (r *ReencryptResult) progress() Progress {
	return Progress{Total: r.Total, Done: r.Resealed, Kept: r.Current, Failed: r.Unknown + r.Unreadable}
}

// reencryptPage is how many stored values Reencrypt reads at a time.
const reencryptPage = 500

// ErrNoVault is Reencrypt's error when no key store is configured.
var ErrNoVault = errors.New("no key store: set STREAM_KEY_ENCRYPTION_KEY or STREAM_KEY_KMS_KEY_ID (or KMS was not reachable yet)")

// Reencrypt seals every stored value under the current master key: the
// step of a master key's rotation after every replica has it. Values under a
// master key this process does not hold are left, and counted. It goes over
// the values one at a time, as a batch command: it reports its progress and
// stops between values (never in the middle of one's write) as opts and
// batchRun say.
func (s *Service) Reencrypt(ctx context.Context, opts BatchOptions) (ReencryptResult, error) {
	var res ReencryptResult
	vault := s.keyVault()
	if vault == nil {
		return res, ErrNoVault
	}
	nk, nc, err := s.store.CountStored(ctx)
	if err != nil {
		return res, err
	}
	res.Total = nk + nc
	b := s.startBatch(ctx, opts, "stored values", res.progress)
	// listed is a page's listing error: the interruption when ctx ended
	// meanwhile (the read was cancelled, not the store at fault).
	listed := func(what string, err error) error {
		if ierr := b.interrupted(); ierr != nil {
			return ierr
		}
		return fmt.Errorf("list %s: %w", what, err)
	}
	for after := ""; ; {
		keys, err := s.store.StoredKeys(ctx, after, reencryptPage)
		if err != nil {
			return res, listed("stored keys", err)
		}
		for _, k := range keys {
			if err := b.step(func(ctx context.Context) error { return s.reencryptKey(ctx, vault, k, &res) }); err != nil {
				return res, err
			}
		}
		if len(keys) < reencryptPage {
			break
		}
		after = keys[len(keys)-1].KeyARN
	}
	for after := ""; ; {
		chans, err := s.store.StoredChannels(ctx, after, reencryptPage)
		if err != nil {
			return res, listed("stored channels", err)
		}
		for _, c := range chans {
			if err := b.step(func(ctx context.Context) error { return s.reencryptChannel(ctx, vault, c, &res) }); err != nil {
				return res, err
			}
		}
		if len(chans) < reencryptPage {
			break
		}
		after = chans[len(chans)-1].ARN
	}
	return res, nil
}

// reencryptKey seals k's value again under the current master key, unless
// it is already, or cannot be: counted in res either way.
func (s *Service) reencryptKey(ctx context.Context, vault Vault, k StoredKey, res *ReencryptResult) error {
	v, isCurrent, err := vault.Open(k.Sealed, k.KeyARN, k.ChannelARN)
	if !res.needsResealing(err, isCurrent) {
		return nil
	}
	current, known := vault.KeyIDs()
	sealed, err := vault.Seal(v, k.KeyARN, k.ChannelARN)
	if err != nil {
		return fmt.Errorf("seal stream key: %w", err)
	}
	k.Sealed, k.SealedBy = sealed, current
	ok, err := s.store.StoreKey(ctx, k, known)
	if err != nil {
		return err // the store's error names the write
	}
	res.resealed(ok)
	return nil
}

// reencryptChannel does for c's SRT passphrase what reencryptKey does for
// a key.
func (s *Service) reencryptChannel(ctx context.Context, vault Vault, c StoredChannel, res *ReencryptResult) error {
	v, isCurrent, err := vault.Open(c.SealedSRTPassphrase, c.ARN)
	if !res.needsResealing(err, isCurrent) {
		return nil
	}
	current, known := vault.KeyIDs()
	sealed, err := vault.Seal(v, c.ARN)
	if err != nil {
		return fmt.Errorf("seal SRT passphrase: %w", err)
	}
	c.SealedSRTPassphrase, c.SealedBy = sealed, current
	ok, err := s.store.StoreChannel(ctx, c, known)
	if err != nil {
		return err // the store's error names the write
	}
	res.resealed(ok)
	return nil
}

// needsResealing says whether a value that opened as err and isCurrent say
// is to be sealed again; it counts the others.
func (r *ReencryptResult) needsResealing(err error, isCurrent bool) bool {
	switch {
	case errors.Is(err, ErrSealedByUnknownKey):
		r.Unknown++
	case err != nil:
		r.Unreadable++
	case isCurrent:
		r.Current++
	default:
		return true
	}
	return false
}

// resealed counts a value sealed again, stored or not: a write refused
// means another process stored the value meanwhile, under a master key this
// one lacks.
func (r *ReencryptResult) resealed(stored bool) {
	if stored {
		r.Resealed++
	} else {
		r.Unknown++
	}
}
