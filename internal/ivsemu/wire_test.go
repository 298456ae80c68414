package ivsemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
)

func TestWireFormat(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil, nil)
	ch, err := emu.CreateChannel("wire")
	if err != nil {
		t.Fatal(err)
	}
	missing := "arn:aws:ivs:eu-west-1:111122223333:channel/EEEEEEEEEEEE"
	now := time.Now()

	tests := []struct {
		name       string
		method     string
		op         string
		body       string
		wantStatus int
		wantType   string // "" for success
	}{
		{"success is JSON", "POST", "GetChannel", `{"arn":"` + ch.ARN + `"}`, 200, ""},
		{"delete is 204", "POST", "DeleteStreamKey", `{"arn":"` + ch.StreamKey.ARN + `"}`, 204, ""},
		{"stop stream offline", "POST", "StopStream", `{"channelArn":"` + ch.ARN + `"}`, 404, "ChannelNotBroadcasting"},
		{"not found", "POST", "GetChannel", `{"arn":"` + missing + `"}`, 404, "ResourceNotFoundException"},
		{"missing arn", "POST", "GetChannel", `{}`, 400, "ValidationException"},
		{"empty body", "POST", "GetStreamKey", ``, 400, "ValidationException"},
		{"malformed JSON", "POST", "GetChannel", `{"arn":`, 400, "ValidationException"},
		{"wrong JSON type", "POST", "ListChannels", `{"maxResults":"5"}`, 400, "ValidationException"},
		{"unknown operation", "POST", "ListPlaybackKeyPairs", `{}`, 404, "UnknownOperationException"},
		{"GET", "GET", "GetChannel", ``, 404, "UnknownOperationException"},
		{"body too large", "POST", "CreateChannel", `{"name":"` + strings.Repeat("a", maxBodyBytes) + `"}`, 413, "RequestEntityTooLargeException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, url+"/"+tt.op, bytes.NewReader([]byte(tt.body)))
			if err != nil {
				t.Fatal(err)
			}
			sign(t, req, []byte(tt.body), testCreds(), testRegion, "ivs", now)
			resp := do(t, req)
			if resp.status != tt.wantStatus || resp.errorType != tt.wantType {
				t.Fatalf("%s /%s: got %d %q, want %d %q", tt.method, tt.op, resp.status, resp.errorType, tt.wantStatus, tt.wantType)
			}
			if !uuidRe.MatchString(resp.header.Get("x-amzn-RequestId")) {
				t.Errorf("x-amzn-RequestId = %q, want a UUID", resp.header.Get("x-amzn-RequestId"))
			}
			switch {
			case tt.wantStatus == 204:
				if len(resp.body) != 0 {
					t.Errorf("204 body = %q, want empty", resp.body)
				}
			case tt.wantType == "":
				if ct := resp.header.Get("Content-Type"); ct != "application/json" || !json.Valid(resp.body) {
					t.Errorf("success: Content-Type %q body %q, want JSON", ct, resp.body)
				}
			default:
				if want := "com.amazonaws.ivs#" + tt.wantType; resp.errorBody.Type != want {
					t.Errorf("__type = %q, want %q", resp.errorBody.Type, want)
				}
				if resp.errorBody.ExceptionMessage == "" {
					t.Errorf("exceptionMessage is empty in %s", resp.body)
				}
			}
		})
	}
}

// TestEndpointFromEnvironment uses the standard AWS_ENDPOINT_URL_IVS
// override, as the service will in dev mode. It cannot run in parallel
// because it sets environment variables.
func TestEndpointFromEnvironment(t *testing.T) {
	_, url := startEmulator(t, nil, nil)
	dir := t.TempDir()
	t.Setenv("AWS_ENDPOINT_URL_IVS", url)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(testRegion),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "")))
	if err != nil {
		t.Fatalf("LoadDefaultConfig = %v", err)
	}
	out, err := ivs.NewFromConfig(cfg).CreateChannel(context.Background(), &ivs.CreateChannelInput{Name: aws.String("env")})
	if err != nil {
		t.Fatalf("CreateChannel via AWS_ENDPOINT_URL_IVS = %v", err)
	}
	if !channelARNRe.MatchString(*out.Channel.Arn) {
		t.Errorf("CreateChannel ARN = %q", *out.Channel.Arn)
	}
}

func TestRequestIDReachesSDK(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t, nil, nil)
	_, err := newClient(url).GetChannel(context.Background(),
		&ivs.GetChannelInput{Arn: aws.String("arn:aws:ivs:eu-west-1:111122223333:channel/FFFFFFFFFFFF")})
	var withID interface{ ServiceRequestID() string }
	if !errors.As(err, &withID) || !uuidRe.MatchString(withID.ServiceRequestID()) {
		t.Errorf("GetChannel error %v carries no request id", err)
	}
}
