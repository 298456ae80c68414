package ivsemu

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// channel is a stored channel, in the JSON shape IVS sends on the wire; the
// state file holds the same shape.
type channel struct {
	ARN                          string            `json:"arn"`
	Name                         string            `json:"name"`
	LatencyMode                  string            `json:"latencyMode"`
	Type                         string            `json:"type"`
	RecordingConfigurationARN    string            `json:"recordingConfigurationArn"`
	IngestEndpoint               string            `json:"ingestEndpoint"`
	PlaybackURL                  string            `json:"playbackUrl"`
	Authorized                   bool              `json:"authorized"`
	Tags                         map[string]string `json:"tags"`
	InsecureIngest               bool              `json:"insecureIngest"`
	Preset                       string            `json:"preset"`
	SRT                          srt               `json:"srt"`
	PlaybackRestrictionPolicyARN string            `json:"playbackRestrictionPolicyArn"`
	ContainerFormat              string            `json:"containerFormat"`
	Multitrack                   multitrack        `json:"multitrackInputConfiguration"`
	AdConfigurationARN           string            `json:"adConfigurationArn"`
}

type srt struct {
	Endpoint   string `json:"endpoint"`
	Passphrase string `json:"passphrase"`
}

type multitrack struct {
	Enabled           bool   `json:"enabled"`
	MaximumResolution string `json:"maximumResolution,omitempty"`
	Policy            string `json:"policy,omitempty"`
}

// channelSummary is the ListChannels item.
type channelSummary struct {
	ARN                          string            `json:"arn"`
	Name                         string            `json:"name"`
	LatencyMode                  string            `json:"latencyMode"`
	Type                         string            `json:"type"`
	RecordingConfigurationARN    string            `json:"recordingConfigurationArn"`
	Authorized                   bool              `json:"authorized"`
	Tags                         map[string]string `json:"tags"`
	InsecureIngest               bool              `json:"insecureIngest"`
	Preset                       string            `json:"preset"`
	PlaybackRestrictionPolicyARN string            `json:"playbackRestrictionPolicyArn"`
	AdConfigurationARN           string            `json:"adConfigurationArn"`
}

func (c *channel) summary() channelSummary {
	return channelSummary{
		ARN:                          c.ARN,
		Name:                         c.Name,
		LatencyMode:                  c.LatencyMode,
		Type:                         c.Type,
		RecordingConfigurationARN:    c.RecordingConfigurationARN,
		Authorized:                   c.Authorized,
		Tags:                         nonNil(c.Tags),
		InsecureIngest:               c.InsecureIngest,
		Preset:                       c.Preset,
		PlaybackRestrictionPolicyARN: c.PlaybackRestrictionPolicyARN,
		AdConfigurationARN:           c.AdConfigurationARN,
	}
}

// streamKey is a stored stream key, in its wire shape.
type streamKey struct {
	ARN        string            `json:"arn"`
	Value      string            `json:"value"`
	ChannelARN string            `json:"channelArn"`
	Tags       map[string]string `json:"tags"`
}

// streamKeySummary is the ListStreamKeys item: a key without its value.
type streamKeySummary struct {
	ARN        string            `json:"arn"`
	ChannelARN string            `json:"channelArn"`
	Tags       map[string]string `json:"tags"`
}

// stream is a live stream, kept in memory only: a restarted dev emulator
// starts with every channel offline, as if encoders had disconnected.
type stream struct {
	ChannelARN  string `json:"channelArn"`
	StreamID    string `json:"streamId"`
	PlaybackURL string `json:"playbackUrl"`
	StartTime   string `json:"startTime"`
	State       string `json:"state"`
	Health      string `json:"health"`
	ViewerCount int64  `json:"viewerCount"`
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

const stateVersion = 1

// stateFile is the persisted state. Region and account are kept so that a
// file is never silently reused under another identity, where none of its
// ARNs would match.
type stateFile struct {
	Version    int          `json:"version"`
	Region     string       `json:"region"`
	AccountID  string       `json:"accountId"`
	HostPrefix string       `json:"hostPrefix"`
	Channels   []*channel   `json:"channels"`
	StreamKeys []*streamKey `json:"streamKeys"`
}

// loadState reads path. A missing file is an empty state (nil, nil).
func loadState(path, region, accountID string) (*stateFile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state file: %w", err)
	}
	var st stateFile
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("parse state file %s: %w", path, err)
	}
	switch {
	case st.Version != stateVersion:
		return nil, fmt.Errorf("state file %s has version %d, want %d", path, st.Version, stateVersion)
	case st.Region != region || st.AccountID != accountID:
		return nil, fmt.Errorf("state file %s belongs to region %q account %q, not region %q account %q",
			path, st.Region, st.AccountID, region, accountID)
	}
	for _, c := range st.Channels {
		if c == nil || !channelARNPattern.MatchString(c.ARN) {
			return nil, fmt.Errorf("state file %s holds a malformed channel", path)
		}
	}
	for _, k := range st.StreamKeys {
		if k == nil || !streamKeyARNPattern.MatchString(k.ARN) {
			return nil, fmt.Errorf("state file %s holds a malformed stream key", path)
		}
	}
	return &st, nil
}

// writeState writes st to path atomically: a temporary file in the same
// directory, synced, then renamed over path. The file holds stream key
// values, so it is created 0600.
func writeState(path string, st *stateFile) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, base+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary state file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("chmod temporary state file: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write temporary state file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync temporary state file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close temporary state file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace state file: %w", err)
	}
	return nil
}

const (
	alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	digits        = "0123456789"
)

// randomString returns n characters drawn uniformly from alphabet with
// crypto/rand (bytes at or above the largest multiple of len(alphabet) are
// rejected, so there is no modulo bias).
func randomString(n int, alphabet string) string {
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		rand.Read(buf)
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// isoTime formats t as IVS does for timestamps (ISO-8601, UTC, milliseconds).
func isoTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
