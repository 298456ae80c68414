package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testRegion = "eu-west-1"
	testKeyID  = "AKIASIGV4TEST0000001"
	testSecret = "sigv4/secret+Key0123456789abcdefghijklm"
	testToken  = "the-session-token"
)

func TestSigningKey(t *testing.T) {
	t.Parallel()
	// The example from AWS's SigV4 documentation ("Examples of how to derive
	// a signing key for Signature Version 4").
	got := signingKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
	const want = "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
	if h := hex.EncodeToString(got); h != want {
		t.Errorf("signingKey(AWS example) = %s, want %s", h, want)
	}
}

// verifier serves Verify for service: it answers 204, or 403 with the
// error's code in X-Code and its message in X-Message.
type verifier struct {
	service string
	creds   Credentials
	now     time.Time
}

func (v verifier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	err = Verify(r, body, v.creds, v.service, testRegion, v.now)
	if err == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var serr *Error
	if !errors.As(err, &serr) {
		w.Header().Set("X-Code", "not an *Error")
	} else {
		w.Header().Set("X-Code", serr.Code)
		w.Header().Set("X-Message", serr.Message)
	}
	w.WriteHeader(http.StatusForbidden)
}

func sign(t *testing.T, req *http.Request, body []byte, creds aws.Credentials, service, region string, at time.Time) {
	t.Helper()
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Now()
	kms := httptest.NewServer(verifier{service: "kms", creds: Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}, now: now})
	t.Cleanup(kms.Close)
	withToken := httptest.NewServer(verifier{service: "kms", creds: Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret, SessionToken: testToken}, now: now})
	t.Cleanup(withToken.Close)

	body := []byte(`{"KeyId":"alias/a"}`)
	good := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	// request builds a POST to url with body and the headers the KMS client
	// sends, signed by the SDK's signer with creds for service at at.
	request := func(t *testing.T, url string, creds aws.Credentials, service, region string, at time.Time) *http.Request {
		req, err := http.NewRequest(http.MethodPost, url+"/", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "TrentService.Decrypt")
		if creds.SessionToken != "" {
			req.Header.Set("X-Amz-Security-Token", creds.SessionToken)
		}
		sign(t, req, body, creds, service, region, at)
		return req
	}
	tokenCreds := good
	tokenCreds.SessionToken = testToken
	wrongToken := good
	wrongToken.SessionToken = "another-token"

	tests := []struct {
		name     string
		req      func(t *testing.T) *http.Request
		wantCode string // "" for accepted
	}{
		{"valid", func(t *testing.T) *http.Request {
			return request(t, kms.URL, good, "kms", testRegion, now)
		}, ""},
		{"valid with a query and odd header spacing", func(t *testing.T) *http.Request {
			req := request(t, kms.URL, good, "kms", testRegion, now)
			req.URL.RawQuery = "b=2&a=x%20y&a=1&c=%2F"
			req.Header.Set("X-Custom", "  two   spaces  ")
			req.Header.Add("X-Multi", "one")
			req.Header.Add("X-Multi", "two")
			req.Body = io.NopCloser(bytes.NewReader(body))
			req.Header.Del("Authorization")
			sign(t, req, body, good, "kms", testRegion, now)
			return req
		}, ""},
		{"signed for another service", func(t *testing.T) *http.Request {
			return request(t, kms.URL, good, "ivs", testRegion, now)
		}, InvalidSignature},
		{"signed for another region", func(t *testing.T) *http.Request {
			return request(t, kms.URL, good, "kms", "us-west-2", now)
		}, InvalidSignature},
		{"wrong secret", func(t *testing.T) *http.Request {
			c := good
			c.SecretAccessKey = "not-the-secret"
			return request(t, kms.URL, c, "kms", testRegion, now)
		}, InvalidSignature},
		{"unknown access key", func(t *testing.T) *http.Request {
			c := good
			c.AccessKeyID = "AKIAUNKNOWN000000000"
			return request(t, kms.URL, c, "kms", testRegion, now)
		}, UnrecognizedClient},
		{"tampered body", func(t *testing.T) *http.Request {
			req := request(t, kms.URL, good, "kms", testRegion, now)
			req.Body = io.NopCloser(bytes.NewReader([]byte(`{"KeyId":"alias/b"}`)))
			return req
		}, InvalidSignature},
		{"tampered signed header", func(t *testing.T) *http.Request {
			req := request(t, kms.URL, good, "kms", testRegion, now)
			req.Header.Set("X-Amz-Target", "TrentService.GenerateDataKey")
			return req
		}, InvalidSignature},
		{"expired", func(t *testing.T) *http.Request {
			return request(t, kms.URL, good, "kms", testRegion, now.Add(-20*time.Minute))
		}, InvalidSignature},
		{"from the future", func(t *testing.T) *http.Request {
			return request(t, kms.URL, good, "kms", testRegion, now.Add(20*time.Minute))
		}, InvalidSignature},
		{"no Authorization", func(t *testing.T) *http.Request {
			req := request(t, kms.URL, good, "kms", testRegion, now)
			req.Header.Del("Authorization")
			return req
		}, MissingAuthenticationToken},
		{"not SigV4", func(t *testing.T) *http.Request {
			req := request(t, kms.URL, good, "kms", testRegion, now)
			req.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
			return req
		}, IncompleteSignature},
		{"signature not hex", func(t *testing.T) *http.Request {
			req := request(t, kms.URL, good, "kms", testRegion, now)
			a := req.Header.Get("Authorization")
			req.Header.Set("Authorization", a[:strings.LastIndex(a, "=")+1]+"zz")
			return req
		}, InvalidSignature},
		{"short credential scope", func(t *testing.T) *http.Request {
			req := request(t, kms.URL, good, "kms", testRegion, now)
			req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "/kms/aws4_request", "/kms", 1))
			return req
		}, IncompleteSignature},
		{"unexpected session token", func(t *testing.T) *http.Request {
			return request(t, kms.URL, tokenCreds, "kms", testRegion, now)
		}, UnrecognizedClient},
		{"right session token", func(t *testing.T) *http.Request {
			return request(t, withToken.URL, tokenCreds, "kms", testRegion, now)
		}, ""},
		{"missing session token", func(t *testing.T) *http.Request {
			return request(t, withToken.URL, good, "kms", testRegion, now)
		}, UnrecognizedClient},
		{"wrong session token", func(t *testing.T) *http.Request {
			return request(t, withToken.URL, wrongToken, "kms", testRegion, now)
		}, UnrecognizedClient},
		{"unsigned session token", func(t *testing.T) *http.Request {
			req := request(t, withToken.URL, good, "kms", testRegion, now)
			req.Header.Set("X-Amz-Security-Token", testToken)
			return req
		}, InvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := http.DefaultClient.Do(tt.req(t))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.Header.Get("X-Code")
			if got != tt.wantCode {
				t.Fatalf("Verify(%s) = %q (%s), want %q", tt.name, got, resp.Header.Get("X-Message"), tt.wantCode)
			}
			if msg := resp.Header.Get("X-Message"); strings.Contains(msg, testSecret) || strings.Contains(msg, testToken) {
				t.Errorf("Verify(%s) message %q leaks a secret", tt.name, msg)
			}
		})
	}
}

func TestCredentialsRedacted(t *testing.T) {
	t.Parallel()
	c := Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret, SessionToken: testToken}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("creds", "creds", c)
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), logged.String()} {
		if strings.Contains(out, testSecret) || strings.Contains(out, testToken) {
			t.Errorf("printed Credentials %q leak the secret or the token", out)
		}
		if !strings.Contains(out, testKeyID) {
			t.Errorf("printed Credentials %q lack the access key id", out)
		}
	}
}
