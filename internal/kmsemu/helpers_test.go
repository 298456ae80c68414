package kmsemu

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsemutest"
	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsjson"
)

const (
	testRegion    = "eu-west-1"
	testAccountID = "111122223333"
	testKeyID     = "AKIAKMSEMULATORTEST1"
	testSecret    = "kmsemu/secret+Key0123456789abcdefghijklm"
	contentType   = awsjson.ContentType
)

var (
	testCreds = aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	keyIDRe   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	keyARNRe  = regexp.MustCompile(`^arn:aws:kms:eu-west-1:111122223333:key/[0-9a-f-]{36}$`)
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

// newClient returns the real SDK client pointed at url with the test
// credentials and the standard retryer (without delays).
func newClient(url string, optFns ...func(*kms.Options)) *kms.Client {
	return kms.NewFromConfig(awsemutest.ClientConfig(url, testRegion, testCreds), optFns...)
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

// errorBody is the AWS JSON 1.1 error document.
type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
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
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	sign(t, req, body, "kms")
	return req
}

// sign signs req, whose body is body, with the SDK's signer for service
// and the test credentials.
func sign(t *testing.T, req *http.Request, body []byte, service string) {
	t.Helper()
	awsemutest.Sign(t, req, body, testCreds, service, testRegion)
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
