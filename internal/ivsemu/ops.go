package ivsemu

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// opFunc runs one operation on a verified request body. It returns the
// success status and the value to encode (nil for an empty body).
//
// Stored channels, keys and streams are never modified once stored (a change
// replaces or deletes them), so an opFunc may return them for encoding after
// it has released e.mu.
type opFunc func(e *Emulator, body []byte) (int, any, *apiError)

// operation returns the operation r addresses, or a nil opFunc.
func (e *Emulator) operation(r *http.Request) (string, opFunc) {
	if r.Method != http.MethodPost {
		return "", nil
	}
	op := strings.TrimPrefix(r.URL.Path, "/")
	return op, lookupOp(op)
}

func lookupOp(op string) opFunc {
	switch op {
	case "CreateChannel":
		return (*Emulator).createChannel
	case "GetChannel":
		return (*Emulator).getChannel
	case "DeleteChannel":
		return (*Emulator).deleteChannel
	case "ListChannels":
		return (*Emulator).listChannels
	case "CreateStreamKey":
		return (*Emulator).createStreamKey
	case "GetStreamKey":
		return (*Emulator).getStreamKey
	case "ListStreamKeys":
		return (*Emulator).listStreamKeys
	case "DeleteStreamKey":
		return (*Emulator).deleteStreamKey
	case "BatchGetStreamKey":
		return (*Emulator).batchGetStreamKey
	case "GetStream":
		return (*Emulator).getStream
	case "StopStream":
		return (*Emulator).stopStream
	case "ListStreams":
		return (*Emulator).listStreams
	}
	return nil
}

func successResponse(status int, out any) response {
	if out == nil {
		return response{status: status}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return errorResponse(errInternal())
	}
	return response{status: status, body: body}
}

// Patterns from the IVS service model.
var (
	regionPattern       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	accountPattern      = regexp.MustCompile(`^[0-9]{12}$`)
	hostPrefixPattern   = regexp.MustCompile(`^[0-9a-f]{12}$`)
	channelARNPattern   = regexp.MustCompile(`^arn:aws:ivs:[a-z0-9-]+:[0-9]+:channel/[a-zA-Z0-9-]+$`)
	streamKeyARNPattern = regexp.MustCompile(`^arn:aws:ivs:[a-z0-9-]+:[0-9]+:stream-key/[a-zA-Z0-9-]+$`)
	recordingARNPattern = regexp.MustCompile(`^$|^arn:aws:ivs:[a-z0-9-]+:[0-9]+:recording-configuration/[a-zA-Z0-9-]+$`)
	policyARNPattern    = regexp.MustCompile(`^$|^arn:aws:ivs:[a-z0-9-]+:[0-9]+:playback-restriction-policy/[a-zA-Z0-9-]+$`)
	adConfigARNPattern  = regexp.MustCompile(`^$|^arn:aws:ivs:[a-z0-9-]+:[0-9]+:ad-configuration/[a-zA-Z0-9-]+$`)
	channelNamePattern  = regexp.MustCompile(`^[a-zA-Z0-9-_]*$`)
)

const maxARNLength = 128

// decode unmarshals body into v. An empty body is an empty input, as the
// SDK sends "{}" but hand-written clients may not.
func decode(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		// The decoder's message may quote request content: don't echo it.
		return errValidation("the request body is not a valid JSON document for this operation")
	}
	return nil
}

func constraint(field, rule string) *apiError {
	return errValidation("1 validation error detected: Value at '%s' failed to satisfy constraint: %s", field, rule)
}

// decodeARN reads the required ARN member field of body, the whole input of
// the operations that name one resource, and checks it against pattern.
func decodeARN(body []byte, field string, pattern *regexp.Regexp) (string, *apiError) {
	var in map[string]json.RawMessage
	if err := decode(body, &in); err != nil {
		return "", err
	}
	var v *string
	if raw, ok := in[field]; ok {
		if err := json.Unmarshal(raw, &v); err != nil {
			return "", errValidation("the request body is not a valid JSON document for this operation")
		}
	}
	if err := checkARN(field, v, pattern); err != nil {
		return "", err
	}
	return *v, nil
}

// checkARN validates a required ARN field against pattern.
func checkARN(field string, v *string, pattern *regexp.Regexp) *apiError {
	switch {
	case v == nil:
		return constraint(field, "Member must not be null")
	case len(*v) < 1 || len(*v) > maxARNLength:
		return constraint(field, "Member must have length between 1 and 128")
	case !pattern.MatchString(*v):
		return constraint(field, "Member must satisfy regular expression pattern: "+pattern.String())
	}
	return nil
}

// checkOptionalARN validates an optional ARN field; "" means unset.
func checkOptionalARN(field string, v *string, pattern *regexp.Regexp) *apiError {
	if v == nil {
		return nil
	}
	if len(*v) > maxARNLength || !pattern.MatchString(*v) {
		return constraint(field, "Member must satisfy regular expression pattern: "+pattern.String())
	}
	return nil
}

func checkEnum(field, v string, allowed ...string) *apiError {
	if v != "" && !slices.Contains(allowed, v) {
		return constraint(field, "Member must satisfy enum value set: ["+strings.Join(allowed, ", ")+"]")
	}
	return nil
}

func checkTags(tags map[string]string) *apiError {
	if len(tags) > 50 {
		return constraint("tags", "Member must have at most 50 entries")
	}
	for k, v := range tags {
		switch {
		case len(k) < 1 || len(k) > 128:
			return constraint("tags", "Map keys must have length between 1 and 128")
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return constraint("tags", "Map keys must not begin with the reserved prefix 'aws:'")
		case len(v) > 256:
			return constraint("tags", "Map values must have length at most 256")
		}
	}
	return nil
}

// checkMaxResults returns the page size: def when absent, else n in [1, max].
func checkMaxResults(n *int, def, max int) (int, *apiError) {
	if n == nil {
		return def, nil
	}
	if *n < 1 || *n > max {
		return 0, constraint("maxResults", "Member must have value between 1 and "+strconv.Itoa(max))
	}
	return *n, nil
}

// A nextToken is the opaque encoding of the last ARN of the previous page.
// Lists are in ARN order, so a page boundary survives inserts and deletes.
const tokenPrefix = "ivsemu1:"

func encodeToken(lastARN string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + lastARN))
}

func decodeToken(tok *string, pattern *regexp.Regexp) (string, *apiError) {
	if tok == nil || *tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*tok)
	after, ok := strings.CutPrefix(string(b), tokenPrefix)
	if err != nil || !ok || !pattern.MatchString(after) {
		return "", errValidation("The nextToken is invalid.")
	}
	return after, nil
}

// page returns the items of sorted after the ARN after, at most n of them,
// and the token for the next page ("" when this is the last).
func page[T any](sorted []T, arnOf func(T) string, after string, n int) ([]T, string) {
	start := 0
	if after != "" {
		start, _ = slices.BinarySearchFunc(sorted, after, func(t T, a string) int {
			return strings.Compare(arnOf(t), a)
		})
		if start < len(sorted) && arnOf(sorted[start]) == after {
			start++
		}
	}
	end := min(start+n, len(sorted))
	items := sorted[start:end]
	if end < len(sorted) && len(items) > 0 {
		return items, encodeToken(arnOf(items[len(items)-1]))
	}
	return items, ""
}

type createChannelInput struct {
	Name                         *string           `json:"name"`
	LatencyMode                  string            `json:"latencyMode"`
	Type                         string            `json:"type"`
	Authorized                   bool              `json:"authorized"`
	RecordingConfigurationARN    *string           `json:"recordingConfigurationArn"`
	Tags                         map[string]string `json:"tags"`
	InsecureIngest               bool              `json:"insecureIngest"`
	Preset                       string            `json:"preset"`
	PlaybackRestrictionPolicyARN *string           `json:"playbackRestrictionPolicyArn"`
	ContainerFormat              string            `json:"containerFormat"`
	Multitrack                   *multitrack       `json:"multitrackInputConfiguration"`
	AdConfigurationARN           *string           `json:"adConfigurationArn"`
}

// validate checks in and returns the channel it describes, defaults applied
// (the SDK omits false booleans and empty enums, so absent means default).
func (in *createChannelInput) validate() (*channel, *apiError) {
	c := &channel{
		LatencyMode:     cmpOr(in.LatencyMode, "LOW"),
		Type:            cmpOr(in.Type, "STANDARD"),
		Authorized:      in.Authorized,
		Tags:            nonNil(in.Tags),
		InsecureIngest:  in.InsecureIngest,
		Preset:          in.Preset,
		ContainerFormat: cmpOr(in.ContainerFormat, "TS"),
	}
	if in.Name != nil {
		c.Name = *in.Name
	}
	if len(c.Name) > 128 || !channelNamePattern.MatchString(c.Name) {
		return nil, constraint("name", "Member must satisfy regular expression pattern: "+channelNamePattern.String())
	}
	for _, err := range []*apiError{
		checkEnum("latencyMode", c.LatencyMode, "NORMAL", "LOW"),
		checkEnum("type", c.Type, "BASIC", "STANDARD", "ADVANCED_SD", "ADVANCED_HD"),
		checkEnum("containerFormat", c.ContainerFormat, "TS", "FRAGMENTED_MP4"),
		checkEnum("preset", c.Preset, "HIGHER_BANDWIDTH_DELIVERY", "CONSTRAINED_BANDWIDTH_DELIVERY"),
		checkOptionalARN("recordingConfigurationArn", in.RecordingConfigurationARN, recordingARNPattern),
		checkOptionalARN("playbackRestrictionPolicyArn", in.PlaybackRestrictionPolicyARN, policyARNPattern),
		checkOptionalARN("adConfigurationArn", in.AdConfigurationARN, adConfigARNPattern),
		checkTags(in.Tags),
	} {
		if err != nil {
			return nil, err
		}
	}
	advanced := c.Type == "ADVANCED_SD" || c.Type == "ADVANCED_HD"
	switch {
	case advanced && c.Preset == "":
		c.Preset = "HIGHER_BANDWIDTH_DELIVERY"
	case !advanced && c.Preset != "":
		return nil, errValidation("preset is selectable only for ADVANCED_HD and ADVANCED_SD channel types")
	}
	if m := in.Multitrack; m != nil {
		if err := checkEnum("multitrackInputConfiguration.maximumResolution", m.MaximumResolution, "SD", "HD", "FULL_HD"); err != nil {
			return nil, err
		}
		if err := checkEnum("multitrackInputConfiguration.policy", m.Policy, "ALLOW", "REQUIRE"); err != nil {
			return nil, err
		}
		if m.Enabled && (c.Type != "STANDARD" || c.ContainerFormat != "FRAGMENTED_MP4" || m.MaximumResolution == "" || m.Policy == "") {
			return nil, errValidation("multitrack input requires a STANDARD channel, containerFormat FRAGMENTED_MP4, a policy and a maximumResolution")
		}
		c.Multitrack = *m
	}
	c.RecordingConfigurationARN = deref(in.RecordingConfigurationARN)
	c.PlaybackRestrictionPolicyARN = deref(in.PlaybackRestrictionPolicyARN)
	c.AdConfigurationARN = deref(in.AdConfigurationARN)
	return c, nil
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (e *Emulator) createChannel(body []byte) (int, any, *apiError) {
	var in createChannelInput
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	c, err := in.validate()
	if err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	k := e.addChannelLocked(c)
	if err := e.saveLocked(); err != nil {
		delete(e.channels, c.ARN)
		delete(e.keys, k.ARN)
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"channel": c, "streamKey": k}, nil
}

// addChannelLocked completes c with its generated ARN and endpoints, stores
// it and creates its stream key, as IVS's CreateChannel does.
func (e *Emulator) addChannelLocked(c *channel) *streamKey {
	var id string
	for {
		id = randomString(12, alphanumerics)
		c.ARN = "arn:aws:ivs:" + e.region + ":" + e.accountID + ":channel/" + id
		if e.channels[c.ARN] == nil {
			break
		}
	}
	c.IngestEndpoint = e.hostPrefix + ".global-contribute.live-video.net"
	c.PlaybackURL = "https://" + e.hostPrefix + "." + e.region + ".playback.live-video.net/api/video/v1/" +
		e.region + "." + e.accountID + ".channel." + id + ".m3u8"
	c.SRT = srt{Endpoint: e.hostPrefix + ".srt.live-video.net", Passphrase: randomString(32, alphanumerics)}
	e.channels[c.ARN] = c
	return e.addKeyLocked(c.ARN, nil)
}

func (e *Emulator) addKeyLocked(channelARN string, tags map[string]string) *streamKey {
	k := &streamKey{
		ChannelARN: channelARN,
		Value:      "sk_" + e.region + "_" + randomString(12, alphanumerics) + "_" + randomString(30, alphanumerics),
		Tags:       nonNil(tags),
	}
	for {
		k.ARN = "arn:aws:ivs:" + e.region + ":" + e.accountID + ":stream-key/" + randomString(12, alphanumerics)
		if e.keys[k.ARN] == nil {
			break
		}
	}
	e.keys[k.ARN] = k
	return k
}

// keyOfLocked returns the stream key of channelARN, or nil.
func (e *Emulator) keyOfLocked(channelARN string) *streamKey {
	for _, k := range e.keys {
		if k.ChannelARN == channelARN {
			return k
		}
	}
	return nil
}

func (e *Emulator) getChannel(body []byte) (int, any, *apiError) {
	arn, aerr := decodeARN(body, "arn", channelARNPattern)
	if aerr != nil {
		return 0, nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.channels[arn]
	if c == nil {
		return 0, nil, errNotFound("channel", arn)
	}
	return http.StatusOK, map[string]any{"channel": c}, nil
}

func (e *Emulator) deleteChannel(body []byte) (int, any, *apiError) {
	arn, aerr := decodeARN(body, "arn", channelARNPattern)
	if aerr != nil {
		return 0, nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.channels[arn]
	if c == nil {
		return 0, nil, errNotFound("channel", arn)
	}
	if e.streams[c.ARN] != nil {
		return 0, nil, newError("ConflictException", "channel %s is live; stop the stream before deleting it", c.ARN)
	}
	delete(e.channels, c.ARN)
	var deleted []*streamKey
	for arn, k := range e.keys {
		if k.ChannelARN == c.ARN {
			deleted = append(deleted, k)
			delete(e.keys, arn)
		}
	}
	if err := e.saveLocked(); err != nil {
		e.channels[c.ARN] = c
		for _, k := range deleted {
			e.keys[k.ARN] = k
		}
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

type listChannelsInput struct {
	FilterByName                         *string `json:"filterByName"`
	FilterByRecordingConfigurationARN    *string `json:"filterByRecordingConfigurationArn"`
	FilterByPlaybackRestrictionPolicyARN *string `json:"filterByPlaybackRestrictionPolicyArn"`
	FilterByAdConfigurationARN           *string `json:"filterByAdConfigurationArn"`
	MaxResults                           *int    `json:"maxResults"`
	NextToken                            *string `json:"nextToken"`
}

func (e *Emulator) listChannels(body []byte) (int, any, *apiError) {
	var in listChannelsInput
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	n, err := checkMaxResults(in.MaxResults, 100, 100)
	if err != nil {
		return 0, nil, err
	}
	after, err := decodeToken(in.NextToken, channelARNPattern)
	if err != nil {
		return 0, nil, err
	}
	filters := 0
	for _, f := range []*string{in.FilterByName, in.FilterByRecordingConfigurationARN,
		in.FilterByPlaybackRestrictionPolicyARN, in.FilterByAdConfigurationARN} {
		if f != nil && *f != "" {
			filters++
		}
	}
	if filters > 1 {
		return 0, nil, newError("ConflictException", "filters are mutually exclusive and cannot be used together")
	}
	if in.FilterByName != nil && (len(*in.FilterByName) > 128 || !channelNamePattern.MatchString(*in.FilterByName)) {
		return 0, nil, constraint("filterByName", "Member must satisfy regular expression pattern: "+channelNamePattern.String())
	}
	for _, f := range []struct {
		field   string
		v       *string
		pattern *regexp.Regexp
	}{
		{"filterByRecordingConfigurationArn", in.FilterByRecordingConfigurationARN, recordingARNPattern},
		{"filterByPlaybackRestrictionPolicyArn", in.FilterByPlaybackRestrictionPolicyARN, policyARNPattern},
		{"filterByAdConfigurationArn", in.FilterByAdConfigurationARN, adConfigARNPattern},
	} {
		if err := checkOptionalARN(f.field, f.v, f.pattern); err != nil {
			return 0, nil, err
		}
	}
	match := func(c *channel) bool {
		switch {
		case deref(in.FilterByName) != "":
			return c.Name == *in.FilterByName
		case deref(in.FilterByRecordingConfigurationARN) != "":
			return c.RecordingConfigurationARN == *in.FilterByRecordingConfigurationARN
		case deref(in.FilterByPlaybackRestrictionPolicyARN) != "":
			return c.PlaybackRestrictionPolicyARN == *in.FilterByPlaybackRestrictionPolicyARN
		case deref(in.FilterByAdConfigurationARN) != "":
			return c.AdConfigurationARN == *in.FilterByAdConfigurationARN
		}
		return true
	}

	e.mu.Lock()
	var matched []*channel
	for _, c := range e.channels {
		if match(c) {
			matched = append(matched, c)
		}
	}
	slices.SortFunc(matched, func(a, b *channel) int { return strings.Compare(a.ARN, b.ARN) })
	items, next := page(matched, func(c *channel) string { return c.ARN }, after, n)
	summaries := make([]channelSummary, 0, len(items))
	for _, c := range items {
		summaries = append(summaries, c.summary())
	}
	e.mu.Unlock()

	out := map[string]any{"channels": summaries}
	if next != "" {
		out["nextToken"] = next
	}
	return http.StatusOK, out, nil
}

type createStreamKeyInput struct {
	ChannelARN *string           `json:"channelArn"`
	Tags       map[string]string `json:"tags"`
}

func (e *Emulator) createStreamKey(body []byte) (int, any, *apiError) {
	var in createStreamKeyInput
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	if err := checkARN("channelArn", in.ChannelARN, channelARNPattern); err != nil {
		return 0, nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.channels[*in.ChannelARN] == nil {
		return 0, nil, errNotFound("channel", *in.ChannelARN)
	}
	if e.keyOfLocked(*in.ChannelARN) != nil {
		return 0, nil, newError("ServiceQuotaExceededException",
			"the channel already has a stream key; the quota is 1 stream key per channel")
	}
	k := e.addKeyLocked(*in.ChannelARN, in.Tags)
	if err := e.saveLocked(); err != nil {
		delete(e.keys, k.ARN)
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"streamKey": k}, nil
}

func (e *Emulator) getStreamKey(body []byte) (int, any, *apiError) {
	arn, aerr := decodeARN(body, "arn", streamKeyARNPattern)
	if aerr != nil {
		return 0, nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	k := e.keys[arn]
	if k == nil {
		return 0, nil, errNotFound("stream key", arn)
	}
	return http.StatusOK, map[string]any{"streamKey": k}, nil
}

type listStreamKeysInput struct {
	ChannelARN *string `json:"channelArn"`
	MaxResults *int    `json:"maxResults"`
	NextToken  *string `json:"nextToken"`
}

func (e *Emulator) listStreamKeys(body []byte) (int, any, *apiError) {
	var in listStreamKeysInput
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	if err := checkARN("channelArn", in.ChannelARN, channelARNPattern); err != nil {
		return 0, nil, err
	}
	n, err := checkMaxResults(in.MaxResults, 1, 50)
	if err != nil {
		return 0, nil, err
	}
	after, err := decodeToken(in.NextToken, streamKeyARNPattern)
	if err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	if e.channels[*in.ChannelARN] == nil {
		e.mu.Unlock()
		return 0, nil, errNotFound("channel", *in.ChannelARN)
	}
	var keys []*streamKey
	for _, k := range e.keys {
		if k.ChannelARN == *in.ChannelARN {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b *streamKey) int { return strings.Compare(a.ARN, b.ARN) })
	items, next := page(keys, func(k *streamKey) string { return k.ARN }, after, n)
	summaries := make([]streamKeySummary, 0, len(items))
	for _, k := range items {
		summaries = append(summaries, streamKeySummary{ARN: k.ARN, ChannelARN: k.ChannelARN, Tags: nonNil(k.Tags)})
	}
	e.mu.Unlock()

	out := map[string]any{"streamKeys": summaries}
	if next != "" {
		out["nextToken"] = next
	}
	return http.StatusOK, out, nil
}

func (e *Emulator) deleteStreamKey(body []byte) (int, any, *apiError) {
	arn, aerr := decodeARN(body, "arn", streamKeyARNPattern)
	if aerr != nil {
		return 0, nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	k := e.keys[arn]
	if k == nil {
		return 0, nil, errNotFound("stream key", arn)
	}
	delete(e.keys, k.ARN)
	if err := e.saveLocked(); err != nil {
		e.keys[k.ARN] = k
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

type batchGetStreamKeyInput struct {
	ARNs []string `json:"arns"`
}

type batchError struct {
	ARN     string `json:"arn"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Emulator) batchGetStreamKey(body []byte) (int, any, *apiError) {
	var in batchGetStreamKeyInput
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	if len(in.ARNs) < 1 || len(in.ARNs) > 50 {
		return 0, nil, constraint("arns", "Member must have length between 1 and 50")
	}
	for _, arn := range in.ARNs {
		if len(arn) > maxARNLength || !streamKeyARNPattern.MatchString(arn) {
			return 0, nil, constraint("arns", "Member must satisfy regular expression pattern: "+streamKeyARNPattern.String())
		}
	}
	keys := []*streamKey{}
	errs := []batchError{}
	e.mu.Lock()
	for _, arn := range in.ARNs {
		if k := e.keys[arn]; k != nil {
			keys = append(keys, k)
			continue
		}
		errs = append(errs, batchError{ARN: arn, Code: "ResourceNotFoundException", Message: "stream key " + arn + " does not exist"})
	}
	e.mu.Unlock()
	return http.StatusOK, map[string]any{"streamKeys": keys, "errors": errs}, nil
}

func (e *Emulator) getStream(body []byte) (int, any, *apiError) {
	arn, aerr := decodeARN(body, "channelArn", channelARNPattern)
	if aerr != nil {
		return 0, nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.channels[arn] == nil {
		return 0, nil, errNotFound("channel", arn)
	}
	s := e.streams[arn]
	if s == nil {
		return 0, nil, errNotBroadcasting(arn)
	}
	return http.StatusOK, map[string]any{"stream": *s}, nil
}

type listStreamsInput struct {
	FilterBy *struct {
		Health string `json:"health"`
	} `json:"filterBy"`
	MaxResults *int    `json:"maxResults"`
	NextToken  *string `json:"nextToken"`
}

// streamSummary is the ListStreams item: a stream without its playback URL.
type streamSummary struct {
	ChannelARN  string `json:"channelArn"`
	Health      string `json:"health"`
	StartTime   string `json:"startTime"`
	State       string `json:"state"`
	StreamID    string `json:"streamId"`
	ViewerCount int64  `json:"viewerCount"`
}

// listStreams lists the region's live streams in channel ARN order, as
// IVS's ListStreams does (offline channels are not listed).
func (e *Emulator) listStreams(body []byte) (int, any, *apiError) {
	var in listStreamsInput
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	n, err := checkMaxResults(in.MaxResults, 100, 100)
	if err != nil {
		return 0, nil, err
	}
	after, err := decodeToken(in.NextToken, channelARNPattern)
	if err != nil {
		return 0, nil, err
	}
	health := ""
	if in.FilterBy != nil {
		health = in.FilterBy.Health
	}
	if err := checkEnum("filterBy.health", health, streamHealths...); err != nil {
		return 0, nil, err
	}

	e.mu.Lock()
	var matched []*stream
	for _, s := range e.streams {
		if health == "" || s.Health == health {
			matched = append(matched, s)
		}
	}
	slices.SortFunc(matched, func(a, b *stream) int { return strings.Compare(a.ChannelARN, b.ChannelARN) })
	items, next := page(matched, func(s *stream) string { return s.ChannelARN }, after, n)
	summaries := make([]streamSummary, 0, len(items))
	for _, s := range items {
		summaries = append(summaries, streamSummary{ChannelARN: s.ChannelARN, Health: s.Health, StartTime: s.StartTime,
			State: s.State, StreamID: s.StreamID, ViewerCount: s.ViewerCount})
	}
	e.mu.Unlock()

	out := map[string]any{"streams": summaries}
	if next != "" {
		out["nextToken"] = next
	}
	return http.StatusOK, out, nil
}

func (e *Emulator) stopStream(body []byte) (int, any, *apiError) {
	arn, aerr := decodeARN(body, "channelArn", channelARNPattern)
	if aerr != nil {
		return 0, nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.channels[arn] == nil {
		return 0, nil, errNotFound("channel", arn)
	}
	if e.streams[arn] == nil {
		return 0, nil, errNotBroadcasting(arn)
	}
	delete(e.streams, arn)
	return http.StatusOK, struct{}{}, nil
}

// saveLocked persists channels and keys when a state file is configured.
// The caller undoes its change on error, so memory never runs ahead of disk.
func (e *Emulator) saveLocked() *apiError {
	if e.stateFile == "" {
		return nil
	}
	st := &stateFile{
		Version:    stateVersion,
		Region:     e.region,
		AccountID:  e.accountID,
		HostPrefix: e.hostPrefix,
		Channels:   make([]*channel, 0, len(e.channels)),
		StreamKeys: make([]*streamKey, 0, len(e.keys)),
	}
	for _, c := range e.channels {
		st.Channels = append(st.Channels, c)
	}
	for _, k := range e.keys {
		st.StreamKeys = append(st.StreamKeys, k)
	}
	slices.SortFunc(st.Channels, func(a, b *channel) int { return strings.Compare(a.ARN, b.ARN) })
	slices.SortFunc(st.StreamKeys, func(a, b *streamKey) int { return strings.Compare(a.ARN, b.ARN) })
	if err := writeState(e.stateFile, st); err != nil {
		e.logger.Error("ivsemu: save state", "err", err)
		return errInternal()
	}
	return nil
}
