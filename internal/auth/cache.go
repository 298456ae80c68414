package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultTokenCacheSize is the number of verified tokens remembered when
// Config.TokenCacheSize is zero: one per seller streaming at once, with room
// to spare, at about 250 bytes each.
const DefaultTokenCacheSize = 10_000

// MaxTokenCacheSize bounds Config.TokenCacheSize: about 25 MB of entries,
// and a sweep of a full cache (see put) that stays around a millisecond.
const MaxTokenCacheSize = 100_000

// NoTokenCache, as Config.TokenCacheSize, verifies every token in full on
// every call.
const NoTokenCache = -1

// tokenCache remembers the tokens that passed every check, so that a
// seller's repeated requests skip the signature check and the claims'
// parsing (the largest part of the process's own CPU per request before
// it). It is keyed by the token's SHA-256: a token with another signature,
// header or claim is another entry, and no token is kept in memory.
//
// An entry is used only while a full check would still accept the token,
// between its nbf and iat less the leeway and its exp plus the leeway (the
// first bound matters only if the clock steps back), and only under the key
// set it was verified with: any change of the key set (a key added, rotated
// out, revoked, or every key dropped) makes every entry stale. The checks
// that do not depend on the token alone (the session still signed in, the
// seller still approved) are the caller's and run on every request anyway.
type tokenCache struct {
	max int

	mu      sync.Mutex
	entries map[[sha256.Size]byte]cachedToken
}

type cachedToken struct {
	caller Caller
	from   time.Time // before it, a full check would refuse the token (nbf or iat, less the leeway)
	until  time.Time // from it, a full check would refuse the token as expired (exp plus the leeway)
	gen    uint64    // the key set's generation the token was verified under
}

// usable reports whether e may stand for a full check at now under the key
// set's generation gen.
func (e cachedToken) usable(now time.Time, gen uint64) bool {
	return e.gen == gen && !now.Before(e.from) && now.Before(e.until)
}

func newTokenCache(size int) *tokenCache {
	return &tokenCache{max: size, entries: make(map[[sha256.Size]byte]cachedToken, min(size, 1024))}
}

// get returns the caller of the token whose digest is sum, when it was
// verified under the key set's generation gen and a full check would still
// accept it at now.
func (c *tokenCache) get(sum [sha256.Size]byte, now time.Time, gen uint64) (Caller, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[sum]
	switch {
	case !ok:
		return Caller{}, false
	case e.usable(now, gen):
		return e.caller, true
	case e.gen < gen || !now.Before(e.until):
		// Never usable again. (An entry of a newer generation than the
		// reader's, or one whose nbf the clock stepped back before, may
		// still serve others.)
		delete(c.entries, sum)
	}
	return Caller{}, false
}

// put remembers a verified token. When the cache is full it first drops
// the entries that can never be used again (expired, or verified under a
// key set older than e's), then, if that freed too little, an eighth of the
// rest (Go's map order makes them arbitrary ones), so a flood of distinct
// valid tokens costs a sweep per max/8 new tokens, not one per token.
func (c *tokenCache) put(sum [sha256.Size]byte, e cachedToken, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[sum]; !ok && len(c.entries) >= c.max {
		for k, old := range c.entries {
			if old.gen < e.gen || !now.Before(old.until) {
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
