package kmsemu

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsemutest"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsjson"
)

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestSDKRequestShape checks that the SDK sends what the emulator expects
// (so a change of the SDK's protocol fails here, not in a service test): POST
// /, the target and content type of AWS JSON 1.1, blobs in standard base64.
func TestSDKRequestShape(t *testing.T) {
	t.Parallel()
	emu, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		method, path, target, contentType string
		body                              map[string]any
	}
	var (
		mu   sync.Mutex
		last seen
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		s := seen{method: r.Method, path: r.URL.Path, target: r.Header.Get("X-Amz-Target"), contentType: r.Header.Get("Content-Type")}
		json.Unmarshal(body, &s.body)
		mu.Lock()
		last = s
		mu.Unlock()
		emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	client := newClient(srv.URL, noRetries)
	ctx := context.Background()
	key := emu.CreateKey("")

	gen, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(key.ARN), KeySpec: types.DataKeySpecAes256, EncryptionContext: ctx13})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := last
	mu.Unlock()
	if got.method != http.MethodPost || got.path != "/" || got.target != "TrentService.GenerateDataKey" || got.contentType != contentType {
		t.Errorf("GenerateDataKey sent %s %s target %q type %q, want POST / TrentService.GenerateDataKey %s",
			got.method, got.path, got.target, got.contentType, contentType)
	}
	if got.body["KeyId"] != key.ARN || got.body["KeySpec"] != "AES_256" || got.body["EncryptionContext"].(map[string]any)["service"] != "ivs-ingest" {
		t.Errorf("GenerateDataKey body = %v, want KeyId, KeySpec and EncryptionContext members", got.body)
	}

	if _, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob, EncryptionContext: ctx13}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got = last
	mu.Unlock()
	if s, _ := got.body["CiphertextBlob"].(string); s != base64.StdEncoding.EncodeToString(gen.CiphertextBlob) {
		t.Errorf("Decrypt sent CiphertextBlob %v, want the blob in standard base64", got.body["CiphertextBlob"])
	}
}

func TestWireFormat(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil)
	key := emu.CreateKey("wire")
	blob := newClientBlob(t, url, key.ARN)

	tests := []struct {
		name       string
		op         string
		body       string
		wantStatus int
		wantType   string // "" for success
	}{
		{"success", "DescribeKey", `{"KeyId":"` + key.ID + `"}`, 200, ""},
		{"empty success", "EnableKey", `{"KeyId":"` + key.ID + `"}`, 200, ""},
		{"not found", "DescribeKey", `{"KeyId":"alias/none"}`, 400, "NotFoundException"},
		{"no key id", "DescribeKey", `{}`, 400, "ValidationException"},
		{"empty body", "GenerateDataKey", ``, 400, "ValidationException"},
		{"no alias target", "CreateAlias", `{"AliasName":"alias/x"}`, 400, "ValidationException"},
		{"no ciphertext", "Decrypt", `{}`, 400, "ValidationException"},
		{"ciphertext too long", "Decrypt", `{"CiphertextBlob":"` + base64.StdEncoding.EncodeToString(make([]byte, maxCiphertextLength+1)) + `"}`, 400, "ValidationException"},
		{"no plaintext", "Encrypt", `{"KeyId":"` + key.ID + `"}`, 400, "ValidationException"},
		{"tag without key", "CreateKey", `{"Tags":[{"TagValue":"v"}]}`, 400, "TagException"},
		{"recipient", "Decrypt", `{"CiphertextBlob":"` + base64.StdEncoding.EncodeToString(blob) + `","Recipient":{"KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}`, 400, "UnsupportedOperationException"},
		{"malformed JSON", "DescribeKey", `{"KeyId":`, 400, "SerializationException"},
		{"wrong JSON type", "GenerateDataKey", `{"KeyId":"` + key.ID + `","NumberOfBytes":"32"}`, 400, "SerializationException"},
		{"blob not base64", "Decrypt", `{"CiphertextBlob":"not base64!"}`, 400, "SerializationException"},
		{"unknown operation", "ListKeys", `{}`, 400, "UnknownOperationException"},
		{"body too large", "Encrypt", `{"Plaintext":"` + strings.Repeat("A", awsjson.MaxBodyBytes) + `"}`, 413, "RequestEntityTooLargeException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(t, rawRequest(t, url, tt.op, []byte(tt.body)))
			if resp.status != tt.wantStatus || resp.errorBody.Type != tt.wantType {
				t.Fatalf("%s %s: got %d %q (%s), want %d %q", tt.op, tt.body[:min(len(tt.body), 80)], resp.status, resp.errorBody.Type, resp.body, tt.wantStatus, tt.wantType)
			}
			if ct := resp.header.Get("Content-Type"); ct != contentType {
				t.Errorf("Content-Type = %q, want %q", ct, contentType)
			}
			if !uuidRe.MatchString(resp.header.Get("x-amzn-RequestId")) {
				t.Errorf("x-amzn-RequestId = %q, want a UUID", resp.header.Get("x-amzn-RequestId"))
			}
			if tt.wantType != "" && resp.errorBody.Message == "" {
				t.Errorf("error body %s has no message", resp.body)
			}
		})
	}
}

// newClientBlob returns a ciphertext blob under keyARN, made through the SDK.
func newClientBlob(t *testing.T, url, keyARN string) []byte {
	t.Helper()
	out, err := newClient(url).Encrypt(context.Background(), &kms.EncryptInput{KeyId: aws.String(keyARN), Plaintext: []byte("p")})
	if err != nil {
		t.Fatal(err)
	}
	return out.CiphertextBlob
}

// TestNotTheProtocol: requests that are not AWS JSON 1.1 for TrentService
// are refused as an unknown operation, before their signature is checked,
// and count no call.
func TestNotTheProtocol(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil)
	body := []byte(`{"KeyId":"alias/a"}`)
	tests := []struct {
		name string
		mod  func(r *http.Request)
	}{
		{"GET", func(r *http.Request) { r.Method = http.MethodGet }},
		{"another path", func(r *http.Request) { r.URL.Path = "/DescribeKey" }},
		{"no target", func(r *http.Request) { r.Header.Del("X-Amz-Target") }},
		{"another service's target", func(r *http.Request) { r.Header.Set("X-Amz-Target", "DynamoDB_20120810.DescribeKey") }},
		{"plain JSON", func(r *http.Request) { r.Header.Set("Content-Type", "application/json") }},
		{"JSON 1.0", func(r *http.Request) { r.Header.Set("Content-Type", "application/x-amz-json-1.0") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := rawRequest(t, url, "DescribeKey", body)
			tt.mod(req)
			sign(t, req, body, "kms")
			resp := do(t, req)
			if resp.status != 400 || resp.errorBody.Type != errUnknownOperation {
				t.Errorf("%s: got %d %q, want 400 %s", tt.name, resp.status, resp.errorBody.Type, errUnknownOperation)
			}
		})
	}
	t.Run("a charset parameter is fine", func(t *testing.T) {
		t.Parallel()
		req := rawRequest(t, url, "DescribeKey", body)
		req.Header.Set("Content-Type", contentType+"; charset=utf-8")
		sign(t, req, body, "kms")
		if resp := do(t, req); resp.errorBody.Type != errNotFound {
			t.Errorf("with a charset: got %d %q, want NotFoundException", resp.status, resp.errorBody.Type)
		}
	})
	t.Cleanup(func() {
		if n := emu.Calls("DescribeKey"); n != 1 {
			t.Errorf("Calls(DescribeKey) = %d, want 1 (the charset request only)", n)
		}
	})
}

func TestSignature(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, func(c *Config) { c.SessionToken = "the-session-token" })
	key := emu.CreateKey("")
	tests := []struct {
		name, region, keyID, secret, token string
		wantCode                           string
	}{
		{"right credentials", testRegion, testKeyID, testSecret, "the-session-token", ""},
		{"wrong secret", testRegion, testKeyID, "wrong", "the-session-token", "InvalidSignatureException"},
		{"unknown key", testRegion, "AKIAOTHER", testSecret, "the-session-token", "UnrecognizedClientException"},
		{"other region", "us-west-2", testKeyID, testSecret, "the-session-token", "InvalidSignatureException"},
		{"no token", testRegion, testKeyID, testSecret, "", "UnrecognizedClientException"},
		{"wrong token", testRegion, testKeyID, testSecret, "another-token", "UnrecognizedClientException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := kms.NewFromConfig(aws.Config{
				Region:      tt.region,
				Credentials: credentials.NewStaticCredentialsProvider(tt.keyID, tt.secret, tt.token),
			}, func(o *kms.Options) { o.BaseEndpoint = aws.String(url) })
			out, err := client.GenerateDataKey(context.Background(), &kms.GenerateDataKeyInput{KeyId: aws.String(key.ID), KeySpec: types.DataKeySpecAes256})
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("GenerateDataKey = %v", err)
				}
				return
			}
			awsemutest.WantError(t, "GenerateDataKey("+tt.name+")", err, tt.wantCode, 400)
			if out != nil {
				t.Errorf("GenerateDataKey(%s) returned a data key", tt.name)
			}
		})
	}

	// A request signed for IVS, as ivsemu would accept it, is refused here.
	body := []byte(`{"KeyId":"` + key.ID + `"}`)
	req := rawRequest(t, url, "DescribeKey", body)
	req.Header.Set("X-Amz-Security-Token", "the-session-token")
	sign(t, req, body, "ivs")
	if resp := do(t, req); resp.status != 400 || resp.errorBody.Type != "InvalidSignatureException" ||
		!strings.Contains(resp.errorBody.Message, "'kms'") {
		t.Errorf("DescribeKey signed for ivs: got %d %s %q, want 400 InvalidSignatureException naming kms", resp.status, resp.errorBody.Type, resp.errorBody.Message)
	}
}

// TestNoSecretInErrors: no answer quotes a plaintext, a data key or the
// emulator's secret, nor a malformed key identifier (which might be a value
// passed by mistake). Well-formed alias names are quoted, as KMS does.
func TestNoSecretInErrors(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil)
	key := emu.CreateKey("")
	client := newClient(url, noRetries)
	ctx := context.Background()
	gen, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(key.ID), KeySpec: types.DataKeySpecAes256, EncryptionContext: ctx13})
	if err != nil {
		t.Fatal(err)
	}
	plaintext := base64.StdEncoding.EncodeToString([]byte("the secret plaintext"))
	dataKey := base64.StdEncoding.EncodeToString(gen.Plaintext)
	if err := emu.SetKeyEnabled(key.ID, false); err != nil {
		t.Fatal(err)
	}
	bodies := map[string]string{
		"Encrypt":         `{"KeyId":"` + key.ID + `","Plaintext":"` + plaintext + `"}`,
		"Decrypt":         `{"CiphertextBlob":"` + base64.StdEncoding.EncodeToString(gen.CiphertextBlob) + `"}`,
		"GenerateDataKey": `{"KeyId":"` + plaintext + `","KeySpec":"AES_256"}`,
	}
	for op, body := range bodies {
		resp := do(t, rawRequest(t, url, op, []byte(body)))
		if resp.status == 200 {
			t.Fatalf("%s %s succeeded", op, body)
		}
		for _, secret := range []string{plaintext, strings.TrimRight(plaintext, "="), dataKey, testSecret} {
			if strings.Contains(string(resp.body), secret) {
				t.Errorf("%s answered %s, which quotes a secret", op, resp.body)
			}
		}
	}
}

// TestEndpointFromEnvironment uses the standard AWS_ENDPOINT_URL_KMS
// override, as the service will in its tests. It cannot run in parallel
// because it sets environment variables.
func TestEndpointFromEnvironment(t *testing.T) {
	emu, url := startEmulator(t, nil)
	key := emu.CreateKey("")
	dir := t.TempDir()
	t.Setenv("AWS_ENDPOINT_URL_KMS", url)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(testRegion),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "")))
	if err != nil {
		t.Fatalf("LoadDefaultConfig = %v", err)
	}
	out, err := kms.NewFromConfig(cfg).GenerateDataKey(context.Background(),
		&kms.GenerateDataKeyInput{KeyId: aws.String(key.ID), KeySpec: types.DataKeySpecAes256})
	if err != nil {
		t.Fatalf("GenerateDataKey via AWS_ENDPOINT_URL_KMS = %v", err)
	}
	if aws.ToString(out.KeyId) != key.ARN || emu.Succeeded("GenerateDataKey") != 1 {
		t.Errorf("GenerateDataKey via AWS_ENDPOINT_URL_KMS = key %q, %d calls served; want %s from the emulator",
			aws.ToString(out.KeyId), emu.Succeeded("GenerateDataKey"), key.ARN)
	}
}

func TestRequestIDReachesSDK(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t, nil)
	_, err := newClient(url).DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String("alias/none")})
	var withID interface{ ServiceRequestID() string }
	if !errors.As(err, &withID) || !uuidRe.MatchString(withID.ServiceRequestID()) {
		t.Errorf("DescribeKey error %v carries no request id", err)
	}
}
