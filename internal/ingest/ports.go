package ingest

import (
	"context"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// CreationLimiter counts key creations (and rotations) per seller, exactly
// across every replica sharing the store. A ChannelTx is one.
type CreationLimiter interface {
	// ReserveKeyCreation records a creation for sellerID unless limit
	// creations happened within window; then it returns id 0 and how long
	// until the oldest leaves the window.
	ReserveKeyCreation(ctx context.Context, sellerID string, limit int, window time.Duration) (id int64, retryAfter time.Duration, err error)
	// CancelKeyCreation forgets a reservation whose creation failed.
	CancelKeyCreation(ctx context.Context, id int64) error
}

// Store is the persistence the domain needs.
type Store interface {
	Auditor
	// SealedWriter stores sealed values outside any section: a key read
	// from IVS, a value sealed again under the current master key.
	SealedWriter
	// Authorize reads the facts for q in one round trip.
	Authorize(ctx context.Context, q AuthzQuery) (AuthzFacts, error)
	// KeyCreationWait says how long until sellerID may create a key, with
	// limit creations per window: 0 when it may now. It reserves nothing:
	// it lets a request that would be refused stop before it reserves IVS
	// calls; the exact count is taken under the channel's lock.
	KeyCreationWait(ctx context.Context, sellerID string, limit int, window time.Duration) (time.Duration, error)
	// SetIngestEndpoint records a show's channel ingest host.
	SetIngestEndpoint(ctx context.Context, showID, endpoint string) error
	// NoteKeySeen records, once, when the service first saw a key.
	NoteKeySeen(ctx context.Context, keyARN, channelARN string) error
	// ShowsWithKeysOlderThan lists the shows with a channel whose key was
	// first seen longer than age ago.
	ShowsWithKeysOlderThan(ctx context.Context, age time.Duration) ([]Show, error)
	// ShowsWithoutKey lists the shows with a channel and no recorded key.
	ShowsWithoutKey(ctx context.Context) ([]Show, error)
	// Show reads one show; found is false when there is none.
	Show(ctx context.Context, id string) (show Show, found bool, err error)
	// WithChannelLock runs fn while holding a lock on channelARN that every
	// replica sharing the store respects, and commits what fn recorded when
	// it returns nil.
	WithChannelLock(ctx context.Context, channelARN string, fn func(ChannelTx) error) error
	// KeyVerified records that IVS confirmed keyARN exists at at (never
	// moving the time back); nothing when its value is not stored.
	KeyVerified(ctx context.Context, keyARN string, at time.Time) error
	// ForgetStreamKey clears keyARN from every show that records it
	// (compare-and-set on the ARN: a show that records another key
	// meanwhile keeps it) and clears its stored value; it returns how many
	// shows it cleared.
	ForgetStreamKey(ctx context.Context, keyARN string) (int, error)
	// StoredKeys lists the stored key values, in key ARN order after
	// afterARN, at most limit of them.
	StoredKeys(ctx context.Context, afterARN string, limit int) ([]StoredKey, error)
	// StoredChannels lists the stored channels that have a sealed SRT
	// passphrase, in ARN order after afterARN, at most limit of them.
	StoredChannels(ctx context.Context, afterARN string, limit int) ([]StoredChannel, error)
	// CountStored counts what StoredKeys and StoredChannels list: the
	// stored key values, and the channels with a sealed SRT passphrase.
	CountStored(ctx context.Context) (keys, channels int, err error)
}

// SealedWriter stores sealed values. Each write is conditional: a value
// already stored under a master key whose id is not in known is never
// overwritten (stored is false then). Why: during a rolling deploy two
// replicas may hold different master keys, and each must leave the other's
// values alone rather than fight over them.
type SealedWriter interface {
	// StoreKey stores k's sealed value, its master key's id and when it
	// was verified, for k.KeyARN.
	StoreKey(ctx context.Context, k StoredKey, known []string) (stored bool, err error)
	// StoreChannel stores c: its ingest and SRT endpoints and its sealed
	// SRT passphrase.
	StoreChannel(ctx context.Context, c StoredChannel, known []string) (stored bool, err error)
}

// ChannelTx is the store as seen while holding a channel's lock: what it
// writes commits together, when the section ends well.
type ChannelTx interface {
	// CreationLimiter counts a creation within the section: it commits
	// with the section, so a section that fails counts nothing.
	CreationLimiter
	// Show reads the show again, and keeps it from changing until the
	// section ends; found is false when it is gone.
	Show(ctx context.Context, showID string) (show Show, found bool, err error)
	// Authorize reads the facts for q again, as Store.Authorize does, and
	// keeps the show from changing until the section ends.
	Authorize(ctx context.Context, q AuthzQuery) (AuthzFacts, error)
	// StreamKeyARN returns the stream key ARN recorded for the show ("" for none).
	StreamKeyARN(ctx context.Context, showID string) (string, error)
	// RecordStreamKey records the show's key ARN ("" clears it) and its
	// channel's ingest host.
	RecordStreamKey(ctx context.Context, showID, keyARN, endpoint string) error
	// SealedWriter stores a key's sealed value (and its channel's) with
	// the section's changes: a key is stored in the transaction that
	// records its ARN.
	SealedWriter
	// WriteAudit records e with the section's changes.
	WriteAudit(ctx context.Context, e AuditEntry) error
}

// Limiter limits an action per key (a show's revocations), across every
// replica that shares it.
type Limiter interface {
	// Take charges n units to key, or refuses with an error saying when to
	// come back, which the domain passes on as it is.
	Take(ctx context.Context, key string, n int) error
	// Give returns n units a Take charged and that were not used.
	Give(ctx context.Context, key string, n int) error
}

// RateLimits makes the limiter named name: burst actions per key at once,
// then one more every interval.
type RateLimits func(name string, interval time.Duration, burst int) Limiter

// Vault seals the secrets the store keeps (stream key values, SRT
// passphrases), so that the store alone reveals none. A sealed value is
// bound to binding: it opens only with the same binding, so a value copied
// onto another row does not open.
type Vault interface {
	// Seal seals value under the current master key.
	Seal(value secret.String, binding ...string) ([]byte, error)
	// Open opens a value Seal returned with the same binding. current is
	// true when it was sealed under the current master key (otherwise it
	// is sealed again on the next write). An error matches
	// ErrSealedByUnknownKey (as an *UnknownKeyError) when the value was
	// sealed under a master key the vault does not hold; any other error
	// means the value does not open (tampered, or bound to another row).
	// No error carries the value.
	Open(sealed []byte, binding ...string) (value secret.String, current bool, err error)
	// KeyIDs names the master key Seal seals under and every master key
	// Open opens, that one included.
	KeyIDs() (current string, known []string)
}

// Metrics is what the service reports about its work.
type Metrics interface {
	KeyCacheLookup(hit bool)
	// StoredValueUnusable counts a stored value that could not be used:
	// reason is UnusableUnknownKey or UnusableUnreadable.
	StoredValueUnusable(reason string)
}

// The reasons of Metrics.StoredValueUnusable.
const (
	// UnusableUnknownKey: sealed under a master key this process does not
	// hold.
	UnusableUnknownKey = "unknown_key"
	// UnusableUnreadable: tampered with, or bound to another row.
	UnusableUnreadable = "unreadable"
)

type noMetrics struct{}

func (noMetrics) KeyCacheLookup(bool)        {}
func (noMetrics) StoredValueUnusable(string) {}

// Auditor is the store's audit trail.
type Auditor interface {
	// WriteAudit records e durably before it returns. A zero OccurredAt is
	// the store's clock's now.
	WriteAudit(ctx context.Context, e AuditEntry) error
	// ReadAudit returns the entries q selects, newest (highest id) first.
	ReadAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// CountAudit counts the entries q selects, whatever q.BeforeID, up
	// to q.Limit.
	CountAudit(ctx context.Context, q AuditQuery) (int, error)
}

// AuditPruner deletes old audit entries.
type AuditPruner interface {
	// DeleteAuditBefore deletes up to limit of the entries that occurred
	// before cutoff, oldest first, and returns how many it deleted.
	DeleteAuditBefore(ctx context.Context, cutoff time.Time, limit int) (int, error)
}

// Leaser hands out leases: a named job that only one holder at a time, of
// every replica sharing the store, may run.
type Leaser interface {
	// TakeLease gives name to holder until ttl from now, unless another
	// holder has it and it has not expired; it reports whether holder has it.
	// A holder that has it extends it.
	TakeLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease ends holder's lease on name; nothing when holder has
	// not got it.
	ReleaseLease(ctx context.Context, name, holder string) error
}

// StreamStates is what the service knows of its channels' stream states
// (internal/streamstatus keeps them, from IVS's events and reconciliations).
// Key expiry asks it whether a channel is live before it asks IVS.
type StreamStates interface {
	// Known says whether channelARN is live, from a state recent enough to
	// trust; ok is false when there is none (the caller asks IVS).
	Known(ctx context.Context, channelARN string) (live, ok bool, err error)
}

// DataKey is a key store master key wrapped by AWS KMS (a data key of
// kms:GenerateDataKey), as the store keeps it for internal/app's KMS option:
// each process unwraps it with one kms:Decrypt at start. The store never
// sees it unwrapped.
type DataKey struct {
	// ID names the row; the master key it unwraps to is named "kms-<ID>".
	ID string
	// KMSKeyID is the ARN of the KMS key that wrapped it.
	KMSKeyID string
	// Wrapped is KMS's ciphertext blob.
	Wrapped   []byte
	CreatedAt time.Time
}
