package kmsemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsemutest"
)

func TestCallCounts(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil)
	client := newClient(url, noRetries)
	ctx := context.Background()
	key := emu.CreateKey("seeded")
	if emu.TotalCalls() != 0 {
		t.Fatalf("TotalCalls after the CreateKey hook = %d, want 0", emu.TotalCalls())
	}

	gen, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(key.ARN), KeySpec: types.DataKeySpecAes256, EncryptionContext: ctx13})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob, EncryptionContext: ctx13}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob})
	awsemutest.WantError(t, "Decrypt(no context)", err, errInvalidCiphertext, 400)

	for op, want := range map[string][2]int{"GenerateDataKey": {1, 1}, "Decrypt": {3, 2}, "Encrypt": {0, 0}} {
		if c, s := emu.Calls(op), emu.Succeeded(op); c != want[0] || s != want[1] {
			t.Errorf("Calls(%s), Succeeded(%s) = %d, %d; want %d, %d", op, op, c, s, want[0], want[1])
		}
	}
	if n := emu.TotalCalls(); n != 4 {
		t.Errorf("TotalCalls = %d, want 4", n)
	}
	emu.ResetCounts()
	if emu.TotalCalls() != 0 || emu.Calls("Decrypt") != 0 || emu.Succeeded("Decrypt") != 0 {
		t.Errorf("after ResetCounts: TotalCalls %d, Calls(Decrypt) %d, Succeeded(Decrypt) %d; want 0", emu.TotalCalls(), emu.Calls("Decrypt"), emu.Succeeded("Decrypt"))
	}
}

func TestFailNext(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil)
	key := emu.CreateKey("")
	ctx := context.Background()
	in := &kms.GenerateDataKeyInput{KeyId: aws.String(key.ID), KeySpec: types.DataKeySpecAes256}

	// The SDK retries a 500 (3 attempts): two failures, then success.
	emu.FailNext("GenerateDataKey", errInternal, 2)
	if _, err := newClient(url).GenerateDataKey(ctx, in); err != nil {
		t.Fatalf("GenerateDataKey after 2 injected KMSInternalExceptions = %v, want success on the third attempt", err)
	}
	if c, s := emu.Calls("GenerateDataKey"), emu.Succeeded("GenerateDataKey"); c != 3 || s != 1 {
		t.Errorf("Calls, Succeeded = %d, %d; want 3, 1", c, s)
	}

	// Without retries, the error reaches the caller as KMS answers it.
	emu.FailNext("GenerateDataKey", errInternal, 1)
	_, err := newClient(url, noRetries).GenerateDataKey(ctx, in)
	awsemutest.WantError(t, "GenerateDataKey(injected)", err, errInternal, 500)
	var internal *types.KMSInternalException
	if !errors.As(err, &internal) {
		t.Errorf("GenerateDataKey(injected) = %T, want *types.KMSInternalException", err)
	}

	// A client fault is not retried.
	emu.ResetCounts()
	emu.FailNext("GenerateDataKey", errAccessDenied, 1)
	_, err = newClient(url).GenerateDataKey(ctx, in)
	awsemutest.WantError(t, "GenerateDataKey(AccessDenied)", err, errAccessDenied, 400)
	if c := emu.Calls("GenerateDataKey"); c != 1 {
		t.Errorf("Calls after an AccessDeniedException = %d, want 1 (not retried)", c)
	}
	// Other operations are untouched, and the injected failures are used up.
	if _, err := newClient(url, noRetries).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(key.ID)}); err != nil {
		t.Errorf("DescribeKey = %v", err)
	}
	if _, err := newClient(url, noRetries).GenerateDataKey(ctx, in); err != nil {
		t.Errorf("GenerateDataKey after the injected failures = %v", err)
	}
}

func TestFailUntilCleared(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil)
	key := emu.CreateKey("")
	client := newClient(url)
	ctx := context.Background()
	gen, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(key.ID), KeySpec: types.DataKeySpecAes256})
	if err != nil {
		t.Fatal(err)
	}
	emu.Fail("Decrypt", errDependencyTimeout)
	for range 2 {
		_, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob})
		awsemutest.WantError(t, "Decrypt(Fail)", err, errDependencyTimeout, 500)
	}
	if c, s := emu.Calls("Decrypt"), emu.Succeeded("Decrypt"); c != 6 || s != 0 {
		t.Errorf("Calls, Succeeded = %d, %d; want 6 (two calls of 3 attempts), 0", c, s)
	}
	emu.ClearFailures()
	if _, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob}); err != nil {
		t.Errorf("Decrypt after ClearFailures = %v", err)
	}
}

func TestHooksPanicOnUnknownNames(t *testing.T) {
	t.Parallel()
	emu, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	for name, fn := range map[string]func(){
		"Calls(misspelt)":                 func() { emu.Calls("GenerateDatakey") },
		"Succeeded(unserved)":             func() { emu.Succeeded("ListKeys") },
		"FailNext(unknown op)":            func() { emu.FailNext("Decrypts", errInternal, 1) },
		"FailNext(unknown error)":         func() { emu.FailNext("Decrypt", "InternalError", 1) },
		"Fail(IVS error name)":            func() { emu.Fail("Decrypt", "ResourceNotFoundException") },
		"FailNext(target, not operation)": func() { emu.FailNext("TrentService.Decrypt", errInternal, 1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			fn()
		}()
	}
}

func TestSeedingHooks(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil)
	client := newClient(url, noRetries)
	ctx := context.Background()
	key := emu.CreateKey("seeded")
	if !keyIDRe.MatchString(key.ID) || key.ARN != "arn:aws:kms:eu-west-1:111122223333:key/"+key.ID {
		t.Fatalf("CreateKey = %+v, want a UUID key id and its ARN", key)
	}
	if err := emu.CreateAlias("alias/by-id", key.ID); err != nil {
		t.Fatal(err)
	}
	if err := emu.CreateAlias("alias/by-arn", key.ARN); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"alias/by-id", "alias/by-arn"} {
		d, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
		if err != nil || aws.ToString(d.KeyMetadata.KeyId) != key.ID || aws.ToString(d.KeyMetadata.Description) != "seeded" {
			t.Errorf("DescribeKey(%s) = %v, want the seeded key %s", id, err, key.ID)
		}
	}
	for name, err := range map[string]error{
		"CreateAlias(taken)":          emu.CreateAlias("alias/by-id", key.ID),
		"CreateAlias(no prefix)":      emu.CreateAlias("by-id", key.ID),
		"CreateAlias(unknown key)":    emu.CreateAlias("alias/x", "00000000-0000-4000-8000-000000000000"),
		"CreateAlias(alias target)":   emu.CreateAlias("alias/y", "alias/by-id"),
		"SetKeyEnabled(unknown key)":  emu.SetKeyEnabled("00000000-0000-4000-8000-000000000000", false),
		"SetKeyEnabled(alias target)": emu.SetKeyEnabled("alias/by-id", false),
	} {
		if err == nil || !strings.HasPrefix(err.Error(), "kmsemu: ") {
			t.Errorf("%s = %v, want a kmsemu error", name, err)
		}
	}

	if err := emu.SetKeyEnabled(key.ARN, false); err != nil {
		t.Fatal(err)
	}
	_, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/by-id"), KeySpec: types.DataKeySpecAes256})
	awsemutest.WantError(t, "GenerateDataKey(after SetKeyEnabled false)", err, errDisabled, 400)
	if err := emu.SetKeyEnabled(key.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/by-id"), KeySpec: types.DataKeySpecAes256}); err != nil {
		t.Errorf("GenerateDataKey(after SetKeyEnabled true) = %v", err)
	}
	if n := emu.TotalCalls(); n != 4 {
		t.Errorf("TotalCalls = %d, want 4 (the hooks count none)", n)
	}
}

func TestLatencyHonoursCancellation(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil)
	key := emu.CreateKey("")
	emu.SetLatency(time.Minute)
	// Long enough for the request to reach the emulator on a loaded
	// machine (the emulator counts only calls it received), far shorter
	// than the latency.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := newClient(url, noRetries).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(key.ID)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("DescribeKey against a slow KMS = %v, want context.DeadlineExceeded", err)
	}
	// The handler must stop sleeping once the client is gone, and count the
	// call as not succeeded.
	for time.Since(start) < 20*time.Second {
		if emu.Calls("DescribeKey") == 1 {
			if s := emu.Succeeded("DescribeKey"); s != 0 {
				t.Errorf("Succeeded(DescribeKey) = %d, want 0", s)
			}
			emu.SetLatency(0)
			if _, err := newClient(url, noRetries).DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(key.ID)}); err != nil {
				t.Errorf("DescribeKey after SetLatency(0) = %v", err)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the handler still sleeps %v after the client gave up", time.Since(start))
}

// TestUnreachable shows the way to make KMS unreachable: close its server.
// The SDK then fails with a transport error, not an API error.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	emu, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	key := emu.CreateKey("")
	srv := httptest.NewServer(emu)
	client := newClient(srv.URL)
	if _, err := client.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(key.ID)}); err != nil {
		t.Fatalf("DescribeKey while served = %v", err)
	}
	srv.Close()
	_, err = client.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(key.ID)})
	if err == nil || awsemutest.ErrorCode(err) != "" {
		t.Errorf("DescribeKey after Close = %v (code %q), want a transport error", err, awsemutest.ErrorCode(err))
	}
}

func TestNewAndConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"no credentials": {},
		"no secret":      {AccessKeyID: "AKID"},
		"bad region":     {Region: "Europe", AccessKeyID: "AKID", SecretAccessKey: "s"},
		"bad account":    {AccountID: "1234", AccessKeyID: "AKID", SecretAccessKey: "s"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%s) = nil error", name)
		}
	}
	emu, err := New(Config{AccessKeyID: "AKID", SecretAccessKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if k := emu.CreateKey(""); !strings.HasPrefix(k.ARN, "arn:aws:kms:"+DefaultRegion+":"+DefaultAccountID+":key/") {
		t.Errorf("CreateKey with the default config = %s, want an ARN in %s and %s", k.ARN, DefaultRegion, DefaultAccountID)
	}

	cfg := testConfig()
	cfg.SessionToken = "the-session-token"
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("kms emulator", "config", cfg)
	for _, out := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), logged.String()} {
		if strings.Contains(out, testSecret) || strings.Contains(out, "the-session-token") {
			t.Errorf("printed Config %q leaks the secret or the token", out)
		}
		if !strings.Contains(out, testKeyID) {
			t.Errorf("printed Config %q lacks the access key id", out)
		}
	}
}
