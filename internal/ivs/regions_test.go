package ivs

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/budget"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ivsemu"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

func TestRegionOf(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		arn, want string
		ok        bool
	}{
		{"arn:aws:ivs:eu-west-1:123456789012:channel/AbCdEf123456", "eu-west-1", true},
		{"arn:aws:ivs:us-east-1:123456789012:stream-key/AbCdEf123456", "us-east-1", true},
		{"arn:aws-us-gov:ivs:us-gov-west-1:123456789012:channel/x", "us-gov-west-1", true},
		{"arn:aws:ivs::123456789012:channel/x", "", false},
		{"arn:aws:s3:eu-west-1:123456789012:channel/x", "", false},
		{"arn:aws:ivs:EU-WEST-1:123456789012:channel/x", "", false},
		{"arn:aws:ivs:eu-west-1/../x:123456789012:channel/x", "", false},
		{"arn:aws:ivs:eu-west-1:123456789012", "", false},
		{"arn:aws:ivs:eu-west-1::channel/x", "", false},
		{"", "", false},
	} {
		if got, ok := RegionOf(tt.arn); got != tt.want || ok != tt.ok {
			t.Errorf("RegionOf(%q) = %q, %v; want %q, %v", tt.arn, got, ok, tt.want, tt.ok)
		}
	}
}

// regionsWorld is a router over the real SDK clients of two regions, each
// served by an emulator of its own behind one endpoint, with a budget per
// region of rate calls per second.
type regionsWorld struct {
	regions  *Regions
	emus     map[string]*ivsemu.Emulator
	channels map[string]string // channel ARN by region

	mu       sync.Mutex
	budgeted map[string]int // budgetOf calls by region
}

const otherRegion = "eu-west-1"

func newRegionsWorld(t *testing.T, rate float64) *regionsWorld {
	t.Helper()
	w := &regionsWorld{emus: map[string]*ivsemu.Emulator{}, channels: map[string]string{}, budgeted: map[string]int{}}
	var list []*ivsemu.Emulator
	for _, region := range []string{testRegion, otherRegion} {
		emu, err := ivsemu.New(ivsemu.Config{Region: region, AccessKeyID: testKeyID, SecretAccessKey: testSecret})
		if err != nil {
			t.Fatal(err)
		}
		ch, err := emu.CreateChannel("show")
		if err != nil {
			t.Fatal(err)
		}
		w.emus[region], w.channels[region] = emu, ch.ARN
		list = append(list, emu)
	}
	h, err := ivsemu.Regions(list...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	schedules := budget.NewLocalSchedules()
	budgetOf := func(region string) *budget.Budget {
		w.mu.Lock()
		w.budgeted[region]++
		w.mu.Unlock()
		return budget.New(schedules.Schedule(region), rate, time.Minute)
	}
	def, err := New(context.Background(), Config{
		Region: testRegion, Endpoint: srv.URL,
		AccessKeyID: testKeyID, SecretAccessKey: secret.New(testSecret),
		Budget: budgetOf(testRegion),
	})
	if err != nil {
		t.Fatal(err)
	}
	w.regions = NewRegions(def, budgetOf)
	return w
}

// Each region's calls go to its own region's endpoint, signed for it (an
// emulator refuses any other region's signature); a malformed ARN, and a
// claim about no channel, go to the default region.
func TestRegionsRouteByARN(t *testing.T) {
	t.Parallel()
	w := newRegionsWorld(t, 0)
	ctx := context.Background()
	for _, region := range []string{otherRegion, testRegion, otherRegion} {
		arn := w.channels[region]
		calls, err := w.regions.Reserve(ctx, ingest.Claim{Calls: 2, ChannelARN: arn, Priority: ingest.Interactive})
		if err != nil {
			t.Fatalf("%s: Reserve = %v", region, err)
		}
		if _, err := calls.GetChannel(ctx, arn); err != nil {
			t.Fatalf("%s: GetChannel(%s) = %v", region, arn, err)
		}
		keys, err := calls.ListStreamKeys(ctx, arn)
		if err != nil || len(keys) != 1 {
			t.Fatalf("%s: ListStreamKeys = %v, %v; want the channel's key", region, keys, err)
		}
		// A key's ARN names its region too.
		if c := w.regions.For(keys[0]); c.Region() != region {
			t.Errorf("For(%s's key ARN).Region() = %q, want %q", region, c.Region(), region)
		}
		if _, err := w.regions.For(keys[0]).GetStreamKey(ctx, keys[0]); err != nil {
			t.Errorf("%s: GetStreamKey through its key's region = %v", region, err)
		}
		calls.Release(ctx)
	}
	for region, want := range map[string]int{testRegion: 3, otherRegion: 6} {
		if got := w.emus[region].TotalCalls(); got != want {
			t.Errorf("%s's emulator saw %d calls, want %d: its region's only", region, got, want)
		}
		if got := w.emus[region].Succeeded("GetChannel"); got != want/3 {
			t.Errorf("%s's emulator answered %d GetChannel calls, want %d", region, got, want/3)
		}
	}
	for _, arn := range []string{"", "not-an-arn", "arn:aws:ivs::123456789012:channel/x"} {
		if c := w.regions.For(arn); c.Region() != testRegion {
			t.Errorf("For(%q).Region() = %q, want the default %q", arn, c.Region(), testRegion)
		}
	}
	if got := w.regions.Region(otherRegion); got != w.regions.For(w.channels[otherRegion]) {
		t.Error("Region() and For() gave two clients for one region, want one")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.budgeted[testRegion] != 1 || w.budgeted[otherRegion] != 1 {
		t.Errorf("budgets made per region = %v, want one each", w.budgeted)
	}
}

// Two regions have two budgets: a region whose budget is saturated delays
// and refuses its own calls only.
func TestRegionsHaveABudgetEach(t *testing.T) {
	t.Parallel()
	w := newRegionsWorld(t, 0.1) // a call every 10 s in each region
	ctx := context.Background()
	east, west := w.channels[testRegion], w.channels[otherRegion]
	for i, want := range []time.Duration{0, 20 * time.Second, 40 * time.Second} {
		c, err := w.regions.Reserve(ctx, ingest.Claim{Calls: 2, ChannelARN: east})
		if err != nil {
			t.Fatalf("%s reservation %d: %v", testRegion, i, err)
		}
		if d := c.(calls).r.Delay(); d < want-time.Second || d > want {
			t.Errorf("%s reservation %d: delay %s, want about %s", testRegion, i, d, want)
		}
	}
	if _, err := w.regions.Reserve(ctx, ingest.Claim{Calls: 1, ChannelARN: east, Priority: ingest.Background}); !errors.Is(err, ingest.ErrIVSBusy) {
		t.Errorf("%s background reservation while saturated = %v, want busy", testRegion, err)
	}
	for _, p := range []ingest.Priority{ingest.Background, ingest.Interactive} {
		c, err := w.regions.Reserve(ctx, ingest.Claim{Calls: 1, ChannelARN: west, Priority: p})
		if err != nil {
			t.Fatalf("%s reservation (priority %d) with %s saturated: %v", otherRegion, p, testRegion, err)
		}
		if d := c.(calls).r.Delay(); p == ingest.Background && d != 0 {
			t.Errorf("%s background reservation: delay %s, want 0", otherRegion, d)
		}
		if p == ingest.Background {
			// Its call goes out at once, in its region.
			if _, err := c.GetChannel(ctx, west); err != nil {
				t.Fatalf("%s GetChannel = %v", otherRegion, err)
			}
		}
	}
	if got := w.emus[otherRegion].Succeeded("GetChannel"); got != 1 {
		t.Errorf("%s's emulator answered %d GetChannel calls, want 1", otherRegion, got)
	}
}
