// Package ingest is the domain of ivs-ingest: who may get which show's
// Amazon IVS ingest details, and how a show's stream key is read or created
// exactly once. It owns every rule; the store and the IVS client it consumes
// only store and call out.
package ingest

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// Caller is a verified, signed-in user.
type Caller struct {
	UserID    string // canonical lowercase UUID
	SessionID string // canonical lowercase UUID, "" when the token has none
	// AAL is how strongly the caller signed in, the token's aal claim;
	// "" (no claim) counts as AAL1.
	AAL AssuranceLevel
}

// AssuranceLevel is a Supabase authenticator assurance level: the aal claim
// of an access token.
type AssuranceLevel string

// The assurance levels Supabase Auth issues.
const (
	// AAL1: signed in with one factor (a password, a magic link, OAuth).
	AAL1 AssuranceLevel = "aal1"
	// AAL2: a second factor (TOTP, phone) verified in this session.
	AAL2 AssuranceLevel = "aal2"
)

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
	// Wait is told when the request waits for IVS, a channel's lock or
	// another request's resolution of the same key; nil for none.
	Wait Waiter
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
	// SealedKey is StreamKeyARN's value as the store keeps it, sealed by
	// the Vault and bound to the key's and the channel's ARNs; nil when it
	// is not stored.
	SealedKey []byte
	// KeyVerifiedAt is when IVS last confirmed StreamKeyARN exists (set
	// when its value is stored); zero when its value is not stored.
	KeyVerifiedAt time.Time
	// StoredChannel is what the store keeps of ChannelARN; nil when it
	// keeps nothing.
	StoredChannel *StoredChannel
}

// StoredKey is a stream key's value as the store keeps it.
type StoredKey struct {
	KeyARN     string
	ChannelARN string
	// Sealed is the value sealed by the Vault, bound to KeyARN and
	// ChannelARN.
	Sealed []byte
	// SealedBy is the id of the master key that sealed it.
	SealedBy string
	// VerifiedAt is when IVS last confirmed the key exists.
	VerifiedAt time.Time
}

// StoredChannel is what the store keeps of an IVS channel, so that its key
// can be handed out, or created, without GetChannel.
type StoredChannel struct {
	ARN            string
	IngestEndpoint string
	SRTEndpoint    string
	// SealedSRTPassphrase is the SRT passphrase sealed by the Vault, bound
	// to ARN; nil when the channel has none.
	SealedSRTPassphrase []byte
	// SealedBy is the id of the master key that sealed the passphrase; ""
	// when there is none.
	SealedBy string
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
