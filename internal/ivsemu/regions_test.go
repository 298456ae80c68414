package ivsemu

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
)

// One endpoint serves two regions: the real SDK client of each reaches its
// region's emulator, signed for that region, and sees that region's
// channels only; a region served by neither is refused as AWS refuses it.
func TestRegionsServeEachRegionAtOneEndpoint(t *testing.T) {
	t.Parallel()
	emus := map[string]*Emulator{}
	var list []*Emulator
	for _, region := range []string{"eu-west-1", "us-west-2"} {
		cfg := testConfig()
		cfg.Region = region
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		emus[region] = e
		list = append(list, e)
	}
	h, err := Regions(list...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := func(region string) *ivs.Client {
		return ivs.NewFromConfig(aws.Config{
			Region:      region,
			Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
		}, func(o *ivs.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	}
	ctx := context.Background()

	for region, e := range emus {
		if e.Region() != region {
			t.Errorf("Region() = %q, want %q", e.Region(), region)
		}
		out, err := client(region).CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("show-" + region)})
		if err != nil {
			t.Fatalf("%s: CreateChannel = %v", region, err)
		}
		if arn := aws.ToString(out.Channel.Arn); !strings.HasPrefix(arn, "arn:aws:ivs:"+region+":") {
			t.Errorf("%s: channel ARN %q, want one of region %s", region, arn, region)
		}
	}
	for region, e := range emus {
		list, err := client(region).ListChannels(ctx, &ivs.ListChannelsInput{})
		if err != nil {
			t.Fatalf("%s: ListChannels = %v", region, err)
		}
		if len(list.Channels) != 1 || aws.ToString(list.Channels[0].Name) != "show-"+region {
			t.Errorf("%s: ListChannels = %d channels, want its own one", region, len(list.Channels))
		}
		if got := e.Calls("CreateChannel") + e.Calls("ListChannels"); got != 2 {
			t.Errorf("%s's emulator saw %d calls, want its region's 2", region, got)
		}
	}

	_, err = client("ap-south-1").ListChannels(ctx, &ivs.ListChannelsInput{})
	if got := errorCode(err); got != "InvalidSignatureException" {
		t.Errorf("ListChannels signed for a region not served = %v, want InvalidSignatureException", err)
	}

	if _, err := Regions(); err == nil {
		t.Error("Regions() with no emulator succeeded")
	}
	if _, err := Regions(list[0], list[0]); err == nil {
		t.Error("Regions() with two emulators of one region succeeded")
	}
}
