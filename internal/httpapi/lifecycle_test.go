package httpapi_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"

	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// storedShow reads what the service recorded on a show's row.
func storedShow(t *testing.T, env *testenv.Env, showID string) (keyARN, endpoint string) {
	t.Helper()
	rows := queryStrings(t, env.DatabaseURL, `SELECT coalesce(ivs_stream_key_arn, ''), coalesce(ivs_ingest_endpoint, '') FROM public.shows WHERE id = '`+showID+`'`)
	return rows[0], rows[1]
}

// deleteKeyInAWS deletes the show's recorded key behind the service's back,
// as someone in the AWS console would, and returns its ARN.
func deleteKeyInAWS(t *testing.T, env *testenv.Env, showID string) string {
	t.Helper()
	arn, _ := storedShow(t, env, showID)
	if _, err := env.IVS.DeleteStreamKey(context.Background(), &ivs.DeleteStreamKeyInput{Arn: aws.String(arn)}); err != nil {
		t.Fatalf("DeleteStreamKey: %v", err)
	}
	return arn
}

func TestFirstRequestCreatesTheKeyAndLaterOnesReuseIt(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)

	env.Emulator.ResetCounts()
	first := wantKey(t, "first request", svc.get(t, token, show.ID, nil))
	if n := env.Emulator.Succeeded("CreateStreamKey"); n != 1 {
		t.Errorf("first request: CreateStreamKey succeeded %d times, want 1", n)
	}
	keyARN, endpoint := storedShow(t, env, show.ID)
	if keyARN == "" || endpoint != show.Channel.IngestEndpoint {
		t.Errorf("show row after the first request: key %q, endpoint %q; want a key ARN and %q", keyARN, endpoint, show.Channel.IngestEndpoint)
	}

	before := env.Emulator.TotalCalls()
	for i := range 5 {
		if got := wantKey(t, "later request", svc.get(t, token, show.ID, nil)); got != first {
			t.Fatalf("request %d returned another key than the first", i+2)
		}
	}
	if n := env.Emulator.TotalCalls() - before; n != 0 {
		t.Errorf("5 requests for a show whose key exists made %d IVS calls, want 0", n)
	}

	// A second replica, with a cold cache, reads the recorded key: no new
	// key is created.
	other := start(t, env, nil)
	if got := wantKey(t, "request to a second replica", other.get(t, token, show.ID, nil)); got != first {
		t.Error("a second replica returned another key")
	}
	if n := env.Emulator.Succeeded("CreateStreamKey"); n != 1 {
		t.Errorf("CreateStreamKey succeeded %d times in all, want 1", n)
	}
}

func TestKeyDeletedInAWSIsReplaced(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, map[string]string{"STREAM_KEY_CACHE_TTL": "0"})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)

	first := wantKey(t, "first request", svc.get(t, token, show.ID, nil))
	oldARN := deleteKeyInAWS(t, env, show.ID)
	second := wantKey(t, "request after the key was deleted in AWS", svc.get(t, token, show.ID, nil))
	if second == first {
		t.Error("the deleted key was returned again")
	}
	if newARN, _ := storedShow(t, env, show.ID); newARN == oldARN || newARN == "" {
		t.Errorf("stored key ARN = %q, want a new one (old %q)", newARN, oldARN)
	}
}

// A replica that cached a key serves it without asking IVS until the TTL
// ends (internal/ingest tests the TTL itself); one that has not cached it
// notices a deletion at once.
func TestWarmReplicaServesFromCacheColdReplicaNoticesDeletion(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, map[string]string{"STREAM_KEY_CACHE_TTL": "5m"})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)
	first := wantKey(t, "first request", svc.get(t, token, show.ID, nil))
	deleteKeyInAWS(t, env, show.ID)
	calls := env.Emulator.TotalCalls()
	if got := wantKey(t, "within the TTL", svc.get(t, token, show.ID, nil)); got != first {
		t.Error("within the TTL the cached key should be served")
	}
	if n := env.Emulator.TotalCalls() - calls; n != 0 {
		t.Errorf("within the TTL: %d IVS calls, want 0", n)
	}
	// A replica that has not cached it notices at once.
	fresh := start(t, env, map[string]string{"STREAM_KEY_CACHE_TTL": "5m"})
	if got := wantKey(t, "a replica with a cold cache", fresh.get(t, token, show.ID, nil)); got == first {
		t.Error("a cold replica returned the deleted key")
	}
}

func TestExistingKeyIsAdoptedNotDuplicated(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)
	owner := env.Seller(t, "approved")
	// A channel made elsewhere (the console) with its key, attached to a
	// show the service has never seen.
	ch, err := env.Emulator.CreateChannel("made-in-console")
	if err != nil {
		t.Fatal(err)
	}
	showID := testenv.NewID(t)
	pgtest.Exec(t, env.DatabaseURL, `INSERT INTO public.shows (id, seller_id, ivs_channel_arn) VALUES ($1, $2, $3)`, showID, owner.SellerID, ch.ARN)

	got := wantKey(t, "show whose channel already has a key", svc.get(t, env.Token(t, owner), showID, nil))
	if got != ch.StreamKey.Value {
		t.Error("the service did not return the channel's existing key")
	}
	if n := env.Emulator.Calls("CreateStreamKey"); n != 0 {
		t.Errorf("CreateStreamKey was called %d times for a channel that had a key, want 0", n)
	}
}

func TestShowMovedToAnotherChannelGetsThatChannelsKey(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)
	first := wantKey(t, "first channel", svc.get(t, token, show.ID, nil))

	ch, err := env.Emulator.CreateChannel("second-channel")
	if err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, env.DatabaseURL, `UPDATE public.shows SET ivs_channel_arn = $2 WHERE id = $1`, show.ID, ch.ARN)
	r := svc.get(t, token, show.ID, nil)
	if got := wantKey(t, "after moving the show", r); got == first || got != ch.StreamKey.Value {
		t.Error("a show moved to another channel did not get that channel's key")
	}
	if want := "rtmps://" + ch.IngestEndpoint + ":443/app/"; r.Body["serverUrl"] != want {
		t.Errorf("serverUrl = %v, want the new channel's %q", r.Body["serverUrl"], want)
	}
}

func TestLegacyStoredEndpointIsNormalised(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	svc := start(t, env, nil)
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)
	wantKey(t, "first request", svc.get(t, token, show.ID, nil))

	// An older function stored the full URL.
	legacy := "rtmps://" + show.Channel.IngestEndpoint + ":443/app/"
	pgtest.Exec(t, env.DatabaseURL, `UPDATE public.shows SET ivs_ingest_endpoint = $2 WHERE id = $1`, show.ID, legacy)
	r := svc.get(t, token, show.ID, nil)
	wantKey(t, "with a legacy endpoint", r)
	if r.Body["serverUrl"] != legacy {
		t.Errorf("serverUrl = %v, want %q (not a doubled scheme or port)", r.Body["serverUrl"], legacy)
	}
	fresh := start(t, env, nil) // a cold cache goes to IVS, which rewrites the row
	wantKey(t, "cold replica", fresh.get(t, token, show.ID, nil))
	if _, endpoint := storedShow(t, env, show.ID); endpoint != show.Channel.IngestEndpoint {
		t.Errorf("stored endpoint = %q, want the bare host %q", endpoint, show.Channel.IngestEndpoint)
	}
}

// TestConcurrentFirstRequestsCreateOneKey: 60 simultaneous first requests
// spread over two replicas sharing one database cause exactly one
// CreateStreamKey, and everyone gets that key.
func TestConcurrentFirstRequestsCreateOneKey(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	replicas := []*service{start(t, env, nil), start(t, env, nil)}
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	token := env.Token(t, owner)
	// Latency widens the race window, as real IVS does.
	env.Emulator.SetLatency(30e6)

	const n = 60
	keys := make([]string, n)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := call(t, http.MethodPost, replicas[i%2].URL+path, token, `{"showId":"`+show.ID+`"}`, nil)
			statuses[i] = r.Status
			keys[i], _ = r.Body["streamKey"].(string)
		}()
	}
	close(start)
	wg.Wait()

	distinct := map[string]bool{}
	for i := range n {
		if statuses[i] != http.StatusOK {
			t.Errorf("request %d: status %d, want 200", i, statuses[i])
		}
		distinct[keys[i]] = true
	}
	if len(distinct) != 1 {
		t.Errorf("%d concurrent first requests got %d distinct keys, want 1", n, len(distinct))
	}
	if c := env.Emulator.Succeeded("CreateStreamKey"); c != 1 {
		t.Errorf("CreateStreamKey succeeded %d times, want exactly 1", c)
	}
	if c := env.Emulator.Calls("CreateStreamKey"); c != 1 {
		t.Errorf("CreateStreamKey was called %d times, want 1 (no racing creator)", c)
	}
}
