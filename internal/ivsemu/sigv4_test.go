package ivsemu

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
)

func TestSigV4RawRequests(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil, nil)
	ch, err := emu.CreateChannel("sig")
	if err != nil {
		t.Fatal(err)
	}
	other, err := emu.CreateChannel("other")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"arn":"` + ch.ARN + `"}`)
	otherBody := []byte(`{"arn":"` + other.ARN + `"}`)
	now := time.Now()
	wrongSecret := testCreds()
	wrongSecret.SecretAccessKey = "not-the-secret"
	unknownKey := testCreds()
	unknownKey.AccessKeyID = "AKIAUNKNOWN000000000"

	tests := []struct {
		name       string
		req        func(t *testing.T) *http.Request
		wantStatus int
		wantType   string
	}{
		{"valid", func(t *testing.T) *http.Request {
			return signedRequest(t, url, "GetChannel", body, testCreds(), testRegion, "ivs", now)
		}, 200, ""},
		{"valid with query and odd header spacing", func(t *testing.T) *http.Request {
			req, err := http.NewRequest(http.MethodPost, url+"/GetChannel?b=2&a=x%20y&a=1&c=%2F", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Custom", "  two   spaces  ")
			req.Header.Add("X-Multi", "one")
			req.Header.Add("X-Multi", "two")
			sign(t, req, body, testCreds(), testRegion, "ivs", now)
			return req
		}, 200, ""},
		{"no Authorization", func(t *testing.T) *http.Request {
			req := signedRequest(t, url, "GetChannel", body, testCreds(), testRegion, "ivs", now)
			req.Header.Del("Authorization")
			return req
		}, 403, "MissingAuthenticationTokenException"},
		{"not SigV4", func(t *testing.T) *http.Request {
			req := signedRequest(t, url, "GetChannel", body, testCreds(), testRegion, "ivs", now)
			req.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
			return req
		}, 400, "IncompleteSignatureException"},
		{"wrong secret", func(t *testing.T) *http.Request {
			return signedRequest(t, url, "GetChannel", body, wrongSecret, testRegion, "ivs", now)
		}, 403, "InvalidSignatureException"},
		{"unknown access key", func(t *testing.T) *http.Request {
			return signedRequest(t, url, "GetChannel", body, unknownKey, testRegion, "ivs", now)
		}, 403, "UnrecognizedClientException"},
		{"tampered body", func(t *testing.T) *http.Request {
			// Same length, another target: what an attacker on the path would do.
			req := signedRequest(t, url, "GetChannel", body, testCreds(), testRegion, "ivs", now)
			req.Body = io.NopCloser(bytes.NewReader(otherBody))
			return req
		}, 403, "InvalidSignatureException"},
		{"tampered signed header", func(t *testing.T) *http.Request {
			req := signedRequest(t, url, "GetChannel", body, testCreds(), testRegion, "ivs", now)
			req.Header.Set("Content-Type", "text/plain")
			return req
		}, 403, "InvalidSignatureException"},
		{"other operation than signed", func(t *testing.T) *http.Request {
			req := signedRequest(t, url, "GetChannel", body, testCreds(), testRegion, "ivs", now)
			req.URL.Path = "/GetStream" // harmless if wrongly accepted: no shared state changes
			return req
		}, 403, "InvalidSignatureException"},
		{"wrong region", func(t *testing.T) *http.Request {
			return signedRequest(t, url, "GetChannel", body, testCreds(), "us-west-2", "ivs", now)
		}, 403, "InvalidSignatureException"},
		{"wrong service", func(t *testing.T) *http.Request {
			return signedRequest(t, url, "GetChannel", body, testCreds(), testRegion, "execute-api", now)
		}, 403, "InvalidSignatureException"},
		{"expired", func(t *testing.T) *http.Request {
			return signedRequest(t, url, "GetChannel", body, testCreds(), testRegion, "ivs", now.Add(-20*time.Minute))
		}, 403, "InvalidSignatureException"},
		{"unexpected session token", func(t *testing.T) *http.Request {
			c := testCreds()
			c.SessionToken = "token"
			return signedRequest(t, url, "GetChannel", body, c, testRegion, "ivs", now)
		}, 403, "UnrecognizedClientException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := do(t, tt.req(t))
			if resp.status != tt.wantStatus || resp.errorType != tt.wantType {
				t.Fatalf("%s: got %d %q (%s), want %d %q", tt.name, resp.status, resp.errorType, resp.body, tt.wantStatus, tt.wantType)
			}
			if !uuidRe.MatchString(resp.header.Get("x-amzn-RequestId")) {
				t.Errorf("x-amzn-RequestId = %q, want a UUID", resp.header.Get("x-amzn-RequestId"))
			}
			if strings.Contains(string(resp.body), testSecret) || strings.Contains(string(resp.body), ch.StreamKey.Value) {
				t.Errorf("response body %s leaks a secret", resp.body)
			}
			if tt.wantType == "InvalidSignatureException" && tt.name == "wrong secret" &&
				!strings.Contains(resp.errorBody.Message, "The request signature we calculated does not match") {
				t.Errorf("wrong secret: message %q, want AWS's signature mismatch message", resp.errorBody.Message)
			}
		})
	}
}

func TestSigV4ThroughSDK(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t, nil, nil)
	tests := []struct {
		name     string
		region   string
		keyID    string
		secret   string
		wantCode string
	}{
		{"right credentials", testRegion, testKeyID, testSecret, ""},
		{"wrong secret", testRegion, testKeyID, "wrong", "InvalidSignatureException"},
		{"unknown key", testRegion, "AKIAOTHER", testSecret, "UnrecognizedClientException"},
		{"other region", "us-west-2", testKeyID, testSecret, "InvalidSignatureException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := ivs.NewFromConfig(aws.Config{
				Region:      tt.region,
				Credentials: credentials.NewStaticCredentialsProvider(tt.keyID, tt.secret, ""),
			}, func(o *ivs.Options) { o.BaseEndpoint = aws.String(url) })
			_, err := client.ListChannels(context.Background(), &ivs.ListChannelsInput{})
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("ListChannels = %v", err)
				}
				return
			}
			if got := errorCode(err); got != tt.wantCode || httpStatus(err) != 403 {
				t.Errorf("ListChannels = %v (code %q, status %d), want 403 %s", err, got, httpStatus(err), tt.wantCode)
			}
		})
	}
}

func TestSessionToken(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t, func(c *Config) { c.SessionToken = "the-session-token" }, nil)
	tests := []struct {
		name     string
		token    string
		wantCode string
	}{
		{"right token", "the-session-token", ""},
		{"no token", "", "UnrecognizedClientException"},
		{"wrong token", "another-token", "UnrecognizedClientException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := ivs.NewFromConfig(aws.Config{
				Region:      testRegion,
				Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, tt.token),
			}, func(o *ivs.Options) { o.BaseEndpoint = aws.String(url) })
			_, err := client.ListChannels(context.Background(), &ivs.ListChannelsInput{})
			if got := errorCode(err); got != tt.wantCode {
				t.Errorf("ListChannels with %s = %v, want code %q", tt.name, err, tt.wantCode)
			}
		})
	}
}
