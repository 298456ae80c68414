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
