package ivsemu

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"
	"github.com/ivs-ingest/ivs-ingest/internal/testclock"
)

func TestCreateChannelDefaultsAndFormats(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t, nil, nil)
	client := newClient(url)
	ctx := context.Background()

	out, err := client.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("show-1")})
	if err != nil {
		t.Fatalf("CreateChannel = %v", err)
	}
	c, k := out.Channel, out.StreamKey
	m := channelARNRe.FindStringSubmatch(aws.ToString(c.Arn))
	if m == nil {
		t.Fatalf("channel ARN %q does not match %s", aws.ToString(c.Arn), channelARNRe)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"name", aws.ToString(c.Name) == "show-1"},
		{"latencyMode LOW", c.LatencyMode == types.ChannelLatencyModeLowLatency},
		{"type STANDARD", c.Type == types.ChannelTypeStandardChannelType},
		{"containerFormat TS", c.ContainerFormat == types.ContainerFormatTs},
		{"authorized false", !c.Authorized},
		{"insecureIngest false", !c.InsecureIngest},
		{"preset empty", c.Preset == ""},
		{"recordingConfigurationArn empty", c.RecordingConfigurationArn != nil && *c.RecordingConfigurationArn == ""},
		{"playbackRestrictionPolicyArn empty", c.PlaybackRestrictionPolicyArn != nil && *c.PlaybackRestrictionPolicyArn == ""},
		{"tags empty map", c.Tags != nil && len(c.Tags) == 0},
		{"ingestEndpoint", ingestRe.MatchString(aws.ToString(c.IngestEndpoint))},
		{"playbackUrl", playbackRe.MatchString(aws.ToString(c.PlaybackUrl))},
		{"playbackUrl names the channel", strings.Contains(aws.ToString(c.PlaybackUrl), ".channel."+m[1]+".m3u8")},
		{"srt endpoint", c.Srt != nil && srtRe.MatchString(aws.ToString(c.Srt.Endpoint))},
		{"srt passphrase", c.Srt != nil && len(aws.ToString(c.Srt.Passphrase)) >= 16},
		{"multitrack disabled", c.MultitrackInputConfiguration != nil && !c.MultitrackInputConfiguration.Enabled},
		{"key ARN", keyARNRe.MatchString(aws.ToString(k.Arn))},
		{"key value", keyValueRe.MatchString(aws.ToString(k.Value))},
		{"key channelArn", aws.ToString(k.ChannelArn) == aws.ToString(c.Arn)},
		{"key tags empty map", k.Tags != nil && len(k.Tags) == 0},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("CreateChannel: %s: got channel %+v key ARN %s", ch.name, *c, aws.ToString(k.Arn))
		}
	}

	got, err := client.GetChannel(ctx, &ivs.GetChannelInput{Arn: c.Arn})
	if err != nil {
		t.Fatalf("GetChannel = %v", err)
	}
	if aws.ToString(got.Channel.PlaybackUrl) != aws.ToString(c.PlaybackUrl) ||
		aws.ToString(got.Channel.Srt.Passphrase) != aws.ToString(c.Srt.Passphrase) ||
		got.Channel.LatencyMode != c.LatencyMode {
		t.Errorf("GetChannel = %+v, want the created channel %+v", *got.Channel, *c)
	}

	// Two channels never share an ARN or a key value.
	out2, err := client.CreateChannel(ctx, &ivs.CreateChannelInput{})
	if err != nil {
		t.Fatalf("second CreateChannel = %v", err)
	}
	if *out2.Channel.Arn == *c.Arn || *out2.StreamKey.Value == *k.Value {
		t.Errorf("second CreateChannel reused an ARN or key value")
	}
	if *out2.Channel.Name != "" {
		t.Errorf("CreateChannel without name: name = %q, want \"\"", *out2.Channel.Name)
	}
}

func TestCreateChannelOptions(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t, nil, nil)
	client := newClient(url)

	tests := []struct {
		name     string
		in       ivs.CreateChannelInput
		wantCode string // "" for success
		check    func(*types.Channel) bool
	}{
		{
			name: "explicit settings are kept",
			in: ivs.CreateChannelInput{Name: aws.String("a"), LatencyMode: types.ChannelLatencyModeNormalLatency,
				Type: types.ChannelTypeBasicChannelType, Authorized: true, InsecureIngest: true,
				Tags: map[string]string{"show": "42"}},
			check: func(c *types.Channel) bool {
				return c.LatencyMode == "NORMAL" && c.Type == "BASIC" && c.Authorized && c.InsecureIngest && c.Tags["show"] == "42"
			},
		},
		{
			name:  "advanced type defaults preset",
			in:    ivs.CreateChannelInput{Type: types.ChannelTypeAdvancedHDChannelType},
			check: func(c *types.Channel) bool { return c.Preset == types.TranscodePresetHigherBandwidthTranscodePreset },
		},
		{
			name: "multitrack",
			in: ivs.CreateChannelInput{ContainerFormat: types.ContainerFormatFragmentedMP4,
				MultitrackInputConfiguration: &types.MultitrackInputConfiguration{Enabled: true,
					MaximumResolution: types.MultitrackMaximumResolutionHd, Policy: types.MultitrackPolicyAllow}},
			check: func(c *types.Channel) bool {
				m := c.MultitrackInputConfiguration
				return m != nil && m.Enabled && m.MaximumResolution == "HD" && m.Policy == "ALLOW" && c.ContainerFormat == "FRAGMENTED_MP4"
			},
		},
		{name: "bad name", in: ivs.CreateChannelInput{Name: aws.String("no spaces")}, wantCode: "ValidationException"},
		{name: "bad latency mode", in: ivs.CreateChannelInput{LatencyMode: "FAST"}, wantCode: "ValidationException"},
		{name: "preset on standard", in: ivs.CreateChannelInput{Preset: types.TranscodePresetConstrainedBandwidthTranscodePreset}, wantCode: "ValidationException"},
		{name: "multitrack needs fmp4", in: ivs.CreateChannelInput{MultitrackInputConfiguration: &types.MultitrackInputConfiguration{
			Enabled: true, MaximumResolution: "HD", Policy: "ALLOW"}}, wantCode: "ValidationException"},
		{name: "bad recording ARN", in: ivs.CreateChannelInput{RecordingConfigurationArn: aws.String("arn:aws:s3:::bucket")}, wantCode: "ValidationException"},
		{name: "reserved tag", in: ivs.CreateChannelInput{Tags: map[string]string{"aws:x": "y"}}, wantCode: "ValidationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := client.CreateChannel(context.Background(), &tt.in)
			if tt.wantCode != "" {
				var ve *types.ValidationException
				if !errors.As(err, &ve) || httpStatus(err) != 400 {
					t.Fatalf("CreateChannel(%s) = %v, want 400 %s", tt.name, err, tt.wantCode)
				}
				if aws.ToString(ve.ExceptionMessage) == "" {
					t.Errorf("ValidationException has no exceptionMessage")
				}
				return
			}
			if err != nil {
				t.Fatalf("CreateChannel(%s) = %v", tt.name, err)
			}
			if !tt.check(out.Channel) {
				t.Errorf("CreateChannel(%s) = %+v", tt.name, *out.Channel)
			}
		})
	}
}

func TestChannelErrors(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil, nil)
	client := newClient(url)
	ch, err := emu.CreateChannel("x")
	if err != nil {
		t.Fatal(err)
	}
	missing := "arn:aws:ivs:eu-west-1:111122223333:channel/AAAAAAAAAAAA"

	tests := []struct {
		name string
		call func(ctx context.Context) error
		want string
	}{
		{"GetChannel missing", func(ctx context.Context) error {
			_, err := client.GetChannel(ctx, &ivs.GetChannelInput{Arn: &missing})
			return err
		}, "ResourceNotFoundException"},
		{"GetChannel empty arn", func(ctx context.Context) error {
			_, err := client.GetChannel(ctx, &ivs.GetChannelInput{Arn: aws.String("")})
			return err
		}, "ValidationException"},
		{"GetChannel key ARN", func(ctx context.Context) error {
			_, err := client.GetChannel(ctx, &ivs.GetChannelInput{Arn: &ch.StreamKey.ARN})
			return err
		}, "ValidationException"},
		{"DeleteChannel missing", func(ctx context.Context) error {
			_, err := client.DeleteChannel(ctx, &ivs.DeleteChannelInput{Arn: &missing})
			return err
		}, "ResourceNotFoundException"},
		{"DeleteChannel malformed", func(ctx context.Context) error {
			_, err := client.DeleteChannel(ctx, &ivs.DeleteChannelInput{Arn: aws.String("channel/x")})
			return err
		}, "ValidationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call(context.Background())
			if got := errorCode(err); got != tt.want {
				t.Errorf("%s = %v (code %q), want %s", tt.name, err, got, tt.want)
			}
			var nf *types.ResourceNotFoundException
			if tt.want == "ResourceNotFoundException" && (!errors.As(err, &nf) || httpStatus(err) != 404) {
				t.Errorf("%s = %v, want a 404 *types.ResourceNotFoundException", tt.name, err)
			}
		})
	}
}

func TestDeleteChannelDeletesItsKey(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil, nil)
	client := newClient(url)
	ctx := context.Background()
	ch, err := emu.CreateChannel("doomed")
	if err != nil {
		t.Fatal(err)
	}
	other, err := emu.CreateChannel("kept")
	if err != nil {
		t.Fatal(err)
	}

	// A live channel cannot be deleted (IVS answers 409).
	if err := emu.SetLive(ch.ARN, true); err != nil {
		t.Fatal(err)
	}
	_, err = client.DeleteChannel(ctx, &ivs.DeleteChannelInput{Arn: &ch.ARN})
	var conflict *types.ConflictException
	if !errors.As(err, &conflict) || httpStatus(err) != 409 {
		t.Fatalf("DeleteChannel(live) = %v, want 409 ConflictException", err)
	}
	if _, err := client.StopStream(ctx, &ivs.StopStreamInput{ChannelArn: &ch.ARN}); err != nil {
		t.Fatalf("StopStream = %v", err)
	}

	if _, err := client.DeleteChannel(ctx, &ivs.DeleteChannelInput{Arn: &ch.ARN}); err != nil {
		t.Fatalf("DeleteChannel = %v", err)
	}
	log := emu.CallLog()
	if last := log[len(log)-1]; last.Op != "DeleteChannel" || last.Status != 204 {
		t.Errorf("last call = %+v, want DeleteChannel answered 204", last)
	}
	if _, err := client.GetChannel(ctx, &ivs.GetChannelInput{Arn: &ch.ARN}); errorCode(err) != "ResourceNotFoundException" {
		t.Errorf("GetChannel(deleted) = %v, want ResourceNotFoundException", err)
	}
	if _, err := client.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: &ch.StreamKey.ARN}); errorCode(err) != "ResourceNotFoundException" {
		t.Errorf("GetStreamKey(key of deleted channel) = %v, want ResourceNotFoundException", err)
	}
	if _, err := client.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: &other.StreamKey.ARN}); err != nil {
		t.Errorf("GetStreamKey(key of another channel) = %v", err)
	}
}

func TestListChannels(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil, nil)
	client := newClient(url)
	ctx := context.Background()
	var want []string
	for i := range 7 {
		name := "ch"
		if i == 3 {
			name = "special"
		}
		c, err := emu.CreateChannel(name)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, c.ARN)
	}
	slices.Sort(want)

	t.Run("default page holds all", func(t *testing.T) {
		t.Parallel()
		out, err := client.ListChannels(ctx, &ivs.ListChannelsInput{})
		if err != nil {
			t.Fatalf("ListChannels = %v", err)
		}
		if len(out.Channels) != 7 || out.NextToken != nil {
			t.Errorf("ListChannels() = %d channels, nextToken %v; want 7 and none", len(out.Channels), out.NextToken)
		}
		for _, s := range out.Channels {
			if s.Tags == nil || s.LatencyMode != "LOW" || s.Type != "STANDARD" {
				t.Errorf("summary %+v lacks defaults", s)
			}
		}
	})
	t.Run("paginator", func(t *testing.T) {
		t.Parallel()
		p := ivs.NewListChannelsPaginator(client, &ivs.ListChannelsInput{MaxResults: aws.Int32(3)})
		var got []string
		pages := 0
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("NextPage = %v", err)
			}
			pages++
			for _, s := range out.Channels {
				got = append(got, *s.Arn)
			}
		}
		if pages != 3 || !slices.Equal(got, want) {
			t.Errorf("paginated ListChannels = %d pages %v, want 3 pages %v", pages, got, want)
		}
	})
	t.Run("filter by name", func(t *testing.T) {
		t.Parallel()
		out, err := client.ListChannels(ctx, &ivs.ListChannelsInput{FilterByName: aws.String("special")})
		if err != nil {
			t.Fatalf("ListChannels = %v", err)
		}
		if len(out.Channels) != 1 || *out.Channels[0].Name != "special" {
			t.Errorf("ListChannels(filterByName=special) = %+v, want one channel", out.Channels)
		}
	})

	errTests := []struct {
		name string
		in   ivs.ListChannelsInput
		want string
	}{
		{"maxResults 0", ivs.ListChannelsInput{MaxResults: aws.Int32(0)}, "ValidationException"},
		{"maxResults 101", ivs.ListChannelsInput{MaxResults: aws.Int32(101)}, "ValidationException"},
		{"bad nextToken", ivs.ListChannelsInput{NextToken: aws.String("not-a-token")}, "ValidationException"},
		{"two filters", ivs.ListChannelsInput{FilterByName: aws.String("a"),
			FilterByRecordingConfigurationArn: aws.String("arn:aws:ivs:eu-west-1:111122223333:recording-configuration/abc")}, "ConflictException"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := client.ListChannels(ctx, &tt.in)
			if got := errorCode(err); got != tt.want {
				t.Errorf("ListChannels(%s) = %v, want %s", tt.name, err, tt.want)
			}
		})
	}
}

func TestStreamKeyLifecycle(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t, nil, nil)
	client := newClient(url)
	ctx := context.Background()

	created, err := client.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("show")})
	if err != nil {
		t.Fatal(err)
	}
	chARN, first := created.Channel.Arn, created.StreamKey

	// Default page size is 1: exactly one key and no nextToken.
	list, err := client.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: chARN})
	if err != nil {
		t.Fatalf("ListStreamKeys = %v", err)
	}
	if len(list.StreamKeys) != 1 || *list.StreamKeys[0].Arn != *first.Arn || list.NextToken != nil {
		t.Fatalf("ListStreamKeys = %+v (nextToken %v), want the one key and no nextToken", list.StreamKeys, list.NextToken)
	}
	if list.StreamKeys[0].Tags == nil {
		t.Errorf("StreamKeySummary tags = nil, want {}")
	}
	p := ivs.NewListStreamKeysPaginator(client, &ivs.ListStreamKeysInput{ChannelArn: chARN})
	var pages, keys int
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("NextPage = %v", err)
		}
		pages++
		keys += len(out.StreamKeys)
	}
	if pages != 1 || keys != 1 {
		t.Errorf("ListStreamKeys paginator = %d pages, %d keys; want 1, 1", pages, keys)
	}

	// The quota is one key per channel.
	_, err = client.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: chARN})
	var quota *types.ServiceQuotaExceededException
	if !errors.As(err, &quota) || httpStatus(err) != 402 {
		t.Fatalf("second CreateStreamKey = %v, want 402 ServiceQuotaExceededException", err)
	}

	got, err := client.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: first.Arn})
	if err != nil || *got.StreamKey.Value != *first.Value {
		t.Fatalf("GetStreamKey = %v, want the created key", err)
	}

	// Rotation: delete, then create.
	if _, err := client.DeleteStreamKey(ctx, &ivs.DeleteStreamKeyInput{Arn: first.Arn}); err != nil {
		t.Fatalf("DeleteStreamKey = %v", err)
	}
	list, err = client.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: chARN})
	if err != nil || len(list.StreamKeys) != 0 {
		t.Fatalf("ListStreamKeys after delete = %v, %v; want no keys", list, err)
	}
	second, err := client.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: chARN, Tags: map[string]string{"v": "2"}})
	if err != nil {
		t.Fatalf("CreateStreamKey after delete = %v", err)
	}
	k := second.StreamKey
	if !keyARNRe.MatchString(*k.Arn) || !keyValueRe.MatchString(*k.Value) || *k.Value == *first.Value || *k.ChannelArn != *chARN || k.Tags["v"] != "2" {
		t.Errorf("CreateStreamKey = %+v, want a new well-formed key of the channel", *k)
	}

	missingCh := "arn:aws:ivs:eu-west-1:111122223333:channel/BBBBBBBBBBBB"
	errTests := []struct {
		name string
		call func() error
		want string
	}{
		{"GetStreamKey deleted", func() error {
			_, err := client.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: first.Arn})
			return err
		}, "ResourceNotFoundException"},
		{"DeleteStreamKey deleted", func() error {
			_, err := client.DeleteStreamKey(ctx, &ivs.DeleteStreamKeyInput{Arn: first.Arn})
			return err
		}, "ResourceNotFoundException"},
		{"CreateStreamKey missing channel", func() error {
			_, err := client.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: &missingCh})
			return err
		}, "ResourceNotFoundException"},
		{"ListStreamKeys missing channel", func() error {
			_, err := client.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: &missingCh})
			return err
		}, "ResourceNotFoundException"},
		{"ListStreamKeys maxResults 51", func() error {
			_, err := client.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: chARN, MaxResults: aws.Int32(51)})
			return err
		}, "ValidationException"},
		{"ListStreamKeys bad nextToken", func() error {
			_, err := client.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: chARN, NextToken: aws.String("%%%")})
			return err
		}, "ValidationException"},
		{"GetStreamKey channel ARN", func() error {
			_, err := client.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: chARN})
			return err
		}, "ValidationException"},
		{"CreateStreamKey empty channelArn", func() error {
			_, err := client.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: aws.String("")})
			return err
		}, "ValidationException"},
	}
	for _, tt := range errTests {
		if got := errorCode(tt.call()); got != tt.want {
			t.Errorf("%s: code %q, want %s", tt.name, got, tt.want)
		}
	}
}

// TestListStreamKeysPaging checks the default page size (1) and paging with
// two keys on one channel, a state IVS's quota never allows, made here by
// inserting a key behind the API's back.
func TestListStreamKeysPaging(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil, nil)
	client := newClient(url)
	ctx := context.Background()
	ch, err := emu.CreateChannel("two-keys")
	if err != nil {
		t.Fatal(err)
	}
	emu.mu.Lock()
	extra := emu.addKeyLocked(ch.ARN, nil)
	emu.mu.Unlock()
	want := []string{ch.StreamKey.ARN, extra.ARN}
	slices.Sort(want)

	first, err := client.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: &ch.ARN})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.StreamKeys) != 1 || aws.ToString(first.NextToken) == "" {
		t.Fatalf("ListStreamKeys() = %d keys, nextToken %v; want 1 key and a nextToken (default page size 1)",
			len(first.StreamKeys), first.NextToken)
	}
	p := ivs.NewListStreamKeysPaginator(client, &ivs.ListStreamKeysInput{ChannelArn: &ch.ARN})
	var got []string
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, k := range out.StreamKeys {
			got = append(got, *k.Arn)
		}
	}
	if pages != 2 || !slices.Equal(got, want) {
		t.Errorf("ListStreamKeys paginator = %d pages %v, want 2 pages %v", pages, got, want)
	}
	all, err := client.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: &ch.ARN, MaxResults: aws.Int32(50)})
	if err != nil || len(all.StreamKeys) != 2 || all.NextToken != nil {
		t.Errorf("ListStreamKeys(maxResults 50) = %v, %v; want 2 keys, no nextToken", all, err)
	}
}

func TestConcurrentCreateStreamKeyOneWins(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil, nil)
	client := newClient(url)
	ctx := context.Background()
	ch, err := emu.CreateChannel("race")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeleteStreamKey(ctx, &ivs.DeleteStreamKeyInput{Arn: &ch.StreamKey.ARN}); err != nil {
		t.Fatal(err)
	}
	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = client.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: &ch.ARN})
		})
	}
	wg.Wait()
	var ok, quota int
	for _, err := range errs {
		var q *types.ServiceQuotaExceededException
		switch {
		case err == nil:
			ok++
		case errors.As(err, &q):
			quota++
		default:
			t.Errorf("CreateStreamKey = %v", err)
		}
	}
	if ok != 1 || quota != n-1 {
		t.Errorf("%d concurrent CreateStreamKey: %d succeeded, %d quota errors; want 1 and %d", n, ok, quota, n-1)
	}
}

func TestBatchGetStreamKey(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil, nil)
	client := newClient(url)
	ctx := context.Background()
	a, err := emu.CreateChannel("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := emu.CreateChannel("b")
	if err != nil {
		t.Fatal(err)
	}
	missing := "arn:aws:ivs:eu-west-1:111122223333:stream-key/CCCCCCCCCCCC"

	out, err := client.BatchGetStreamKey(ctx, &ivs.BatchGetStreamKeyInput{Arns: []string{a.StreamKey.ARN, missing, b.StreamKey.ARN}})
	if err != nil {
		t.Fatalf("BatchGetStreamKey = %v", err)
	}
	values := map[string]string{}
	for _, k := range out.StreamKeys {
		values[*k.Arn] = *k.Value
	}
	if len(values) != 2 || values[a.StreamKey.ARN] != a.StreamKey.Value || values[b.StreamKey.ARN] != b.StreamKey.Value {
		t.Errorf("BatchGetStreamKey keys = %d, want the 2 existing keys with their values", len(values))
	}
	if len(out.Errors) != 1 || *out.Errors[0].Arn != missing || *out.Errors[0].Code != "ResourceNotFoundException" || aws.ToString(out.Errors[0].Message) == "" {
		t.Errorf("BatchGetStreamKey errors = %+v, want one ResourceNotFoundException for %s", out.Errors, missing)
	}

	tooMany := make([]string, 51)
	for i := range tooMany {
		tooMany[i] = missing
	}
	errTests := []struct {
		name string
		arns []string
	}{
		{"empty", []string{}},
		{"51 arns", tooMany},
		{"malformed", []string{"stream-key/x"}},
	}
	for _, tt := range errTests {
		_, err := client.BatchGetStreamKey(ctx, &ivs.BatchGetStreamKeyInput{Arns: tt.arns})
		var ve *types.ValidationException
		if !errors.As(err, &ve) {
			t.Errorf("BatchGetStreamKey(%s) = %v, want ValidationException", tt.name, err)
		}
	}
}

func TestStreams(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Now().Truncate(time.Millisecond))
	emu, url := startEmulator(t, nil, func(e *Emulator) { e.now = clock.Now })
	client := newClient(url)
	ctx := context.Background()
	ch, err := emu.CreateChannel("live")
	if err != nil {
		t.Fatal(err)
	}
	missing := "arn:aws:ivs:eu-west-1:111122223333:channel/DDDDDDDDDDDD"

	_, err = client.GetStream(ctx, &ivs.GetStreamInput{ChannelArn: &ch.ARN})
	var nb *types.ChannelNotBroadcasting
	if !errors.As(err, &nb) || httpStatus(err) != 404 {
		t.Fatalf("GetStream(offline) = %v, want 404 ChannelNotBroadcasting", err)
	}
	if _, err := client.StopStream(ctx, &ivs.StopStreamInput{ChannelArn: &ch.ARN}); !errors.As(err, &nb) {
		t.Errorf("StopStream(offline) = %v, want ChannelNotBroadcasting", err)
	}
	if _, err := client.GetStream(ctx, &ivs.GetStreamInput{ChannelArn: &missing}); errorCode(err) != "ResourceNotFoundException" {
		t.Errorf("GetStream(missing channel) = %v, want ResourceNotFoundException", err)
	}
	if err := emu.SetLive(missing, true); err == nil {
		t.Errorf("SetLive(missing channel) = nil, want an error")
	}

	if err := emu.SetLive(ch.ARN, true); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetStream(ctx, &ivs.GetStreamInput{ChannelArn: &ch.ARN})
	if err != nil {
		t.Fatalf("GetStream(live) = %v", err)
	}
	s := out.Stream
	if *s.ChannelArn != ch.ARN || !strings.HasPrefix(*s.StreamId, "st-") || *s.PlaybackUrl != ch.PlaybackURL ||
		s.State != types.StreamStateStreamLive || s.Health != types.StreamHealthStreamHealthy || s.ViewerCount != 0 ||
		s.StartTime == nil || !s.StartTime.Equal(clock.Now()) {
		t.Errorf("GetStream(live) = %+v, want a LIVE HEALTHY stream of %s started at %v", *s, ch.ARN, clock.Now())
	}

	if _, err := client.StopStream(ctx, &ivs.StopStreamInput{ChannelArn: &ch.ARN}); err != nil {
		t.Fatalf("StopStream(live) = %v", err)
	}
	if _, err := client.GetStream(ctx, &ivs.GetStreamInput{ChannelArn: &ch.ARN}); !errors.As(err, &nb) {
		t.Errorf("GetStream after StopStream = %v, want ChannelNotBroadcasting", err)
	}
	if _, err := client.StopStream(ctx, &ivs.StopStreamInput{ChannelArn: &missing}); errorCode(err) != "ResourceNotFoundException" {
		t.Errorf("StopStream(missing channel) = %v, want ResourceNotFoundException", err)
	}
}

func TestListStreams(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Now().Truncate(time.Millisecond))
	emu, url := startEmulator(t, nil, func(e *Emulator) { e.now = clock.Now })
	client := newClient(url)
	ctx := context.Background()
	// 130 channels, 120 of them live, every tenth live one starving: past
	// one page of the default 100.
	var live, starving []string
	for i := range 130 {
		c, err := emu.CreateChannel("ch")
		if err != nil {
			t.Fatal(err)
		}
		if i >= 120 {
			continue
		}
		spec := StreamSpec{Live: true}
		if i%10 == 0 {
			spec.Health = "STARVING"
			starving = append(starving, c.ARN)
		}
		if err := emu.SetStream(c.ARN, spec); err != nil {
			t.Fatal(err)
		}
		live = append(live, c.ARN)
	}
	slices.Sort(live)
	slices.Sort(starving)

	t.Run("paginator", func(t *testing.T) {
		t.Parallel()
		p := ivs.NewListStreamsPaginator(client, &ivs.ListStreamsInput{})
		var got []string
		var sizes []int
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("NextPage = %v", err)
			}
			sizes = append(sizes, len(out.Streams))
			for _, s := range out.Streams {
				got = append(got, *s.ChannelArn)
				wantHealth := types.StreamHealthStreamHealthy
				if slices.Contains(starving, *s.ChannelArn) {
					wantHealth = types.StreamHealthStarving
				}
				if s.State != types.StreamStateStreamLive || s.Health != wantHealth || !strings.HasPrefix(aws.ToString(s.StreamId), "st-") ||
					s.StartTime == nil || !s.StartTime.Equal(clock.Now()) {
					t.Errorf("stream %+v, want LIVE %s started at %v", s, wantHealth, clock.Now())
				}
			}
		}
		if !slices.Equal(sizes, []int{100, 20}) || !slices.Equal(got, live) {
			t.Errorf("ListStreams pages of %v holding %d streams; want pages of [100 20] holding the %d live channels in ARN order",
				sizes, len(got), len(live))
		}
	})
	t.Run("filter by health", func(t *testing.T) {
		t.Parallel()
		out, err := client.ListStreams(ctx, &ivs.ListStreamsInput{FilterBy: &types.StreamFilters{Health: types.StreamHealthStarving}})
		if err != nil {
			t.Fatalf("ListStreams = %v", err)
		}
		var got []string
		for _, s := range out.Streams {
			got = append(got, *s.ChannelArn)
		}
		if !slices.Equal(got, starving) || out.NextToken != nil {
			t.Errorf("ListStreams(STARVING) = %v, next %v; want %v", got, out.NextToken, starving)
		}
	})
	t.Run("small pages", func(t *testing.T) {
		t.Parallel()
		out, err := client.ListStreams(ctx, &ivs.ListStreamsInput{MaxResults: aws.Int32(7)})
		if err != nil || len(out.Streams) != 7 || out.NextToken == nil {
			t.Fatalf("ListStreams(maxResults 7) = %v, %v; want 7 streams and a next token", out, err)
		}
		next, err := client.ListStreams(ctx, &ivs.ListStreamsInput{MaxResults: aws.Int32(7), NextToken: out.NextToken})
		if err != nil || len(next.Streams) != 7 || *next.Streams[0].ChannelArn != live[7] {
			t.Errorf("ListStreams(second page) = %v, %v; want it to start at %s", next, err, live[7])
		}
	})

	for _, tt := range []struct {
		name string
		in   ivs.ListStreamsInput
	}{
		{"maxResults 0", ivs.ListStreamsInput{MaxResults: aws.Int32(0)}},
		{"maxResults 101", ivs.ListStreamsInput{MaxResults: aws.Int32(101)}},
		{"bad nextToken", ivs.ListStreamsInput{NextToken: aws.String("not-a-token")}},
		{"bad health", ivs.ListStreamsInput{FilterBy: &types.StreamFilters{Health: "SICK"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := client.ListStreams(ctx, &tt.in)
			if got := errorCode(err); got != "ValidationException" {
				t.Errorf("ListStreams(%s) = %v, want ValidationException", tt.name, err)
			}
		})
	}
}

func TestListStreamsEmpty(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil, nil)
	if _, err := emu.CreateChannel("offline"); err != nil {
		t.Fatal(err)
	}
	out, err := newClient(url).ListStreams(context.Background(), &ivs.ListStreamsInput{})
	if err != nil || len(out.Streams) != 0 || out.NextToken != nil {
		t.Errorf("ListStreams(no live channel) = %+v, %v; want no stream, no token", out, err)
	}
	// "streams" is required in IVS's model: it is sent even when empty.
	req := signedRequest(t, url, "ListStreams", []byte("{}"), testCreds(), testRegion, "ivs", time.Now())
	if r := do(t, req); r.status != 200 || string(r.body) != `{"streams":[]}` {
		t.Errorf("raw ListStreams = %d %s, want 200 {\"streams\":[]}", r.status, r.body)
	}
}

func TestSetStream(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Now().Truncate(time.Millisecond))
	emu, url := startEmulator(t, nil, func(e *Emulator) { e.now = clock.Now })
	client := newClient(url)
	ctx := context.Background()
	ch, err := emu.CreateChannel("broadcast")
	if err != nil {
		t.Fatal(err)
	}
	get := func() *types.Stream {
		t.Helper()
		out, err := client.GetStream(ctx, &ivs.GetStreamInput{ChannelArn: &ch.ARN})
		if err != nil {
			t.Fatalf("GetStream = %v", err)
		}
		return out.Stream
	}
	listed := func() []types.StreamSummary {
		t.Helper()
		out, err := client.ListStreams(ctx, &ivs.ListStreamsInput{})
		if err != nil {
			t.Fatalf("ListStreams = %v", err)
		}
		return out.Streams
	}

	started := clock.Now().Add(-time.Minute)
	if err := emu.SetStream(ch.ARN, StreamSpec{Live: true, StartTime: started, StreamID: "st-given"}); err != nil {
		t.Fatal(err)
	}
	if s := get(); *s.StreamId != "st-given" || !s.StartTime.Equal(started) || s.Health != types.StreamHealthStreamHealthy {
		t.Errorf("GetStream after start = %+v, want st-given started at %v, HEALTHY", s, started)
	}
	if got, err := emu.Stream(ch.ARN); err != nil || !got.Live || got.Health != "HEALTHY" || !got.StartTime.Equal(started) || got.StreamID != "st-given" {
		t.Errorf("Stream = %+v, %v; want live, HEALTHY, st-given started at %v", got, err, started)
	}

	// Starvation keeps the stream: id and start time.
	clock.Advance(time.Minute)
	if err := emu.SetStream(ch.ARN, StreamSpec{Live: true, Health: "STARVING"}); err != nil {
		t.Fatal(err)
	}
	if s := get(); *s.StreamId != "st-given" || !s.StartTime.Equal(started) || s.Health != types.StreamHealthStarving {
		t.Errorf("GetStream after starve = %+v, want st-given started at %v, STARVING", s, started)
	}
	if l := listed(); len(l) != 1 || l[0].Health != types.StreamHealthStarving || *l[0].StreamId != "st-given" {
		t.Errorf("ListStreams after starve = %+v, want the one STARVING stream", l)
	}
	// SetLive on a live channel keeps its stream as it is.
	if err := emu.SetLive(ch.ARN, true); err != nil {
		t.Fatal(err)
	}
	if s := get(); s.Health != types.StreamHealthStarving {
		t.Errorf("GetStream after SetLive(true) = %+v, want it still STARVING", s)
	}
	if err := emu.SetStream(ch.ARN, StreamSpec{Live: true, Health: "HEALTHY"}); err != nil {
		t.Fatal(err)
	}
	if s := get(); s.Health != types.StreamHealthStreamHealthy {
		t.Errorf("GetStream after recover = %+v, want HEALTHY", s)
	}

	// Offline, then live again: a new stream, started now.
	if err := emu.SetStream(ch.ARN, StreamSpec{}); err != nil {
		t.Fatal(err)
	}
	var nb *types.ChannelNotBroadcasting
	if _, err := client.GetStream(ctx, &ivs.GetStreamInput{ChannelArn: &ch.ARN}); !errors.As(err, &nb) {
		t.Errorf("GetStream after end = %v, want ChannelNotBroadcasting", err)
	}
	if l := listed(); len(l) != 0 {
		t.Errorf("ListStreams after end = %+v, want none", l)
	}
	if got, err := emu.Stream(ch.ARN); err != nil || got.Live {
		t.Errorf("Stream after end = %+v, %v; want offline", got, err)
	}
	if err := emu.SetLive(ch.ARN, true); err != nil {
		t.Fatal(err)
	}
	if s := get(); *s.StreamId == "st-given" || !s.StartTime.Equal(clock.Now()) || s.Health != types.StreamHealthStreamHealthy {
		t.Errorf("GetStream after a new start = %+v, want a new HEALTHY stream started at %v", s, clock.Now())
	}

	if err := emu.SetStream(ch.ARN, StreamSpec{Live: true, Health: "SICK"}); err == nil {
		t.Error("SetStream(health SICK) = nil, want an error")
	}
	if err := emu.SetStream("arn:aws:ivs:eu-west-1:111122223333:channel/DDDDDDDDDDDD", StreamSpec{Live: true}); err == nil {
		t.Error("SetStream(missing channel) = nil, want an error")
	}
	if _, err := emu.Stream("arn:aws:ivs:eu-west-1:111122223333:channel/DDDDDDDDDDDD"); err == nil {
		t.Error("Stream(missing channel) = nil error, want one")
	}
}
