package smemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsemutest"
	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsjson"
)

const (
	testRegion    = "eu-west-1"
	testAccountID = "111122223333"
	testKeyID     = "AKIASMEMULATORTEST01"
	testSecret    = "smemu/secret+Key0123456789abcdefghijklm"
	// secretValue is a value no answer but GetSecretValue's may carry.
	secretValue = "postgres://app:sm-DO-NOT-LEAK@db.example:5432/postgres"
	contentType = awsjson.ContentType
)

var (
	testCreds = aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	arnRe     = regexp.MustCompile(`^arn:aws:secretsmanager:eu-west-1:111122223333:secret:ivs-ingest/db-[A-Za-z0-9]{6}$`)
	uuidRe    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

func testConfig() Config {
	return Config{Region: testRegion, AccountID: testAccountID, AccessKeyID: testKeyID, SecretAccessKey: testSecret}
}

// startEmulator serves an Emulator built from testConfig and returns it with
// its URL.
func startEmulator(t *testing.T) (*Emulator, string) {
	t.Helper()
	emu, err := New(testConfig())
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return emu, srv.URL
}

// newClient returns the real SDK client pointed at url with the test
// credentials and the standard retryer (without delays).
func newClient(url string, optFns ...func(*secretsmanager.Options)) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(awsemutest.ClientConfig(url, testRegion, testCreds), optFns...)
}

func get(ctx context.Context, c *secretsmanager.Client, id string) (*secretsmanager.GetSecretValueOutput, error) {
	return c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
}

func TestGetSecretValueString(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t)
	sec, err := emu.CreateSecret("ivs-ingest/db", secretValue)
	if err != nil {
		t.Fatal(err)
	}
	if !arnRe.MatchString(sec.ARN) || !uuidRe.MatchString(sec.VersionID) {
		t.Fatalf("CreateSecret = %+v, want an ARN with a 6-character suffix and a UUID version", sec)
	}
	client := newClient(url)
	partial := strings.TrimSuffix(sec.ARN, sec.ARN[len(sec.ARN)-7:])
	for _, id := range []string{sec.ARN, "ivs-ingest/db", partial} {
		out, err := get(context.Background(), client, id)
		if err != nil {
			t.Fatalf("GetSecretValue(%s) = %v", id, err)
		}
		if aws.ToString(out.SecretString) != secretValue || out.SecretBinary != nil {
			t.Errorf("GetSecretValue(%s) gave another value, or a binary one too", id)
		}
		if aws.ToString(out.ARN) != sec.ARN || aws.ToString(out.Name) != "ivs-ingest/db" || aws.ToString(out.VersionId) != sec.VersionID ||
			strings.Join(out.VersionStages, ",") != stageCurrent || out.CreatedDate == nil || time.Since(*out.CreatedDate) > time.Minute {
			t.Errorf("GetSecretValue(%s) = ARN %q, name %q, version %q %v, created %v; want %+v, AWSCURRENT, now",
				id, aws.ToString(out.ARN), aws.ToString(out.Name), aws.ToString(out.VersionId), out.VersionStages, out.CreatedDate, sec)
		}
	}
	if emu.Calls("GetSecretValue") != 3 || emu.Succeeded("GetSecretValue") != 3 || emu.TotalCalls() != 3 {
		t.Errorf("counts = %d calls, %d succeeded, %d total; want 3 each", emu.Calls("GetSecretValue"), emu.Succeeded("GetSecretValue"), emu.TotalCalls())
	}
	emu.ResetCounts()
	if emu.TotalCalls() != 0 {
		t.Errorf("TotalCalls after ResetCounts = %d", emu.TotalCalls())
	}
}

func TestGetSecretValueBinary(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t)
	raw := []byte{0, 1, 2, 0xff, 'x'}
	sec, err := emu.CreateBinarySecret("ivs-ingest/bin", raw)
	if err != nil {
		t.Fatal(err)
	}
	out, err := get(context.Background(), newClient(url), sec.ARN)
	if err != nil {
		t.Fatalf("GetSecretValue = %v", err)
	}
	if !bytes.Equal(out.SecretBinary, raw) || out.SecretString != nil {
		t.Errorf("GetSecretValue = binary %v, string %v; want binary %v only", out.SecretBinary, out.SecretString, raw)
	}
}

func TestVersions(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t)
	sec, err := emu.CreateSecret("ivs-ingest/db", "v1")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := emu.PutSecretValue(sec.ARN, "v2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := emu.PutSecretValue("ivs-ingest/db", "v3"); err != nil {
		t.Fatal(err)
	}
	client := newClient(url)
	ctx := context.Background()
	for _, tt := range []struct {
		in   secretsmanager.GetSecretValueInput
		want string
	}{
		{secretsmanager.GetSecretValueInput{}, "v3"},
		{secretsmanager.GetSecretValueInput{VersionStage: aws.String(stagePrevious)}, "v2"},
		{secretsmanager.GetSecretValueInput{VersionId: aws.String(sec.VersionID)}, "v1"},
		{secretsmanager.GetSecretValueInput{VersionId: aws.String(v2), VersionStage: aws.String(stagePrevious)}, "v2"},
	} {
		tt.in.SecretId = aws.String(sec.ARN)
		out, err := client.GetSecretValue(ctx, &tt.in)
		if err != nil || aws.ToString(out.SecretString) != tt.want {
			t.Errorf("GetSecretValue(version %v, stage %v) = %v; want %s", aws.ToString(tt.in.VersionId), aws.ToString(tt.in.VersionStage), err, tt.want)
		}
	}
	_, err = client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(sec.ARN), VersionId: aws.String(sec.VersionID), VersionStage: aws.String(stageCurrent)})
	awsemutest.WantError(t, "GetSecretValue(v1 as AWSCURRENT)", err, errNotFound, 400)
	if _, err := emu.PutSecretValue("nope", "x"); err == nil {
		t.Error("PutSecretValue(unknown secret) succeeded")
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t)
	sec, err := emu.CreateSecret("ivs-ingest/db", secretValue)
	if err != nil {
		t.Fatal(err)
	}
	client := newClient(url)
	otherRegion := strings.Replace(sec.ARN, testRegion, "us-west-2", 1)
	otherAccount := strings.Replace(sec.ARN, testAccountID, "999999999999", 1)
	for _, id := range []string{"ivs-ingest/none", sec.ARN + "x", otherRegion, otherAccount, "arn:aws:kms:eu-west-1:111122223333:key/x"} {
		_, err := get(context.Background(), client, id)
		awsemutest.WantError(t, "GetSecretValue("+id+")", err, errNotFound, 400)
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) || !strings.Contains(nf.ErrorMessage(), "can't find the specified secret") {
			t.Errorf("GetSecretValue(%s) = %v, want the SDK's ResourceNotFoundException with Secrets Manager's message", id, err)
		}
	}
}

// AccessDeniedException, as an identity without secretsmanager:GetSecretValue
// gets, is not retried; InternalServiceError is, by the SDK's retryer.
func TestInjectedFailures(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t)
	sec, err := emu.CreateSecret("ivs-ingest/db", secretValue)
	if err != nil {
		t.Fatal(err)
	}
	client := newClient(url)
	ctx := context.Background()

	emu.Fail("GetSecretValue", errAccessDenied)
	_, err = get(ctx, client, sec.ARN)
	awsemutest.WantError(t, "GetSecretValue(denied)", err, errAccessDenied, 400)
	if emu.Calls("GetSecretValue") != 1 || emu.Succeeded("GetSecretValue") != 0 {
		t.Errorf("AccessDenied: %d calls, %d succeeded; want 1 call (not retried), 0", emu.Calls("GetSecretValue"), emu.Succeeded("GetSecretValue"))
	}
	emu.ClearFailures()

	emu.ResetCounts()
	emu.FailNext("GetSecretValue", errInternal, 2)
	if out, err := get(ctx, client, sec.ARN); err != nil || aws.ToString(out.SecretString) != secretValue {
		t.Errorf("GetSecretValue after 2 internal errors = %v, want the value on the third attempt", err)
	}
	if emu.Calls("GetSecretValue") != 3 || emu.Succeeded("GetSecretValue") != 1 {
		t.Errorf("retried: %d calls, %d succeeded; want 3, 1", emu.Calls("GetSecretValue"), emu.Succeeded("GetSecretValue"))
	}

	emu.FailNext("GetSecretValue", errInternal, 1)
	_, err = get(ctx, newClient(url, func(o *secretsmanager.Options) { o.Retryer = aws.NopRetryer{} }), sec.ARN)
	awsemutest.WantError(t, "GetSecretValue(internal, no retries)", err, errInternal, 500)

	for _, f := range []func(){
		func() { emu.Fail("GetSecretValues", errAccessDenied) },
		func() { emu.FailNext("GetSecretValue", "NoSuchError", 1) },
		func() { emu.Calls("CreateSecret") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("a misspelt operation or error name did not panic")
				}
			}()
			f()
		}()
	}
}

// A client that gives up during the latency gets no answer; its call counts,
// not as a success.
func TestLatency(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t)
	sec, err := emu.CreateSecret("ivs-ingest/db", secretValue)
	if err != nil {
		t.Fatal(err)
	}
	emu.SetLatency(time.Minute)
	// Long enough for the request to reach the emulator on a loaded
	// machine (the emulator counts only calls it received), far shorter
	// than the latency.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = get(ctx, newClient(url, func(o *secretsmanager.Options) { o.Retryer = aws.NopRetryer{} }), sec.ARN)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GetSecretValue on a slow emulator = %v, want the context's deadline", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for emu.Calls("GetSecretValue") != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if emu.Calls("GetSecretValue") != 1 || emu.Succeeded("GetSecretValue") != 0 {
		t.Errorf("cancelled call: %d calls, %d succeeded; want 1, 0", emu.Calls("GetSecretValue"), emu.Succeeded("GetSecretValue"))
	}
}

// The wire: what is refused before any secret is looked at, and that no
// error answer carries the value.
func TestWire(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t)
	sec, err := emu.CreateSecret("ivs-ingest/db", secretValue)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(fmt.Sprintf(`{"SecretId":%q}`, sec.ARN))
	for _, tt := range []struct {
		name              string
		target, ctype     string
		service, secret   string
		body              []byte
		wantStatus        int
		wantType          string
		wantValueInAnswer bool
	}{
		{"signed for secretsmanager", "secretsmanager.GetSecretValue", contentType, "secretsmanager", testSecret, body, 200, "", true},
		{"signed for kms", "secretsmanager.GetSecretValue", contentType, "kms", testSecret, body, 400, "InvalidSignatureException", false},
		{"wrong secret key", "secretsmanager.GetSecretValue", contentType, "secretsmanager", "wrong", body, 400, "InvalidSignatureException", false},
		{"unsigned", "secretsmanager.GetSecretValue", contentType, "", "", body, 400, "MissingAuthenticationTokenException", false},
		{"unknown operation", "secretsmanager.DeleteSecret", contentType, "secretsmanager", testSecret, body, 400, errUnknownOperation, false},
		{"another service's target", "TrentService.Decrypt", contentType, "secretsmanager", testSecret, body, 400, errUnknownOperation, false},
		{"JSON 1.0", "secretsmanager.GetSecretValue", "application/x-amz-json-1.0", "secretsmanager", testSecret, body, 400, errUnknownOperation, false},
		{"not JSON", "secretsmanager.GetSecretValue", contentType, "secretsmanager", testSecret, []byte(`{"SecretId":`), 400, errSerialization, false},
		{"no SecretId", "secretsmanager.GetSecretValue", contentType, "secretsmanager", testSecret, []byte(`{}`), 400, errValidation, false},
	} {
		req, err := http.NewRequest(http.MethodPost, url+"/", bytes.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", tt.ctype)
		req.Header.Set("X-Amz-Target", tt.target)
		if tt.service != "" {
			awsemutest.Sign(t, req, tt.body, aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: tt.secret}, tt.service, testRegion)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var eb map[string]string
		_ = json.Unmarshal(b, &eb)
		if resp.StatusCode != tt.wantStatus || eb["__type"] != tt.wantType {
			t.Errorf("%s: %d %s, want %d %s", tt.name, resp.StatusCode, b, tt.wantStatus, tt.wantType)
		}
		if tt.wantType != "" && eb["Message"] == "" {
			t.Errorf("%s: error body %s has no Message", tt.name, b)
		}
		if got := strings.Contains(string(b), "sm-DO-NOT-LEAK"); got != tt.wantValueInAnswer {
			t.Errorf("%s: the answer carries the value: %v, want %v", tt.name, got, tt.wantValueInAnswer)
		}
		if resp.Header.Get("Content-Type") != contentType || !uuidRe.MatchString(resp.Header.Get("x-amzn-RequestId")) {
			t.Errorf("%s: Content-Type %q, request id %q", tt.name, resp.Header.Get("Content-Type"), resp.Header.Get("x-amzn-RequestId"))
		}
	}
}

func TestSeedingRules(t *testing.T) {
	t.Parallel()
	emu, _ := startEmulator(t)
	if _, err := emu.CreateSecret("ivs-ingest/db", "x"); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func() error{
		"duplicate name": func() error { _, err := emu.CreateSecret("ivs-ingest/db", "y"); return err },
		"bad name":       func() error { _, err := emu.CreateSecret("has space", "y"); return err },
		"too large":      func() error { _, err := emu.CreateSecret("big", strings.Repeat("x", maxValueBytes+1)); return err },
	} {
		if err := f(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(Config{AccessKeyID: "a"}); err == nil {
		t.Error("New without a secret access key succeeded")
	}
	if _, err := New(Config{Region: "moon", AccessKeyID: "a", SecretAccessKey: "b"}); err == nil {
		t.Error("New with an invalid region succeeded")
	}
}

func TestConfigRedaction(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.SessionToken = "session-DO-NOT-LEAK"
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%+v", cfg), logged.String()} {
		if strings.Contains(s, testSecret) || strings.Contains(s, "DO-NOT-LEAK") || !strings.Contains(s, testKeyID) {
			t.Errorf("Config formats as %s: want the key id, no secret", s)
		}
	}
}

// The client reaches the emulator through the standard
// AWS_ENDPOINT_URL_SECRETS_MANAGER override and LoadDefaultConfig, as the
// service will. It cannot run in parallel: it sets environment variables.
func TestEndpointFromEnvironment(t *testing.T) {
	emu, url := startEmulator(t)
	sec, err := emu.CreateSecret("ivs-ingest/db", secretValue)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", url)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(testRegion),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "")))
	if err != nil {
		t.Fatalf("LoadDefaultConfig = %v", err)
	}
	out, err := get(context.Background(), secretsmanager.NewFromConfig(cfg), sec.ARN)
	if err != nil || aws.ToString(out.SecretString) != secretValue || emu.Succeeded("GetSecretValue") != 1 {
		t.Errorf("GetSecretValue via AWS_ENDPOINT_URL_SECRETS_MANAGER = %v, %d served; want the value from the emulator", err, emu.Succeeded("GetSecretValue"))
	}
}
