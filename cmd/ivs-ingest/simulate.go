package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ivsemu"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// simulate-stream plays a broadcast on a show's channel in a running dev:
// dev's emulator is told through its control endpoint (so GetStream and
// ListStreams reflect the broadcast), then the matching EventBridge event
// is delivered to dev's POST /functions/v1/ivs-events, as an EventBridge API
// destination would.

// Files of the dev data directory that simulate-stream reads.
const (
	// eventsTokenFile holds the IVS_EVENTS_TOKEN dev generated, when none
	// was given.
	eventsTokenFile = "ivs-events.token"
	// endpointsFile says where a running dev answers; dev removes it when
	// it stops.
	endpointsFile = "dev-endpoints.json"
)

// eventsPath is the route IVS events are delivered to.
const eventsPath = "/functions/v1/ivs-events"

// controlPath is the emulator listener's control endpoint.
const controlPath = "/_dev/stream"

// The actions of simulate-stream.
const (
	actionStart   = "start"
	actionStarve  = "starve"
	actionRecover = "recover"
	actionEnd     = "end"
)

// devEndpoints is dev-endpoints.json.
type devEndpoints struct {
	// BaseURL is the dev server's.
	BaseURL string `json:"baseUrl"`
	// ControlURL is the emulator's control endpoint; "" with --real-aws.
	ControlURL string `json:"controlUrl"`
	// ControlToken guards ControlURL.
	ControlToken string `json:"controlToken"`
}

// newToken returns 43 random characters (256 bits, base64url).
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	return base64.RawURLEncoding.EncodeToString(b)
}

// writePrivateFile writes b to path, readable by its owner alone, replacing
// it whole.
func writePrivateFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// devEventsToken returns the IVS_EVENTS_TOKEN dev keeps in dir, or a new
// one when there is none yet, which save then writes (0600). Why two steps:
// dev reads its configuration before it checks the database, and must not
// create its data directory before that check passes.
func devEventsToken(dir string) (tok secret.String, save func() error, err error) {
	path := filepath.Join(dir, eventsTokenFile)
	b, err := os.ReadFile(path)
	if err == nil {
		v := strings.TrimSpace(string(b))
		if len(v) < 32 {
			return secret.String{}, nil, fmt.Errorf("%s: shorter than 32 characters: remove it to have dev make another", path)
		}
		return secret.New(v), func() error { return nil }, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return secret.String{}, nil, fmt.Errorf("read events token: %w", err)
	}
	tok = secret.New(newToken())
	return tok, func() error {
		if err := writePrivateFile(path, []byte(tok.Reveal()+"\n")); err != nil {
			return fmt.Errorf("write events token: %w", err)
		}
		return nil
	}, nil
}

// withEventsToken returns getenv with IVS_EVENTS_TOKEN set to dev's own
// token, kept in dir, unless the environment gives one (by value, file or
// secret), so that dev always serves the IVS events route. save writes a
// new token into dir, once dir may be created.
func withEventsToken(getenv func(string) string, dir string) (_ func(string) string, save func() error, err error) {
	for _, name := range []string{"IVS_EVENTS_TOKEN", "IVS_EVENTS_TOKEN_FILE", "IVS_EVENTS_TOKEN_SECRET_ARN"} {
		if getenv(name) != "" {
			return getenv, func() error { return nil }, nil
		}
	}
	tok, save, err := devEventsToken(dir)
	if err != nil {
		return nil, nil, err
	}
	return func(k string) string {
		if k == "IVS_EVENTS_TOKEN" {
			return tok.Reveal()
		}
		return getenv(k)
	}, save, nil
}

// streamControl is dev's control endpoint on the emulator's listener:
// POST /_dev/stream {"showId", "action"} plays the action on the show's
// channel and answers {"channelArn", "streamId"}.
type streamControl struct {
	emu   *ivsemu.Emulator
	token secret.String

	mu    sync.Mutex
	shows func(ctx context.Context, id string) (ingest.Show, bool, error) // nil until the store is open
}

// controlRequest is what simulate-stream asks of the control endpoint.
type controlRequest struct {
	ShowID string `json:"showId"`
	Action string `json:"action"`
}

// controlAnswer is the control endpoint's answer.
type controlAnswer struct {
	ChannelARN string `json:"channelArn,omitempty"`
	StreamID   string `json:"streamId,omitempty"`
	Error      string `json:"error,omitempty"`
}

func newStreamControl(emu *ivsemu.Emulator) *streamControl {
	return &streamControl{emu: emu, token: secret.New(newToken())}
}

// setShows gives the control endpoint the store's show lookup.
func (c *streamControl) setShows(fn func(ctx context.Context, id string) (ingest.Show, bool, error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shows = fn
}

func (c *streamControl) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	answer := func(status int, a controlAnswer) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(a)
	}
	// Why a token on a loopback port: any local process (or a web page,
	// through the browser) could otherwise reach it; the token is in a
	// file only dev's user can read. Compared in constant time.
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(c.token.Reveal())) != 1 {
		answer(http.StatusUnauthorized, controlAnswer{Error: "bad control token"})
		return
	}
	var req controlRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		answer(http.StatusBadRequest, controlAnswer{Error: "the body is not a JSON object"})
		return
	}
	spec, ok := actionSpecs[req.Action]
	if !ok {
		answer(http.StatusBadRequest, controlAnswer{Error: fmt.Sprintf("unknown action %q", req.Action)})
		return
	}
	id, ok := ingest.ParseID(req.ShowID)
	if !ok {
		answer(http.StatusBadRequest, controlAnswer{Error: "showId must be a UUID"})
		return
	}
	c.mu.Lock()
	shows := c.shows
	c.mu.Unlock()
	if shows == nil {
		answer(http.StatusServiceUnavailable, controlAnswer{Error: "dev is starting"})
		return
	}
	show, found, err := shows(r.Context(), id)
	switch {
	case err != nil:
		answer(http.StatusInternalServerError, controlAnswer{Error: "read the show: " + err.Error()})
		return
	case !found:
		answer(http.StatusNotFound, controlAnswer{Error: fmt.Sprintf("no show %s in the dev store", id)})
		return
	case show.ChannelARN == "":
		answer(http.StatusConflict, controlAnswer{Error: fmt.Sprintf("show %s has no IVS channel", id)})
		return
	}
	before, err := c.emu.Stream(show.ChannelARN)
	if err != nil {
		answer(http.StatusConflict, controlAnswer{Error: fmt.Sprintf("channel %s of show %s is not in dev's emulator", show.ChannelARN, id)})
		return
	}
	if !before.Live && (req.Action == actionStarve || req.Action == actionRecover) {
		answer(http.StatusConflict, controlAnswer{ChannelARN: show.ChannelARN, Error: "the channel is not live: start it first"})
		return
	}
	if err := c.emu.SetStream(show.ChannelARN, spec); err != nil {
		answer(http.StatusInternalServerError, controlAnswer{Error: err.Error()})
		return
	}
	after, _ := c.emu.Stream(show.ChannelARN)
	streamID := after.StreamID
	if !after.Live {
		streamID = before.StreamID // the stream that ended
	}
	answer(http.StatusOK, controlAnswer{ChannelARN: show.ChannelARN, StreamID: streamID})
}

// actionSpecs is what each action makes of the channel's stream.
var actionSpecs = map[string]ivsemu.StreamSpec{
	actionStart:   {Live: true, Health: "HEALTHY"},
	actionStarve:  {Live: true, Health: "STARVING"},
	actionRecover: {Live: true, Health: "HEALTHY"},
	actionEnd:     {Live: false},
}

// actionEvents are the detail-type and event_name of each action's event.
var actionEvents = map[string][2]string{
	actionStart:   {"IVS Stream State Change", "Stream Start"},
	actionStarve:  {"IVS Stream Health Change", "Starvation Start"},
	actionRecover: {"IVS Stream Health Change", "Starvation End"},
	actionEnd:     {"IVS Stream State Change", "Stream End"},
}

// ivsEvent is an IVS event as EventBridge delivers it (AWS's sample events).
type ivsEvent struct {
	Version    string    `json:"version"`
	ID         string    `json:"id"`
	DetailType string    `json:"detail-type"`
	Source     string    `json:"source"`
	Account    string    `json:"account"`
	Time       string    `json:"time"`
	Region     string    `json:"region"`
	Resources  []string  `json:"resources"`
	Detail     ivsDetail `json:"detail"`
}

type ivsDetail struct {
	EventName   string `json:"event_name"`
	ChannelName string `json:"channel_name"`
	StreamID    string `json:"stream_id,omitempty"`
}

// streamEvent is the event IVS sends for action on channelARN.
func streamEvent(action, channelARN, streamID string, at time.Time) ivsEvent {
	kind := actionEvents[action]
	// arn:aws:ivs:<region>:<account>:channel/<id>
	parts := strings.SplitN(channelARN, ":", 6)
	region, account, name := "", "", ""
	if len(parts) == 6 {
		region, account = parts[3], parts[4]
		name = strings.TrimPrefix(parts[5], "channel/")
	}
	return ivsEvent{
		Version:    "0",
		ID:         newEventID(),
		DetailType: kind[0],
		Source:     "aws.ivs",
		Account:    account,
		Time:       at.UTC().Truncate(time.Second).Format(time.RFC3339),
		Region:     region,
		Resources:  []string{channelARN},
		Detail:     ivsDetail{EventName: kind[1], ChannelName: name, StreamID: streamID},
	}
}

// newEventID returns a random UUID, as EventBridge's event ids are.
func newEventID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// errDevNotRunning is returned by simulate-stream when no dev answers.
var errDevNotRunning = errors.New("dev is not running")

// cmdSimulateStream is `ivs-ingest simulate-stream`.
func cmdSimulateStream(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const synopsis = "simulate-stream --show <uuid> [--data ./.ivs-ingest] start|starve|recover|end"
	fs := newFlagSet("simulate-stream", synopsis, stderr)
	showID := fs.String("show", "", "the show whose channel plays the broadcast (required)")
	dataDir := fs.String("data", ".ivs-ingest", "the data directory of the running dev")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for dev's answers")
	// The action may come before, between or after the flags.
	var action string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return fmt.Errorf("%w: %w", errUsage, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if action != "" {
			fs.Usage()
			return fmt.Errorf("%w: unexpected argument %q", errUsage, rest[0])
		}
		action, args = rest[0], rest[1:]
	}
	if _, ok := actionEvents[action]; !ok {
		fs.Usage()
		return fmt.Errorf("%w: give one action: start, starve, recover or end", errUsage)
	}
	id, ok := ingest.ParseID(*showID)
	if !ok {
		fs.Usage()
		return fmt.Errorf("%w: --show must be a show's UUID", errUsage)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	ep, err := readDevEndpoints(*dataDir)
	if err != nil {
		return err
	}
	if ep.ControlURL == "" {
		return errors.New("dev runs with --real-aws: there is no emulator to play a broadcast on")
	}
	token, err := simulateEventsToken(getenv, *dataDir)
	if err != nil {
		return err
	}

	var ans controlAnswer
	status, err := postJSON(ctx, ep.ControlURL, ep.ControlToken, controlRequest{ShowID: id, Action: action}, &ans)
	switch {
	case err != nil:
		return notRunning(err, ep.ControlURL, *dataDir)
	case status != http.StatusOK:
		return fmt.Errorf("dev's emulator refused %s on show %s: %s", action, id, cmp.Or(ans.Error, http.StatusText(status)))
	}

	ev := streamEvent(action, ans.ChannelARN, ans.StreamID, time.Now())
	var answer map[string]any
	status, err = postJSON(ctx, strings.TrimSuffix(ep.BaseURL, "/")+eventsPath, token.Reveal(), ev, &answer)
	if err != nil {
		return notRunning(err, ep.BaseURL, *dataDir)
	}
	fmt.Fprintf(stdout, "%s: channel %s is %s%s\n", action, ans.ChannelARN, describe(action), streamNote(ans.StreamID))
	switch {
	case status == http.StatusNotFound:
		return fmt.Errorf("the dev server at %s has no %s route (404): does it run without IVS_EVENTS_TOKEN?", ep.BaseURL, eventsPath)
	case status == http.StatusUnauthorized:
		return fmt.Errorf("the dev server refused the event's token (401): give simulate-stream the IVS_EVENTS_TOKEN dev runs with")
	case status < 200 || status > 299:
		return fmt.Errorf("the dev server answered the %s / %s event with %d %v", ev.DetailType, ev.Detail.EventName, status, answer["error"])
	}
	fmt.Fprintf(stdout, "%s: delivered %s / %s (event %s, %s) to %s%s: %d\n",
		action, ev.DetailType, ev.Detail.EventName, ev.ID, ev.Time, ep.BaseURL, eventsPath, status)
	return nil
}

func describe(action string) string {
	switch action {
	case actionStart:
		return "live and healthy"
	case actionStarve:
		return "live and starving (too little video)"
	case actionRecover:
		return "live and healthy again"
	}
	return "offline"
}

func streamNote(id string) string {
	if id == "" {
		return ""
	}
	return " (stream " + id + ")"
}

// readDevEndpoints reads dev-endpoints.json from dir.
func readDevEndpoints(dir string) (devEndpoints, error) {
	b, err := os.ReadFile(filepath.Join(dir, endpointsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return devEndpoints{}, fmt.Errorf("%w in %s (no %s): start it with `ivs-ingest dev --data %s`", errDevNotRunning, dir, endpointsFile, dir)
	}
	if err != nil {
		return devEndpoints{}, fmt.Errorf("read %s: %w", endpointsFile, err)
	}
	var ep devEndpoints
	if err := json.Unmarshal(b, &ep); err != nil || ep.BaseURL == "" {
		return devEndpoints{}, fmt.Errorf("%s in %s is not dev's: restart dev", endpointsFile, dir)
	}
	return ep, nil
}

// simulateEventsToken is the token simulate-stream delivers events with:
// IVS_EVENTS_TOKEN when set (dev was given the same), else the one dev
// generated in dir.
func simulateEventsToken(getenv func(string) string, dir string) (secret.String, error) {
	if v := getenv("IVS_EVENTS_TOKEN"); v != "" {
		return secret.New(v), nil
	}
	b, err := os.ReadFile(filepath.Join(dir, eventsTokenFile))
	if err != nil {
		return secret.String{}, fmt.Errorf("no IVS_EVENTS_TOKEN, and dev made none in %s (%w): give simulate-stream the IVS_EVENTS_TOKEN dev runs with", dir, err)
	}
	return secret.New(strings.TrimSpace(string(b))), nil
}

// notRunning says that nothing answers at url, when that is the error.
func notRunning(err error, url, dir string) error {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%w: nothing answers at %s (%s is left from an earlier run): start it with `ivs-ingest dev --data %s`",
			errDevNotRunning, url, filepath.Join(dir, endpointsFile), dir)
	}
	return err
}

// postJSON posts body to url with a bearer token and decodes a JSON answer
// into out (left as it is when the answer is not JSON).
func postJSON(ctx context.Context, url, token string, body, out any) (int, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return resp.StatusCode, err
	}
	_ = json.Unmarshal(raw, out)
	return resp.StatusCode, nil
}
