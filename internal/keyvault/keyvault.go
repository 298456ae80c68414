// Package keyvault seals secrets (stream key values, SRT passphrases) for
// storage in the database, so that a copy of the database alone reveals none.
//
// A sealed value is AES-256-GCM under a key derived for that value alone:
// HKDF-SHA256 of a master key with a random 16-byte salt kept in the value. A
// random 96-bit nonce is drawn per sealing. The additional data binds the
// value to its format version, its master key's id and the caller's binding
// (a key's ARN and its channel's ARN), each length-prefixed, so a value copied
// onto another row does not open.
//
// Format, version 1:
//
//	0x01 | len(id) (1 byte) | id | salt (16) | nonce (12) | ciphertext and tag
package keyvault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"

	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

const (
	version   = 1
	saltSize  = 16
	nonceSize = 12
	keySize   = 32
	// info separates this use of a master key from any other.
	info = "ivs-ingest sealed value v1"
)

// Errors Open reports. Neither carries the sealed value or its plaintext.
var (
	// ErrUnknownKey: the value was sealed under a master key this keyring
	// does not hold. Such a value must not be overwritten: another process
	// may hold the key (a rolling deploy).
	ErrUnknownKey = errors.New("keyvault: sealed under an unknown master key")
	// ErrUnreadable: the value is malformed, tampered with, or bound to
	// another row.
	ErrUnreadable = errors.New("keyvault: sealed value does not open")
)

// Key is a master key and the id that names it in every value it seals.
type Key struct {
	ID     string
	secret [keySize]byte
}

var keyID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

// ParseKey reads a master key given as 32 bytes in base64 (standard or
// URL-safe alphabet, with or without padding) and names it id.
func ParseKey(id, encoded string) (Key, error) {
	if !keyID.MatchString(id) {
		return Key{}, fmt.Errorf("key id %q: want 1 to 32 characters of A-Z a-z 0-9 . _ -", id)
	}
	raw, err := decodeBase64(strings.TrimSpace(encoded))
	if err != nil || len(raw) != keySize {
		// Neither the value nor the decoder's error (which may quote it).
		return Key{}, fmt.Errorf("key %q: want %d bytes in base64", id, keySize)
	}
	k := Key{ID: id}
	copy(k.secret[:], raw)
	return k, nil
}

// NewKey returns a random master key named id.
func NewKey(id string) (Key, error) {
	if !keyID.MatchString(id) {
		return Key{}, fmt.Errorf("key id %q: want 1 to 32 characters of A-Z a-z 0-9 . _ -", id)
	}
	k := Key{ID: id}
	_, _ = rand.Read(k.secret[:]) // never fails (crypto/rand documents it)
	return k, nil
}

// Encoded returns the key in standard base64, to be written to a file only
// this service reads.
func (k Key) Encoded() secret.String {
	return secret.New(base64.StdEncoding.EncodeToString(k.secret[:]))
}

// String names the key without revealing it.
func (k Key) String() string { return "keyvault.Key(" + k.ID + ")" }

// GoString names the key without revealing it, for %#v.
func (k Key) GoString() string { return k.String() }

// LogValue names the key without revealing it, for slog.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// Keyring seals under one master key and opens values sealed under it or
// under the keys being retired.
type Keyring struct {
	current Key
	keys    map[string]Key
}

// NewKeyring seals with current and also opens what any of retiring sealed.
// Two keys may not share an id.
func NewKeyring(current Key, retiring ...Key) (*Keyring, error) {
	r := &Keyring{current: current, keys: map[string]Key{current.ID: current}}
	for _, k := range retiring {
		if old, ok := r.keys[k.ID]; ok {
			if old.secret != k.secret {
				return nil, fmt.Errorf("two different keys are named %q", k.ID)
			}
			continue
		}
		r.keys[k.ID] = k
	}
	return r, nil
}

// String names the keyring's keys without revealing them.
func (r Keyring) String() string {
	ids := make([]string, 0, len(r.keys))
	for id := range r.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return "keyvault.Keyring(current " + r.current.ID + "; " + strings.Join(ids, ", ") + ")"
}

// GoString is String, for %#v.
func (r Keyring) GoString() string { return r.String() }

// LogValue is String, for slog.
func (r Keyring) LogValue() slog.Value { return slog.StringValue(r.String()) }

// CurrentID is the id of the key new values are sealed under.
func (r *Keyring) CurrentID() string { return r.current.ID }

// Seal encrypts plaintext, bound to binding (for a stream key: its ARN and
// its channel's ARN): Open needs the same binding.
func (r *Keyring) Seal(plaintext secret.String, binding ...string) ([]byte, error) {
	k := r.current
	out := make([]byte, 0, 2+len(k.ID)+saltSize+nonceSize+len(plaintext.Reveal())+16)
	out = append(out, version, byte(len(k.ID)))
	out = append(out, k.ID...)
	salt := make([]byte, saltSize)
	nonce := make([]byte, nonceSize)
	_, _ = rand.Read(salt)
	_, _ = rand.Read(nonce)
	out = append(out, salt...)
	out = append(out, nonce...)
	aead, err := rowCipher(k, salt)
	if err != nil {
		return nil, err
	}
	return aead.Seal(out, nonce, []byte(plaintext.Reveal()), additionalData(k.ID, binding)), nil
}

// Open decrypts a value Seal returned with the same binding, and says
// which master key sealed it. The error matches ErrUnknownKey or
// ErrUnreadable; it never carries the value.
func (r *Keyring) Open(sealed []byte, binding ...string) (plaintext secret.String, id string, err error) {
	id, salt, nonce, body, ok := parse(sealed)
	if !ok {
		return secret.String{}, "", ErrUnreadable
	}
	k, ok := r.keys[id]
	if !ok {
		return secret.String{}, id, fmt.Errorf("%w %q", ErrUnknownKey, id)
	}
	aead, err := rowCipher(k, salt)
	if err != nil {
		return secret.String{}, id, err
	}
	plain, err := aead.Open(nil, nonce, body, additionalData(id, binding))
	if err != nil {
		return secret.String{}, id, ErrUnreadable
	}
	return secret.New(string(plain)), id, nil
}

// SealedBy names the master key a value was sealed under; "" when the value
// is malformed.
func SealedBy(sealed []byte) string {
	id, _, _, _, ok := parse(sealed)
	if !ok {
		return ""
	}
	return id
}

func parse(sealed []byte) (id string, salt, nonce, body []byte, ok bool) {
	if len(sealed) < 2 || sealed[0] != version {
		return "", nil, nil, nil, false
	}
	n := int(sealed[1])
	rest := sealed[2:]
	if n == 0 || len(rest) < n+saltSize+nonceSize+16 {
		return "", nil, nil, nil, false
	}
	id, rest = string(rest[:n]), rest[n:]
	salt, rest = rest[:saltSize], rest[saltSize:]
	nonce, body = rest[:nonceSize], rest[nonceSize:]
	return id, salt, nonce, body, true
}

// rowCipher is AES-256-GCM under the key HKDF derives from k for salt.
func rowCipher(k Key, salt []byte) (cipher.AEAD, error) {
	derived, err := hkdf.Key(sha256.New, k.secret[:], salt, info, keySize)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	block, err := aes.NewCipher(derived)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	return cipher.NewGCM(block)
}

// additionalData is the format version, the key id and the binding, each
// prefixed with its length, so that no two different lists encode alike.
func additionalData(id string, binding []string) []byte {
	fields := append([]string{string(rune('0' + version)), id}, binding...)
	var ad []byte
	for _, f := range fields {
		ad = binary.BigEndian.AppendUint32(ad, uint32(len(f)))
		ad = append(ad, f...)
	}
	return ad
}
