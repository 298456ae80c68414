package keyvault_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/keyvault"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

const (
	keyARN     = "arn:aws:ivs:us-east-1:123456789012:stream-key/abcdEFGH1234"
	channelARN = "arn:aws:ivs:us-east-1:123456789012:channel/abcdEFGH1234"
	streamKey  = "sk_us-east-1_abcdefghijklmnopqrstuvwxyz0123456789"
)

func newKeyring(t *testing.T, id string, retiring ...keyvault.Key) (*keyvault.Keyring, keyvault.Key) {
	t.Helper()
	k, err := keyvault.NewKey(id)
	if err != nil {
		t.Fatal(err)
	}
	r, err := keyvault.NewKeyring(k, retiring...)
	if err != nil {
		t.Fatal(err)
	}
	return r, k
}

func TestSealOpens(t *testing.T) {
	t.Parallel()
	r, _ := newKeyring(t, "1")
	sealed, err := r.Seal(secret.New(streamKey), keyARN, channelARN)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(streamKey)) || bytes.Contains(sealed, []byte(streamKey[len(streamKey)-16:])) {
		t.Fatal("sealed value holds the plaintext")
	}
	got, id, err := r.Open(sealed, keyARN, channelARN)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got.Reveal() != streamKey || id != "1" {
		t.Errorf("Open = (value of %d bytes, %q), want the sealed value and key id \"1\"", len(got.Reveal()), id)
	}
	again, err := r.Seal(secret.New(streamKey), keyARN, channelARN)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(sealed, again) {
		t.Error("two sealings of one value are equal: salt or nonce is not random")
	}
}

// A value copied onto another row, or opened with its binding in another
// order or split differently, does not open.
func TestSealedValueIsBoundToItsRow(t *testing.T) {
	t.Parallel()
	r, _ := newKeyring(t, "1")
	sealed, err := r.Seal(secret.New(streamKey), keyARN, channelARN)
	if err != nil {
		t.Fatal(err)
	}
	for name, binding := range map[string][]string{
		"other key":      {keyARN + "x", channelARN},
		"other channel":  {keyARN, channelARN + "x"},
		"swapped":        {channelARN, keyARN},
		"joined":         {keyARN + channelARN},
		"split the same": {keyARN[:10], keyARN[10:] + channelARN},
		"none":           nil,
	} {
		if _, _, err := r.Open(sealed, binding...); !errors.Is(err, keyvault.ErrUnreadable) {
			t.Errorf("%s: Open = %v, want ErrUnreadable", name, err)
		}
	}
}

func TestTamperedValueDoesNotOpen(t *testing.T) {
	t.Parallel()
	r, _ := newKeyring(t, "primary")
	sealed, err := r.Seal(secret.New(streamKey), keyARN, channelARN)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sealed {
		tampered := bytes.Clone(sealed)
		tampered[i] ^= 0x01
		_, _, err := r.Open(tampered, keyARN, channelARN)
		if !errors.Is(err, keyvault.ErrUnreadable) && !errors.Is(err, keyvault.ErrUnknownKey) {
			t.Fatalf("byte %d flipped: Open = %v, want ErrUnreadable or ErrUnknownKey", i, err)
		}
	}
	for _, short := range [][]byte{nil, {1}, sealed[:20], sealed[:len(sealed)-1]} {
		if _, _, err := r.Open(short, keyARN, channelARN); !errors.Is(err, keyvault.ErrUnreadable) {
			t.Errorf("Open(%d bytes) = %v, want ErrUnreadable", len(short), err)
		}
	}
}

// During a key rotation a process opens values of the retiring key, seals
// new ones under the current key, and leaves values of a key it does not
// know alone.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	oldRing, oldKey := newKeyring(t, "2026-01")
	sealedOld, err := oldRing.Seal(secret.New(streamKey), keyARN, channelARN)
	if err != nil {
		t.Fatal(err)
	}
	newRing, _ := newKeyring(t, "2026-12", oldKey)
	got, id, err := newRing.Open(sealedOld, keyARN, channelARN)
	if err != nil || got.Reveal() != streamKey || id != "2026-01" {
		t.Fatalf("Open(value of the retiring key) = (_, %q, %v), want the value under \"2026-01\"", id, err)
	}
	resealed, err := newRing.Seal(got, keyARN, channelARN)
	if err != nil {
		t.Fatal(err)
	}
	if by := keyvault.SealedBy(resealed); by != "2026-12" {
		t.Errorf("SealedBy(resealed) = %q, want the current key \"2026-12\"", by)
	}
	// The old process does not know the new key: it must leave the row.
	_, id, err = oldRing.Open(resealed, keyARN, channelARN)
	if !errors.Is(err, keyvault.ErrUnknownKey) || id != "2026-12" {
		t.Errorf("old keyring Open(new value) = (_, %q, %v), want ErrUnknownKey naming \"2026-12\"", id, err)
	}
	// Same id, other key material: refused.
	clash, err := keyvault.NewKey("2026-01")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keyvault.NewKeyring(oldKey, clash); err == nil {
		t.Error("NewKeyring accepted two different keys named alike")
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	raw := bytes.Repeat([]byte{0xfb, 0xff, 0x3e}, 11)[:32] // yields + / and - _ in the two alphabets
	valid := map[string]string{
		"std padded":   base64.StdEncoding.EncodeToString(raw),
		"std raw":      base64.RawStdEncoding.EncodeToString(raw),
		"url padded":   base64.URLEncoding.EncodeToString(raw),
		"url raw":      base64.RawURLEncoding.EncodeToString(raw),
		"with newline": base64.StdEncoding.EncodeToString(raw) + "\n",
	}
	var sealed []byte
	for name, enc := range valid {
		k, err := keyvault.ParseKey("k1", enc)
		if err != nil {
			t.Errorf("%s: ParseKey = %v", name, err)
			continue
		}
		r, err := keyvault.NewKeyring(k)
		if err != nil {
			t.Fatal(err)
		}
		// Every spelling is the same key: each opens what the first sealed.
		if sealed == nil {
			if sealed, err = r.Seal(secret.New(streamKey), keyARN); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := r.Open(sealed, keyARN); err != nil {
			t.Errorf("%s: the parsed key does not open a value of the same key: %v", name, err)
		}
	}
	secretText := base64.StdEncoding.EncodeToString(raw[:31])
	for name, c := range map[string]struct{ id, enc string }{
		"31 bytes":    {"k1", secretText},
		"33 bytes":    {"k1", base64.StdEncoding.EncodeToString(append(raw, 1))},
		"not base64":  {"k1", "not base64 at all!"},
		"empty":       {"k1", ""},
		"empty id":    {"", base64.StdEncoding.EncodeToString(raw)},
		"id too long": {strings.Repeat("a", 33), base64.StdEncoding.EncodeToString(raw)},
		"id with :":   {"a:b", base64.StdEncoding.EncodeToString(raw)},
	} {
		_, err := keyvault.ParseKey(c.id, c.enc)
		if err == nil {
			t.Errorf("%s: ParseKey accepted it", name)
			continue
		}
		if c.enc != "" && strings.Contains(err.Error(), c.enc) {
			t.Errorf("%s: the error quotes the key: %v", name, err)
		}
	}
}

func TestKeyDoesNotPrint(t *testing.T) {
	t.Parallel()
	raw := bytes.Repeat([]byte{0xfb, 0xff, 0x3e, 0x07}, 8)
	k, err := keyvault.ParseKey("1", base64.StdEncoding.EncodeToString(raw))
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keyvault.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("key", "key", k, "ring", ring)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("key", "key", k, "ring", ring)
	// The key's bytes as base64, and as fmt prints a byte array or slice.
	revealing := []string{base64.StdEncoding.EncodeToString(raw), "251 255 62", "0xfb, 0xff, 0x3e", "+/8+B"}
	for _, s := range []string{k.String(), k.Encoded().String(), fmt.Sprintf("%v %+v %#v %s", k, k, k, k),
		fmt.Sprintf("%v %+v %#v %s", ring, ring, ring, ring), fmt.Sprintf("%v", *ring), logged.String()} {
		for _, r := range revealing {
			if strings.Contains(s, r) {
				t.Errorf("%q reveals the key (%q)", s, r)
			}
		}
	}
}
