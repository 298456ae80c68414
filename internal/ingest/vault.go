package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// vault.go holds the key store's rules: what is sealed and stored, when, and
// what a stored value that does not open means. The lookup goes: the
// process's cache, then the sealed value the authorization query returned
// (opened here), then IVS.

// ErrSealedByUnknownKey matches every *UnknownKeyError.
var ErrSealedByUnknownKey = errors.New("sealed under a master key this process does not hold")

// UnknownKeyError says a stored value was sealed under a master key this
// process does not hold: another replica may (a rolling deploy), so the
// value is served from IVS and never overwritten.
type UnknownKeyError struct {
	// KeyID is the id of the master key that sealed it.
	KeyID string
}

func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("%s (master key id %q)", ErrSealedByUnknownKey, e.KeyID)
}

// Is makes errors.Is(err, ErrSealedByUnknownKey) hold.
func (e *UnknownKeyError) Is(target error) bool { return target == ErrSealedByUnknownKey }

// stored is what the store's copy of a show gave, opened: what need not be
// asked of IVS.
type stored struct {
	key        StreamKey // valid when hasKey
	hasKey     bool
	keyCurrent bool    // sealed under the current master key
	channel    Channel // valid when hasChannel
	hasChannel bool
	chCurrent  bool
}

// openStored opens what the store keeps of show: its key's value and its
// channel. A value that does not open counts as not stored (logged and
// counted here, never an error): it is read from IVS and stored again.
func (s *Service) openStored(ctx context.Context, show Show) stored {
	var st stored
	vault := s.keyVault()
	if vault == nil {
		return st
	}
	if show.StreamKeyARN != "" && show.SealedKey != nil {
		v, current, err := vault.Open(show.SealedKey, show.StreamKeyARN, show.ChannelARN)
		if err != nil {
			s.unusable(ctx, "stream key", show.ID, err)
		} else {
			st.key = StreamKey{ARN: show.StreamKeyARN, ChannelARN: show.ChannelARN, Value: v}
			st.hasKey, st.keyCurrent = true, current
		}
	}
	if c := show.StoredChannel; c != nil && c.ARN == show.ChannelARN && c.IngestEndpoint != "" {
		st.channel = Channel{ARN: c.ARN, IngestEndpoint: c.IngestEndpoint}
		st.hasChannel, st.chCurrent = true, true
		if c.SealedSRTPassphrase != nil {
			v, current, err := vault.Open(c.SealedSRTPassphrase, c.ARN)
			if err != nil {
				s.unusable(ctx, "SRT passphrase", show.ID, err)
				st.channel, st.hasChannel = Channel{}, false
			} else {
				st.channel.SRT = SRT{Endpoint: c.SRTEndpoint, Passphrase: v}
				st.chCurrent = current
			}
		}
	}
	return st
}

// unusable logs and counts a stored value that did not open. One sealed
// under an unknown master key is logged once per key id (many rows may be),
// never with its value; the others name the show and the reason.
func (s *Service) unusable(ctx context.Context, what, showID string, err error) {
	var unknown *UnknownKeyError
	if errors.As(err, &unknown) {
		s.metrics.StoredValueUnusable(UnusableUnknownKey)
		if _, seen := s.unknownKeys.LoadOrStore(unknown.KeyID, true); !seen {
			s.logger.WarnContext(ctx, "stored values are sealed under a master key this process does not hold: "+
				"they are served from IVS and left as they are (add the key to STREAM_KEY_DECRYPTION_KEYS)",
				"master_key_id", unknown.KeyID, "show_id", showID, "value", what)
		}
		return
	}
	s.metrics.StoredValueUnusable(UnusableUnreadable)
	s.logger.WarnContext(ctx, "stored value does not open: reading it from IVS and storing it again",
		"show_id", showID, "value", what, "reason", err.Error())
}

// sealKey seals key's value with vault for the store, as verified now.
func (s *Service) sealKey(vault Vault, key StreamKey) (StoredKey, error) {
	sealed, err := vault.Seal(key.Value, key.ARN, key.ChannelARN)
	if err != nil {
		return StoredKey{}, fmt.Errorf("seal stream key: %w", err)
	}
	current, _ := vault.KeyIDs()
	return StoredKey{KeyARN: key.ARN, ChannelARN: key.ChannelARN, Sealed: sealed, SealedBy: current, VerifiedAt: s.now()}, nil
}

// sealChannel seals ch's SRT passphrase with vault for the store.
func (s *Service) sealChannel(vault Vault, ch Channel) (StoredChannel, error) {
	c := StoredChannel{ARN: ch.ARN, IngestEndpoint: ch.IngestEndpoint, SRTEndpoint: ch.SRT.Endpoint}
	if !ch.SRT.Passphrase.IsZero() {
		sealed, err := vault.Seal(ch.SRT.Passphrase, ch.ARN)
		if err != nil {
			return StoredChannel{}, fmt.Errorf("seal SRT passphrase: %w", err)
		}
		c.SealedSRTPassphrase = sealed
		c.SealedBy, _ = vault.KeyIDs()
	}
	return c, nil
}

// keep stores key's value and, when ch is not nil, the channel, through w:
// the store, or the section that records the key. Without a vault it
// stores nothing.
func (s *Service) keep(ctx context.Context, w SealedWriter, key *StreamKey, ch *Channel) error {
	vault := s.keyVault()
	if vault == nil {
		return nil
	}
	_, known := vault.KeyIDs()
	if key != nil {
		k, err := s.sealKey(vault, *key)
		if err != nil {
			return err
		}
		if _, err := w.StoreKey(ctx, k, known); err != nil {
			return fmt.Errorf("store stream key: %w", err)
		}
	}
	if ch != nil && ch.IngestEndpoint != "" {
		c, err := s.sealChannel(vault, *ch)
		if err != nil {
			return err
		}
		if _, err := w.StoreChannel(ctx, c, known); err != nil {
			return fmt.Errorf("store channel: %w", err)
		}
	}
	return nil
}

// reseal seals again, under the current master key, the values st opened
// under an older one. The write is conditional like every other, and a
// failure only leaves the value under the older key, so it is logged.
func (s *Service) reseal(ctx context.Context, show Show, st stored) {
	var key *StreamKey
	var ch *Channel
	if st.hasKey && !st.keyCurrent {
		k := st.key
		key = &k
	}
	if st.hasChannel && !st.chCurrent {
		c := st.channel
		ch = &c
	}
	if key == nil && ch == nil {
		return
	}
	if key != nil && !show.KeyVerifiedAt.IsZero() {
		// Sealing again is no check against IVS: the time stays.
		if err := s.resealKey(ctx, *key, show.KeyVerifiedAt); err != nil {
			s.logger.WarnContext(ctx, "stream key not sealed again under the current master key", "show_id", show.ID, "error", err.Error())
		}
		key = nil
	}
	if err := s.keep(ctx, s.store, key, ch); err != nil {
		s.logger.WarnContext(ctx, "stored values not sealed again under the current master key", "show_id", show.ID, "error", err.Error())
	}
}

// resealKey stores key's value sealed under the current master key, keeping
// when it was last verified; stored is false when the store kept another
// value (sealed under a key this process does not hold).
func (s *Service) resealKey(ctx context.Context, key StreamKey, verifiedAt time.Time) error {
	vault := s.keyVault()
	if vault == nil {
		return nil
	}
	k, err := s.sealKey(vault, key)
	if err != nil {
		return err
	}
	k.VerifiedAt = verifiedAt
	_, known := vault.KeyIDs()
	_, err = s.store.StoreKey(ctx, k, known)
	return err
}

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
