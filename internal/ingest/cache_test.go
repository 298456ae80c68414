package ingest

import (
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

func TestKeyCache(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	key := StreamKey{ARN: "key-1", ChannelARN: "channel-1", Value: secret.New("value-1")}

	c := newKeyCache(time.Minute)
	c.put(key, SRT{}, t0)
	tests := []struct {
		name       string
		keyARN     string
		channelARN string
		at         time.Time
		wantHit    bool
	}{
		{"fresh", "key-1", "channel-1", t0.Add(59 * time.Second), true},
		{"expired at the TTL", "key-1", "channel-1", t0.Add(time.Minute), false},
		{"other channel", "key-1", "channel-2", t0, false},
		{"unknown key", "key-2", "channel-1", t0, false},
		{"no key", "", "channel-1", t0, false},
	}
	for _, tt := range tests {
		v, _, hit := c.get(tt.keyARN, tt.channelARN, tt.at)
		if hit != tt.wantHit {
			t.Errorf("%s: get(%q, %q) hit = %v, want %v", tt.name, tt.keyARN, tt.channelARN, hit, tt.wantHit)
		}
		if hit && v.Reveal() != "value-1" {
			t.Errorf("%s: get returned another value", tt.name)
		}
	}

	c.forget("key-1")
	if _, _, hit := c.get("key-1", "channel-1", t0); hit {
		t.Error("get after forget hit, want miss")
	}

	off := newKeyCache(0)
	off.put(key, SRT{}, t0)
	if _, _, hit := off.get("key-1", "channel-1", t0); hit {
		t.Error("a cache with TTL 0 returned a value, want it disabled")
	}
}

func TestKeyCacheSweepsExpiredEntries(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	c := newKeyCache(time.Minute)
	for i := range minSweep - 1 {
		c.put(StreamKey{ARN: string(rune('a'+i%26)) + time.Duration(i).String(), ChannelARN: "c"}, SRT{}, t0)
	}
	// Once full, a put long after the TTL drops every expired entry.
	c.put(StreamKey{ARN: "late", ChannelARN: "c"}, SRT{}, t0.Add(time.Hour))
	if n := len(c.entries); n != 1 {
		t.Errorf("after the sweep the cache holds %d entries, want 1", n)
	}
}
