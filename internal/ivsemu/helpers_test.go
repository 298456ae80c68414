package ivsemu

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
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/smithy-go"
)

const (
	testRegion    = "eu-west-1"
	testAccountID = "111122223333"
	testKeyID     = "AKIAEMULATORTEST0001"
	testSecret    = "emulator/secret+Key0123456789abcdefghijk"
)

// Formats from docs/ivs-wire.md, in the test region and account.
var (
	channelARNRe = regexp.MustCompile(`^arn:aws:ivs:eu-west-1:111122223333:channel/([A-Za-z0-9]{12})$`)
	keyARNRe     = regexp.MustCompile(`^arn:aws:ivs:eu-west-1:111122223333:stream-key/[A-Za-z0-9]{12}$`)
	keyValueRe   = regexp.MustCompile(`^sk_eu-west-1_[A-Za-z0-9]{12}_[A-Za-z0-9]{30}$`)
	ingestRe     = regexp.MustCompile(`^[0-9a-f]{12}\.global-contribute\.live-video\.net$`)
	srtRe        = regexp.MustCompile(`^[0-9a-f]{12}\.srt\.live-video\.net$`)
	playbackRe   = regexp.MustCompile(`^https://[0-9a-f]{12}\.eu-west-1\.playback\.live-video\.net/api/video/v1/eu-west-1\.111122223333\.channel\.([A-Za-z0-9]{12})\.m3u8$`)
	uuidRe       = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
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
// and returns it with its URL. setup runs before the server starts, so it
// may replace unexported fields such as now.
func startEmulator(t *testing.T, mod func(*Config), setup func(*Emulator)) (*Emulator, string) {
	t.Helper()
	cfg := testConfig()
	if mod != nil {
		mod(&cfg)
	}
	emu, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%v) = %v", cfg, err)
	}
	if setup != nil {
		setup(emu)
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
func newClient(url string, optFns ...func(*ivs.Options)) *ivs.Client {
	cfg := aws.Config{
		Region:      testRegion,
		Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
	}
	opts := append([]func(*ivs.Options){func(o *ivs.Options) {
		o.BaseEndpoint = aws.String(url)
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.Backoff = noBackoff{} })
	}}, optFns...)
	return ivs.NewFromConfig(cfg, opts...)
}

func noRetries(o *ivs.Options) { o.Retryer = aws.NopRetryer{} }

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

// rawResponse is an answer read by a hand-made request.
type rawResponse struct {
	status    int
	header    http.Header
	body      []byte
	errorType string
	errorBody errorBody
}

// signedRequest builds POST url/op with body, signed with the SDK's signer.
func signedRequest(t *testing.T, url, op string, body []byte, creds aws.Credentials, region, service string, at time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/"+op, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	sign(t, req, body, creds, region, service, at)
	return req
}

// sign signs req, whose body is body, with the SDK's signer.
func sign(t *testing.T, req *http.Request, body []byte, creds aws.Credentials, region, service string, at time.Time) {
	t.Helper()
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
}

func testCreds() aws.Credentials {
	return aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
}

// do sends req and reads the answer.
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
	r := rawResponse{status: resp.StatusCode, header: resp.Header, body: b, errorType: resp.Header.Get("x-amzn-ErrorType")}
	if r.errorType != "" {
		if err := json.Unmarshal(b, &r.errorBody); err != nil {
			t.Fatalf("error body %q is not JSON: %v", b, err)
		}
	}
	return r
}
