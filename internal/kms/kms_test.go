package kms_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/ivs-ingest/ivs-ingest/internal/kms"
	"github.com/ivs-ingest/ivs-ingest/internal/kmsemu"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

const (
	accessKeyID = "AKIDKMSTEST"
	secretKey   = "kms-test-secret"
)

func emulator(t *testing.T) (*kmsemu.Emulator, *httptest.Server) {
	t.Helper()
	emu, err := kmsemu.New(kmsemu.Config{AccessKeyID: accessKeyID, SecretAccessKey: secretKey})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return emu, srv
}

func wrapper(t *testing.T, endpoint, keyID string) *kms.Wrapper {
	t.Helper()
	w, err := kms.New(context.Background(), kms.Config{KeyID: keyID, Region: kmsemu.DefaultRegion, Endpoint: endpoint,
		AccessKeyID: accessKeyID, SecretAccessKey: secret.New(secretKey)})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// A data key made through an alias unwraps, with one call each, to the
// same 32 bytes, and names the KMS key's ARN.
func TestGenerateThenDecrypt(t *testing.T) {
	t.Parallel()
	emu, srv := emulator(t)
	key := emu.CreateKey("stream keys")
	if err := emu.CreateAlias("alias/ivs-ingest", key.ID); err != nil {
		t.Fatal(err)
	}
	w := wrapper(t, srv.URL, "alias/ivs-ingest")
	ctx := context.Background()
	dk, err := w.GenerateDataKey(ctx)
	if err != nil {
		t.Fatalf("GenerateDataKey: %v", err)
	}
	if dk.KMSKeyARN != key.ARN || len(dk.Wrapped) == 0 || dk.Plaintext.IsZero() {
		t.Fatalf("GenerateDataKey = key %q, %d wrapped bytes; want %q and a blob", dk.KMSKeyARN, len(dk.Wrapped), key.ARN)
	}
	got, err := w.Decrypt(ctx, dk.Wrapped, dk.KMSKeyARN)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if got.Reveal() != dk.Plaintext.Reveal() {
		t.Error("Decrypt returned another key than GenerateDataKey made")
	}
	if g, d := emu.Calls("GenerateDataKey"), emu.Calls("Decrypt"); g != 1 || d != 1 {
		t.Errorf("calls = %d GenerateDataKey, %d Decrypt; want 1 and 1", g, d)
	}
}

// A blob wrapped with another encryption context, a disabled key and an
// unreachable KMS each fail with a plain error that carries no key.
func TestFailuresAreExplained(t *testing.T) {
	t.Parallel()
	emu, srv := emulator(t)
	key := emu.CreateKey("stream keys")
	ctx := context.Background()
	raw := awskms.NewFromConfig(aws.Config{Region: kmsemu.DefaultRegion,
		Credentials: credentials.NewStaticCredentialsProvider(accessKeyID, secretKey, "")},
		func(o *awskms.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	other, err := raw.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(key.ID), KeySpec: types.DataKeySpecAes256,
		EncryptionContext: map[string]string{"service": "something-else"}})
	if err != nil {
		t.Fatal(err)
	}
	w := wrapper(t, srv.URL, key.ARN)
	leaks := func(err error) bool {
		return strings.Contains(err.Error(), secret.New(string(other.Plaintext)).Reveal()) || strings.Contains(err.Error(), secretKey)
	}

	_, err = w.Decrypt(ctx, other.CiphertextBlob, key.ARN)
	var ke *kms.Error
	if !errors.As(err, &ke) || ke.Unreachable || !strings.Contains(err.Error(), "encryption context") || leaks(err) {
		t.Errorf("Decrypt(another context's blob) = %v; want a *kms.Error naming the encryption context", err)
	}

	if err := emu.SetKeyEnabled(key.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.GenerateDataKey(ctx); !errors.As(err, &ke) || ke.Unreachable || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("GenerateDataKey(disabled key) = %v; want a *kms.Error saying it is disabled", err)
	}

	down := httptest.NewServer(emu)
	down.Close()
	if _, err := wrapper(t, down.URL, key.ARN).Decrypt(ctx, other.CiphertextBlob, key.ARN); !errors.As(err, &ke) || !ke.Unreachable {
		t.Errorf("Decrypt(KMS down) = %v; want an unreachable *kms.Error", err)
	}
}
