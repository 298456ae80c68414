package auth

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"
)

// The cache never holds more than its size, and a full cache makes room by
// dropping what can no longer be used before anything else.
func TestTokenCacheBound(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := newTokenCache(16)
	sum := func(i int) [sha256.Size]byte { return sha256.Sum256(fmt.Appendf(nil, "token %d", i)) }
	// One expired and one of an older key set: the first to go.
	c.put(sum(100), cachedToken{until: now.Add(-time.Second), gen: 1}, now)
	c.put(sum(101), cachedToken{until: now.Add(time.Hour), gen: 0}, now)
	for i := range 15 {
		c.put(sum(i), cachedToken{caller: Caller{UserID: fmt.Sprint(i)}, until: now.Add(time.Hour), gen: 1}, now)
	}
	if got := c.len(); got != 15 {
		t.Fatalf("len = %d after 17 puts with the two unusable ones swept, want 15", got)
	}
	for i := range 15 {
		if got, ok := c.get(sum(i), now, 1); !ok || got.UserID != fmt.Sprint(i) {
			t.Fatalf("get(token %d) = %+v, %v; want it kept while unusable entries could go", i, got, ok)
		}
	}
	for i := 200; i < 1200; i++ {
		c.put(sum(i), cachedToken{until: now.Add(time.Hour), gen: 1}, now)
		if got := c.len(); got > 16 {
			t.Fatalf("len = %d after put %d, want at most 16", got, i)
		}
	}
	if _, ok := c.get(sum(1199), now, 1); !ok {
		t.Error("the latest token is not in the cache")
	}
}

func TestTokenCacheGet(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := newTokenCache(4)
	key := sha256.Sum256([]byte("token"))
	c.put(key, cachedToken{caller: Caller{UserID: "u"}, until: now.Add(time.Minute), gen: 3}, now)
	if _, ok := c.get(sha256.Sum256([]byte("other")), now, 3); ok {
		t.Error("get(another token) found an entry")
	}
	if _, ok := c.get(key, now, 4); ok {
		t.Error("get under a newer key set found the entry")
	}
	if c.len() != 0 {
		t.Errorf("len = %d after a stale get, want 0: the stale entry should be dropped", c.len())
	}
	c.put(key, cachedToken{caller: Caller{UserID: "u"}, until: now.Add(time.Minute), gen: 3}, now)
	if _, ok := c.get(key, now.Add(time.Minute), 3); ok {
		t.Error("get at the entry's until found it")
	}
	c.put(key, cachedToken{caller: Caller{UserID: "u"}, until: now.Add(time.Minute), gen: 3}, now)
	if got, ok := c.get(key, now.Add(time.Minute-time.Nanosecond), 3); !ok || got.UserID != "u" {
		t.Errorf("get just before until = %+v, %v; want the entry", got, ok)
	}
}

// len is the number of entries, usable or not.
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
