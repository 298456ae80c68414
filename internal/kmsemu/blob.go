package kmsemu

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"slices"
)

// A ciphertext blob is
//
//	version (1 byte, blobVersion) | key id (36 bytes) | nonce (12 bytes) | AES-256-GCM sealed plaintext and tag
//
// sealed under the key's secret with additional data = version | key id |
// the canonical encryption context. The key id in clear lets Decrypt find
// the key without a KeyId, as KMS does; binding it (and the context) into
// the tag means that changing either, or any byte, makes the blob fail.
const (
	blobVersion  = 1
	keyIDLen     = 36
	nonceLen     = 12
	tagLen       = 16
	blobOverhead = 1 + keyIDLen + nonceLen + tagLen
)

// seal encrypts plaintext under k with encryption context ec.
func (k *key) seal(plaintext []byte, ec map[string]string) []byte {
	header := append([]byte{blobVersion}, k.id...)
	nonce := make([]byte, nonceLen)
	rand.Read(nonce)
	out := append(slices.Clone(header), nonce...)
	return k.aead().Seal(out, nonce, plaintext, additionalData(header, ec))
}

// blobKeyID returns the key id a blob names, or false if blob is not one of
// ours.
func blobKeyID(blob []byte) (string, bool) {
	if len(blob) < blobOverhead || blob[0] != blobVersion {
		return "", false
	}
	id := string(blob[1 : 1+keyIDLen])
	return id, keyIDPattern.MatchString(id)
}

// open decrypts blob, which names k, with encryption context ec.
func (k *key) open(blob []byte, ec map[string]string) ([]byte, bool) {
	header := blob[:1+keyIDLen]
	nonce := blob[1+keyIDLen : 1+keyIDLen+nonceLen]
	plaintext, err := k.aead().Open(nil, nonce, blob[1+keyIDLen+nonceLen:], additionalData(header, ec))
	return plaintext, err == nil
}

func (k *key) aead() cipher.AEAD {
	block, err := aes.NewCipher(k.secret[:])
	if err != nil {
		panic("kmsemu: " + err.Error()) // a 32-byte key cannot fail
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("kmsemu: " + err.Error())
	}
	return aead
}

// additionalData is header followed by the encryption context in a
// canonical form: the pairs sorted by key, each part length-prefixed, so
// that no two different contexts encode alike (an absent and an empty
// context are the same, as in KMS).
func additionalData(header []byte, ec map[string]string) []byte {
	ad := slices.Clone(header)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(ec)))
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		ad = binary.BigEndian.AppendUint32(ad, uint32(len(k)))
		ad = append(ad, k...)
		ad = binary.BigEndian.AppendUint32(ad, uint32(len(ec[k])))
		ad = append(ad, ec[k]...)
	}
	return ad
}
