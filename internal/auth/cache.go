package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultTokenCacheSize is the number of verified tokens remembered when
// Config.TokenCacheSize is zero: one per seller streaming at once, with room
// to spare, at about 200 bytes each.
const DefaultTokenCacheSize = 10_000

// NoTokenCache, as Config.TokenCacheSize, verifies every token in full on
// every call.
const NoTokenCache = -1

// tokenCache remembers the tokens that passed every check, so that a
// seller's repeated requests skip the signature check and the claims'
// parsing (most of the process's CPU per request). It is keyed by the
// token's SHA-256: a token with another signature, header or claim is
// another entry, and no token is kept in memory.
//
// An entry is used only while the token would still be accepted, before
// its exp plus the leeway, and only under the key set it was verified with:
// any change of the key set (a key rotated out, revoked, or every key
// dropped) makes every entry stale. The checks that do not depend on the
// token alone (the session still signed in, the seller still approved) are
// the caller's and run on every request anyway.
type tokenCache struct {
	max int

	mu      sync.Mutex
	entries map[[sha256.Size]byte]cachedToken
}

type cachedToken struct {
	caller Caller
	until  time.Time // the first instant Verify would refuse the token as expired
	keys   uint64    // the key set's generation the token was verified under
}

func newTokenCache(size int) *tokenCache {
	return &tokenCache{max: size, entries: make(map[[sha256.Size]byte]cachedToken, min(size, 1024))}
}

// get returns the caller of the token whose digest is sum, when it was
// verified under the key set's generation keys and has not expired at now.
func (c *tokenCache) get(sum [sha256.Size]byte, now time.Time, keys uint64) (Caller, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[sum]
	if !ok {
		return Caller{}, false
	}
	if e.keys != keys || !now.Before(e.until) {
		delete(c.entries, sum)
		return Caller{}, false
	}
	return e.caller, true
}

// put remembers a verified token. When the cache is full it first drops
// the entries that can no longer be used (expired, or verified under a key
// set older than e's), then, if that freed too little,
// an eighth of the rest (Go's map order makes them arbitrary ones), so a
// flood of distinct valid tokens costs a sweep per max/8 new tokens, not
// one per token.
func (c *tokenCache) put(sum [sha256.Size]byte, e cachedToken, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[sum]; !ok && len(c.entries) >= c.max {
		for k, old := range c.entries {
			if old.keys < e.keys || !now.Before(old.until) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) <= c.max-max(c.max/8, 1) {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[sum] = e
}

// len is the number of entries, usable or not.
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
