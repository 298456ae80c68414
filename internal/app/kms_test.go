package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/ivs-ingest/ivs-ingest/internal/app"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/kmsemu"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// kmsWorld is a test database, the IVS emulator and a KMS emulator with one
// key, reached by the real SDK clients. down makes KMS unreachable: its
// connections are closed unanswered.
type kmsWorld struct {
	env  *testenv.Env
	emu  *kmsemu.Emulator
	key  kmsemu.Key
	url  string
	down atomic.Bool
}

func newKMSWorld(t *testing.T) *kmsWorld {
	t.Helper()
	w := &kmsWorld{env: testenv.New(t, testenv.Options{})}
	emu, err := kmsemu.New(kmsemu.Config{Region: testenv.Region, AccessKeyID: testenv.AccessKeyID, SecretAccessKey: testenv.SecretAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	w.emu, w.key = emu, emu.CreateKey("ivs-ingest stream keys")
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if w.down.Load() {
			conn, _, err := rw.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		emu.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	w.url = srv.URL
	return w
}

func (w *kmsWorld) getenv() func(string) string {
	return w.env.Getenv(map[string]string{"STREAM_KEY_KMS_KEY_ID": w.key.ARN, "AWS_ENDPOINT_URL_KMS": w.url})
}

func (w *kmsWorld) db(t *testing.T) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), w.env.DatabaseURL, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func (w *kmsWorld) calls() (generate, decrypt int) {
	return w.emu.Calls("GenerateDataKey"), w.emu.Calls("Decrypt")
}

func get(ctx context.Context, d *app.Domain, seller testenv.User, showID string) (ingest.Details, error) {
	return d.Service.IngestDetails(ctx, ingest.Request{Caller: ingest.Caller{UserID: seller.ID, SessionID: seller.SessionID}, ShowID: showID})
}

// The first process makes the data key (one GenerateDataKey, no Decrypt)
// and stores it wrapped; a second replica and a restarted process each
// unwrap it with one Decrypt and no GenerateDataKey, and answer the keys the
// first stored with no IVS call and no KMS call per request.
func TestKMSDataKeyMadeOnceThenUnwrapped(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := newKMSWorld(t)
	cfg := load(t, w.getenv())
	seller := w.env.Seller(t, "approved")
	shows := []testenv.Show{w.env.Show(t, seller, true), w.env.Show(t, seller, true)}

	first, err := app.OpenDomain(ctx, cfg, discard)
	if err != nil {
		t.Fatalf("OpenDomain: %v", err)
	}
	if g, d := w.calls(); g != 1 || d != 0 {
		t.Errorf("first start: %d GenerateDataKey, %d Decrypt; want 1 and 0", g, d)
	}
	if detail := first.KeyStoreDetail(); detail != "" {
		t.Errorf("KeyStoreDetail() = %q, want the key store in use", detail)
	}
	want := map[string]ingest.Details{}
	for _, sh := range shows {
		got, err := get(ctx, first, seller, sh.ID)
		if err != nil {
			t.Fatalf("IngestDetails: %v", err)
		}
		want[sh.ID] = got
	}
	first.Close()
	rows, err := w.db(t).DataKeys(ctx)
	if err != nil || len(rows) != 1 || rows[0].KMSKeyID != w.key.ARN || len(rows[0].Wrapped) == 0 {
		t.Fatalf("data keys after the first start = %d rows, %v; want one, wrapped by %s", len(rows), err, w.key.ARN)
	}

	for _, name := range []string{"a second replica", "a restarted process"} {
		w.emu.ResetCounts()
		w.env.Emulator.ResetCounts()
		d, err := app.OpenDomain(ctx, cfg, discard)
		if err != nil {
			t.Fatalf("OpenDomain (%s): %v", name, err)
		}
		for _, sh := range shows {
			got, err := get(ctx, d, seller, sh.ID)
			if err != nil {
				t.Fatalf("IngestDetails (%s): %v", name, err)
			}
			if got.StreamKey.Reveal() != want[sh.ID].StreamKey.Reveal() || got.SRTURL() != want[sh.ID].SRTURL() {
				t.Errorf("%s answers other details than the first process", name)
			}
		}
		if g, dec := w.calls(); g != 0 || dec != 1 {
			t.Errorf("%s: %d GenerateDataKey, %d Decrypt; want 0 and 1", name, g, dec)
		}
		if n := w.env.Emulator.TotalCalls(); n != 0 {
			t.Errorf("%s: %d IVS calls for stored keys, want 0", name, n)
		}
		d.Close()
	}
}

// Replicas racing at first start share one data key: one row stands, and a
// key one stores opens in the other.
func TestKMSReplicasRacingShareOneDataKey(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := newKMSWorld(t)
	cfg := load(t, w.getenv())
	const replicas = 4
	domains := make([]*app.Domain, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { domains[i], errs[i] = app.OpenDomain(ctx, cfg, discard) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("OpenDomain(replica %d): %v", i, err)
		}
		defer domains[i].Close()
	}
	rows, err := w.db(t).DataKeys(ctx)
	if err != nil || len(rows) != 1 {
		t.Fatalf("data keys after %d replicas raced = %d rows, %v; want 1", replicas, len(rows), err)
	}
	seller := w.env.Seller(t, "approved")
	show := w.env.Show(t, seller, true)
	stored, err := get(ctx, domains[0], seller, show.ID)
	if err != nil {
		t.Fatalf("IngestDetails: %v", err)
	}
	w.env.Emulator.ResetCounts()
	for i := 1; i < replicas; i++ {
		got, err := get(ctx, domains[i], seller, show.ID)
		if err != nil || got.StreamKey.Reveal() != stored.StreamKey.Reveal() {
			t.Errorf("replica %d: IngestDetails = %v; want the key replica 0 stored", i, err)
		}
	}
	if n := w.env.Emulator.TotalCalls(); n != 0 {
		t.Errorf("IVS calls of the other replicas = %d, want 0: the key replica 0 sealed did not open in them", n)
	}
}

// A data key wrapped with another encryption context, or a disabled KMS
// key, fails with an error that says so and carries no key; the process
// still serves, without the key store, and says why.
func TestKMSFailuresAreClear(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := newKMSWorld(t)
	raw := awskms.NewFromConfig(aws.Config{Region: testenv.Region,
		Credentials: credentials.NewStaticCredentialsProvider(testenv.AccessKeyID, testenv.SecretAccessKey, "")},
		func(o *awskms.Options) { o.BaseEndpoint = aws.String(w.url) })
	other, err := raw.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(w.key.ARN), KeySpec: types.DataKeySpecAes256,
		EncryptionContext: map[string]string{"service": "another"}})
	if err != nil {
		t.Fatal(err)
	}
	db := w.db(t)
	if _, err := db.AddDataKey(ctx, ingest.DataKey{ID: "1", KMSKeyID: w.key.ARN, Wrapped: other.CiphertextBlob}); err != nil {
		t.Fatal(err)
	}
	cfg := load(t, w.getenv())
	wrapper, err := app.KMS(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	leaks := func(err error) bool {
		return bytes.Contains([]byte(err.Error()), other.Plaintext) || strings.Contains(err.Error(), testenv.SecretAccessKey)
	}
	_, err = app.KMSVault(ctx, wrapper, db)
	if err == nil || !strings.Contains(err.Error(), "encryption context") || leaks(err) {
		t.Errorf("KMSVault(a data key of another encryption context) = %v; want an error naming the encryption context", err)
	}

	var logs bytes.Buffer
	d, err := app.OpenDomain(ctx, cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("OpenDomain with a data key that does not unwrap = %v; want it to serve without the key store", err)
	}
	defer d.Close()
	// /readyz is public: its detail says the key store is not in use, and
	// names neither the key nor KMS's answer; the log says why.
	if detail := d.KeyStoreDetail(); !strings.Contains(detail, "not in use yet") || strings.Contains(detail, w.key.ID) || strings.Contains(detail, "encryption context") {
		t.Errorf("KeyStoreDetail() = %q; want that the key store is not in use, without the key or KMS's answer", detail)
	}
	if !strings.Contains(logs.String(), "key store not in use yet") || !strings.Contains(logs.String(), "encryption context") {
		t.Error("the log does not say the key store is not in use, and why")
	}

	empty := newKMSWorld(t)
	if err := empty.emu.SetKeyEnabled(empty.key.ID, false); err != nil {
		t.Fatal(err)
	}
	ew, err := app.KMS(ctx, load(t, empty.getenv()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.KMSVault(ctx, ew, empty.db(t)); err == nil || !strings.Contains(err.Error(), "disabled") || leaks(err) {
		t.Errorf("KMSVault(a disabled KMS key) = %v; want an error saying it is disabled", err)
	}
}

// KMS unreachable at start: the service serves as without a key store,
// /readyz says so in a 200's detail, and the background retry turns the key
// store on without a restart; keys stored from then on answer a new process
// with no IVS call.
func TestKMSUnreachableAtStartThenRetried(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := newKMSWorld(t)
	w.down.Store(true)
	cfg := load(t, w.getenv())
	retries := make(chan time.Time)
	waits := make(chan time.Duration, 8)
	after := func(d time.Duration) <-chan time.Time { waits <- d; return retries }
	a, err := app.Open(ctx, cfg, discard, app.WithKeyStoreRetry(after))
	if err != nil {
		t.Fatalf("Open with KMS unreachable = %v; want it to serve", err)
	}
	defer a.Close()
	readyz := func() (int, map[string]string) {
		rec := httptest.NewRecorder()
		a.Handler.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		var body map[string]string
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body
	}
	if code, body := readyz(); code != 200 || !strings.Contains(body["detail"], "key store not in use yet") {
		t.Errorf("/readyz with KMS unreachable = %d %v; want 200 with a detail saying the key store is not in use", code, body)
	}
	seller := w.env.Seller(t, "approved")
	before := w.env.Show(t, seller, true)
	if _, err := get(ctx, a.Domain, seller, before.ID); err != nil {
		t.Fatalf("IngestDetails without the key store: %v", err)
	}

	// A failed retry keeps serving as before, and backs off.
	<-waits
	retries <- time.Now()
	if d := <-waits; d <= time.Second {
		t.Errorf("the retry after a failed one waits %v, want more than the first's 1s", d)
	}
	if detail := a.KeyStoreDetail(); detail == "" {
		t.Error("KeyStoreDetail() after a failed retry = \"\", want why not")
	}

	w.down.Store(false)
	retries <- time.Now()
	select {
	case <-a.KeyStoreReady():
	case <-ctx.Done():
		t.Fatal("the background retry did not turn the key store on once KMS answered")
	}
	if code, body := readyz(); code != 200 || body["detail"] != "" {
		t.Errorf("/readyz once the key store is in use = %d %v; want 200 without a detail", code, body)
	}
	show := w.env.Show(t, seller, true)
	want, err := get(ctx, a.Domain, seller, show.ID)
	if err != nil {
		t.Fatalf("IngestDetails with the key store on: %v", err)
	}
	w.env.Emulator.ResetCounts()
	restarted, err := app.OpenDomain(ctx, cfg, discard)
	if err != nil {
		t.Fatalf("OpenDomain: %v", err)
	}
	defer restarted.Close()
	got, err := get(ctx, restarted, seller, show.ID)
	if err != nil || got.StreamKey.Reveal() != want.StreamKey.Reveal() {
		t.Errorf("a restarted process's IngestDetails = %v; want the stored key", err)
	}
	if n := w.env.Emulator.TotalCalls(); n != 0 {
		t.Errorf("IVS calls of a restarted process for a key stored once the key store came on = %d, want 0", n)
	}
}
