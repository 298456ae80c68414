package ingest

import (
	"sync"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// keyCache remembers stream key values by key ARN. A key's value never
// changes for its ARN, so the only reason to forget is to notice, within the
// TTL, a key or channel deleted out of band.
type keyCache struct {
	ttl time.Duration // 0 disables the cache

	mu      sync.RWMutex
	entries map[string]cachedKey
	sweepAt int // size at which put next drops expired entries
}

type cachedKey struct {
	channelARN string
	value      secret.String
	srt        SRT // the channel's, as GetChannel last reported it
	expires    time.Time
}

const minSweep = 1024

func newKeyCache(ttl time.Duration) *keyCache {
	return &keyCache{ttl: ttl, entries: make(map[string]cachedKey), sweepAt: minSweep}
}

// get returns the value of keyARN, and its channel's SRT ingest, if it is
// cached, fresh, and belongs to channelARN: a show moved to another channel
// must get that channel's key.
func (c *keyCache) get(keyARN, channelARN string, now time.Time) (secret.String, SRT, bool) {
	if c.ttl <= 0 || keyARN == "" {
		return secret.String{}, SRT{}, false
	}
	c.mu.RLock()
	e, ok := c.entries[keyARN]
	c.mu.RUnlock()
	if !ok || e.channelARN != channelARN || !now.Before(e.expires) {
		return secret.String{}, SRT{}, false
	}
	return e.value, e.srt, true
}

func (c *keyCache) put(k StreamKey, srt SRT, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[k.ARN] = cachedKey{channelARN: k.ChannelARN, value: k.Value, srt: srt, expires: now.Add(c.ttl)}
	if len(c.entries) >= c.sweepAt {
		for arn, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, arn)
			}
		}
		c.sweepAt = max(minSweep, 2*len(c.entries))
	}
}

func (c *keyCache) forget(keyARN string) {
	c.mu.Lock()
	delete(c.entries, keyARN)
	c.mu.Unlock()
}
