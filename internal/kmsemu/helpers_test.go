package kmsemu

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

const (
	testRegion    = "eu-west-1"
	testAccountID = "111122223333"
	testKeyID     = "AKIAKMSEMULATORTEST1"
	testSecret    = "kmsemu/secret+Key0123456789abcdefghijklm"
)

var (
	keyIDRe  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	keyARNRe = regexp.MustCompile(`^arn:aws:kms:eu-west-1:111122223333:key/[0-9a-f-]{36}$`)
)

func testConfig() Config {
	return Config{
		Region:          testRegion,
		AccountID:       testAccountID,
		AccessKeyID:     testKeyID,
		SecretAccessKey: testSecret,
	}
}

// startEmulator serves an Emulator built from testConfig, modified by mod,
// and returns it with its URL.
func startEmulator(t *testing.T, mod func(*Config)) (*Emulator, string) {
	t.Helper()
	cfg := testConfig()
	if mod != nil {
		mod(&cfg)
	}
	emu, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%v) = %v", cfg, err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return emu, srv.URL
}

// noBackoff keeps the SDK's standard retry policy (3 attempts, retry on 5xx
// and throttling) but without waiting between attempts.
type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

// newClient returns the real SDK client pointed at url with the test
// credentials and the standard retryer (without delays).
func newClient(url string, optFns ...func(*kms.Options)) *kms.Client {
	cfg := aws.Config{
		Region:      testRegion,
		Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
	}
	opts := append([]func(*kms.Options){func(o *kms.Options) {
		o.BaseEndpoint = aws.String(url)
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.Backoff = noBackoff{} })
	}}, optFns...)
	return kms.NewFromConfig(cfg, opts...)
}

func noRetries(o *kms.Options) { o.Retryer = aws.NopRetryer{} }

// createKey creates a key through the SDK and returns its metadata.
func createKey(t *testing.T, client *kms.Client) *types.KeyMetadata {
	t.Helper()
	out, err := client.CreateKey(context.Background(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatalf("CreateKey = %v", err)
	}
	return out.KeyMetadata
}

// errorCode returns the API error code of err, or "" if err is not an API
// error.
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// httpStatus returns the HTTP status behind an SDK error, or 0.
func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// wantError fails t unless err is the API error code answered with status.
func wantError(t *testing.T, call string, err error, code string, status int) {
	t.Helper()
	if errorCode(err) != code || httpStatus(err) != status {
		t.Errorf("%s = %v (code %q, status %d), want %d %s", call, err, errorCode(err), httpStatus(err), status, code)
	}
}

// rawResponse is an answer read by a hand-made request.
type rawResponse struct {
	status    int
	header    http.Header
	body      []byte
	errorBody errorBody
}

// rawRequest builds POST url/ with body as the KMS client would for op,
// signed with the SDK's signer for the service kms.
func rawRequest(t *testing.T, url, op string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Amz-Target", targetPrefix+op)
	sign(t, req, body, "kms")
	return req
}

// sign signs req, whose body is body, with the SDK's signer and the test
// credentials.
func sign(t *testing.T, req *http.Request, body []byte, service string) {
	t.Helper()
	req.Header.Del("Authorization")
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, testRegion, time.Now()); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
}

// do sends req and reads the answer; an error's body is decoded into
// errorBody.
func do(t *testing.T, req *http.Request) rawResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	r := rawResponse{status: resp.StatusCode, header: resp.Header, body: b}
	if resp.StatusCode >= 300 {
		if err := json.Unmarshal(b, &r.errorBody); err != nil {
			t.Fatalf("error body %q is not JSON: %v", b, err)
		}
	}
	return r
}
