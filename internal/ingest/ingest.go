// Package ingest is the domain of ivs-ingest: who may get which show's
// Amazon IVS ingest details, and how a show's stream key is read or created
// exactly once. It owns every rule; the store and the IVS client it consumes
// only store and call out.
package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// Caller is a verified, signed-in user.
type Caller struct {
	UserID    string // canonical lowercase UUID
	SessionID string // canonical lowercase UUID, "" when the token has none
}

// Request asks for a show's ingest details, or for a new key.
type Request struct {
	Caller Caller
	ShowID string // canonical lowercase UUID
	// ImpersonateSellerID is the seller an admin acts as; "" for none.
	ImpersonateSellerID string
	// Audit is the request's audit row as the transport knows it (request
	// id, actor, client). A change (a rotation, a revocation, an expired
	// key's renewal) writes it, completed, in the change's own
	// transaction, so that no change stands without its row.
	Audit AuditEntry
}

// Details is what a seller types into OBS.
type Details struct {
	// IngestEndpoint is the channel's bare ingest host name, as IVS returns it.
	IngestEndpoint string
	StreamKey      secret.String
	// SRT is the channel's SRT ingest, when IVS reported one.
	SRT SRT
	// Action is what getting the details took: ActionGet for an existing
	// key, ActionCreate for a new one, ActionRotate or ActionExpire for a
	// replaced one.
	Action Action
	// StreamKeyARN identifies the key, for the audit trail.
	StreamKeyARN string
	// SellerID is the seller the show belongs to.
	SellerID string
	// AuditedBy is the request id whose audit row the change that made
	// these details wrote in its own transaction; "" for none.
	AuditedBy string
}

// ServerURL is the RTMPS server URL for IngestEndpoint.
func (d Details) ServerURL() string { return "rtmps://" + d.IngestEndpoint + ":443/app/" }

// SRT is a channel's SRT ingest endpoint and passphrase.
type SRT struct {
	Endpoint   string
	Passphrase secret.String
}

// SRTURL is what an SRT encoder is given: endpoint, key and passphrase in
// one URL; "" when the channel has no SRT endpoint known.
func (d Details) SRTURL() string {
	if d.SRT.Endpoint == "" || d.SRT.Passphrase.IsZero() {
		return ""
	}
	// In the documented order, streamid first (url.Values would sort).
	return "srt://" + d.SRT.Endpoint + ":9000?streamid=" + url.QueryEscape(d.StreamKey.Reveal()) +
		"&passphrase=" + url.QueryEscape(d.SRT.Passphrase.Reveal())
}

// The domain's errors. The HTTP layer maps each to a status and a message in
// one table; any other error is an internal error whose details are only logged.
var (
	ErrSessionEnded        = errors.New("session ended or unknown")
	ErrImpersonationDenied = errors.New("only admins can impersonate sellers")
	ErrSellerNotFound      = errors.New("seller profile not found")
	ErrSellerNotApproved   = errors.New("seller not approved")
	ErrShowNotFound        = errors.New("show not found")
	ErrNotShowOwner        = errors.New("caller does not own the show")
	// ErrChannelShared: another seller's show names the same channel, so
	// its key would be theirs too.
	ErrChannelShared = errors.New("channel is shared with another seller's show")
	// ErrShowChanged: the show was moved to another seller or channel
	// while its key was being read or changed.
	ErrShowChanged          = errors.New("show changed during the request")
	ErrNoChannel            = errors.New("show has no IVS channel")
	ErrChannelUnavailable   = errors.New("failed to retrieve channel details")
	ErrStreamKeyUnavailable = errors.New("failed to read or create the stream key")
	ErrAuditForbidden       = errors.New("caller may not read this audit trail")
	// ErrRateLimited matches every *RateLimitedError.
	ErrRateLimited = errors.New("too many key creations")
)

// RateLimitedError says a seller created or rotated too many keys lately.
type RateLimitedError struct {
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("too many key creations: retry after %s", e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrRateLimited) hold.
func (e *RateLimitedError) Is(target error) bool { return target == ErrRateLimited }

// AuditedError is the error of a change that went part way and committed
// what it did, with the audit row of RequestID saying so: the caller must not
// write a second row for it.
type AuditedError struct {
	Err       error
	RequestID string
}

func (e *AuditedError) Error() string { return e.Err.Error() }

func (e *AuditedError) Unwrap() error { return e.Err }

// AuthzQuery names everything one authorization decision needs.
type AuthzQuery struct {
	UserID               string
	SessionID            string
	ShowID               string
	ImpersonatedSellerID string // "" for none
}

// AuthzFacts is what the store knows about an AuthzQuery, read in one round
// trip. The store reports facts; Service decides.
type AuthzFacts struct {
	// SessionActive is false when the store tracks sessions and the caller's
	// session is not among them (signed out, or no session id at all).
	SessionActive bool
	IsAdmin       bool
	// Seller is the caller's seller profile, or the impersonated seller's;
	// nil when there is none.
	Seller *Seller
	// Show is the requested show; nil when there is none.
	Show *Show
}

// Seller is a seller profile.
type Seller struct {
	ID     string
	Status string
}

// SellerApproved is the only status that may go live.
const SellerApproved = "approved"

// Show is a show and the IVS resources attached to it.
type Show struct {
	ID             string
	SellerID       string
	ChannelARN     string
	IngestEndpoint string // as stored; may carry a scheme or port written by an older function
	StreamKeyARN   string
	// KeyFirstSeen is when the service first saw StreamKeyARN; zero when
	// it has not (yet) recorded it.
	KeyFirstSeen time.Time
	// ChannelShared is true when a show of another seller names the same
	// channel.
	ChannelShared bool
}

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
	// WriteAudit records e with the section's changes.
	WriteAudit(ctx context.Context, e AuditEntry) error
}

// IVS is the part of Amazon IVS the domain calls.
type IVS interface {
	GetChannel(ctx context.Context, arn string) (Channel, error)
	GetStreamKey(ctx context.Context, arn string) (StreamKey, error)
	// ListStreamKeys returns the ARNs of every key of the channel.
	ListStreamKeys(ctx context.Context, channelARN string) ([]string, error)
	CreateStreamKey(ctx context.Context, channelARN string) (StreamKey, error)
	DeleteStreamKey(ctx context.Context, arn string) error
	// StopStream ends the channel's live stream; ErrIVSNotBroadcasting
	// when there is none.
	StopStream(ctx context.Context, channelARN string) error
	// Live reports whether the channel is broadcasting.
	Live(ctx context.Context, channelARN string) (bool, error)
}

// Channel is an IVS channel.
type Channel struct {
	ARN            string
	IngestEndpoint string
	SRT            SRT
}

// StreamKey is an IVS stream key.
type StreamKey struct {
	ARN        string
	ChannelARN string
	Value      secret.String
}

// Errors an IVS implementation reports so the domain can tell them apart.
var (
	// ErrIVSNotFound: the channel or key does not exist.
	ErrIVSNotFound = errors.New("ivs: resource not found")
	// ErrIVSKeyQuota: the channel already has its one stream key.
	ErrIVSKeyQuota = errors.New("ivs: stream key quota exceeded")
	// ErrIVSCredentials: no AWS credentials could be found or used.
	ErrIVSCredentials = errors.New("ivs: aws credentials unavailable")
	// ErrIVSNotBroadcasting: the channel has no live stream.
	ErrIVSNotBroadcasting = errors.New("ivs: channel not broadcasting")
	// ErrIVSThrottled: IVS still throttled the call after every retry. It
	// comes with a *budget.ExhaustedError saying when to come back.
	ErrIVSThrottled = errors.New("ivs: throttled")
)

// NormalizeEndpoint reduces a stored ingest endpoint to the bare host name
// IVS returns, dropping a scheme, port or path an older function may have
// written ("rtmps://h.global-contribute.live-video.net:443/app/" -> "h.global-contribute.live-video.net").
func NormalizeEndpoint(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return strings.ToLower(s)
}

// NewID returns a random (version 4) UUID in canonical form.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])  // never fails (crypto/rand documents it)
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // variant 10
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ParseID checks that s is a UUID in the canonical 8-4-4-4-12 hex form, in
// any case, and returns it lowercased: the form every id has in the domain.
func ParseID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	b := []byte(s)
	for i, c := range b {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
			continue
		}
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			b[i] = c + ('a' - 'A')
		default:
			return "", false
		}
	}
	return string(b), true
}
