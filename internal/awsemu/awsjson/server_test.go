package awsjson

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsemutest"
)

// The emulators' own tests drive the Server through the real SDK clients
// (kmsemu: routing, content type, body limit, signature, request id, hooks;
// smemu: the capitalized Message). These tests cover what a service does not
// reach: the error table's defaults, the exact error document, an empty
// output, and an output that cannot be encoded.

var testCreds = aws.Credentials{AccessKeyID: "AKIAAWSJSONTEST00001", SecretAccessKey: "awsjson/secret+Key0123456789"}

func testServer(t *testing.T, member string) (*Server, string) {
	t.Helper()
	cfg, err := Config{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: testCreds.SecretAccessKey}.Resolve("test")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(cfg, Service{
		Name:         "test",
		SigningName:  "toy",
		TargetPrefix: "Toy_2024.",
		Ops: map[string]Op{
			"Empty":    func([]byte) (any, *Error) { return nil, nil },
			"Echo":     func(b []byte) (any, *Error) { var v map[string]any; return v, Decode(b, &v) },
			"Unencode": func([]byte) (any, *Error) { return map[string]any{"f": func() {}}, nil },
			"Fault":    func(b []byte) (any, *Error) { return nil, Errorf(string(b), "it's <%s>", "x") },
		},
		ClientFaults:  []string{"ToyNotFound"},
		ServerFaults:  []string{"ToyInternal"},
		Internal:      Error{Name: "ToyInternal", Message: "internal"},
		MessageMember: member,
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return srv, hs.URL
}

func call(t *testing.T, url, op, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("X-Amz-Target", "Toy_2024."+op)
	awsemutest.Sign(t, req, []byte(body), testCreds, "toy", DefaultRegion)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != ContentType {
		t.Errorf("%s: Content-Type %q, want %q", op, ct, ContentType)
	}
	return resp.StatusCode, string(b)
}

func TestAnswers(t *testing.T) {
	t.Parallel()
	srv, url := testServer(t, "message")
	for _, tt := range []struct {
		op, body   string
		wantStatus int
		wantBody   string
	}{
		{"Empty", "{}", 200, ""},
		{"Echo", `{"a":1}`, 200, `{"a":1}`},
		{"Echo", ``, 200, `null`},
		{"Echo", `{"a":`, 400, `{"__type":"SerializationException","message":"the request body is not a valid JSON document for this operation"}`},
		{"Unencode", "{}", 500, `{"__type":"ToyInternal","message":"internal"}`},
		{"Fault", "ToyNotFound", 400, `{"__type":"ToyNotFound","message":"it's \u003cx\u003e"}`},
		{"Fault", "ToyInternal", 500, `{"__type":"ToyInternal","message":"it's \u003cx\u003e"}`},
		{"Fault", Validation, 400, `{"__type":"ValidationException","message":"it's \u003cx\u003e"}`},
		{"Fault", AccessDenied, 400, `{"__type":"AccessDeniedException","message":"it's \u003cx\u003e"}`},
		{"Fault", Throttling, 400, `{"__type":"ThrottlingException","message":"it's \u003cx\u003e"}`},
		{"Fault", "NotInTheTable", 500, `{"__type":"NotInTheTable","message":"it's \u003cx\u003e"}`},
		{"Missing", "{}", 400, `{"__type":"UnknownOperationException","message":"unknown operation"}`},
		{"Echo", `"` + strings.Repeat("a", MaxBodyBytes) + `"`, 413, `{"__type":"RequestEntityTooLargeException","message":"request body exceeds 1048576 bytes"}`},
	} {
		status, body := call(t, url, tt.op, tt.body)
		if status != tt.wantStatus || body != tt.wantBody {
			t.Errorf("%s(%.40s) = %d %s, want %d %s", tt.op, tt.body, status, body, tt.wantStatus, tt.wantBody)
		}
	}
	// Every request to a served operation counts, whatever its answer; one to
	// an unknown operation does not.
	if srv.Calls("Echo") != 4 || srv.Succeeded("Echo") != 2 || srv.Calls("Fault") != 6 || srv.TotalCalls() != 12 {
		t.Errorf("Calls(Echo) %d, Succeeded(Echo) %d, Calls(Fault) %d, TotalCalls %d; want 4, 2, 6, 12",
			srv.Calls("Echo"), srv.Succeeded("Echo"), srv.Calls("Fault"), srv.TotalCalls())
	}
}

func TestMessageMember(t *testing.T) {
	t.Parallel()
	_, url := testServer(t, "Message")
	if status, body := call(t, url, "Fault", "ToyNotFound"); status != 400 || body != `{"__type":"ToyNotFound","Message":"it's \u003cx\u003e"}` {
		t.Errorf("Fault = %d %s, want 400 with a capitalized Message", status, body)
	}
}

func TestHooksCheckNames(t *testing.T) {
	t.Parallel()
	srv, url := testServer(t, "message")
	srv.FailNext("Empty", "ToyInternal", 1)
	srv.Fail("Empty", Throttling)
	for i, want := range []int{500, 400, 400} {
		if status, _ := call(t, url, "Empty", "{}"); status != want {
			t.Errorf("call %d of Empty = %d, want %d (FailNext before Fail)", i, status, want)
		}
	}
	srv.ClearFailures()
	if status, body := call(t, url, "Empty", "{}"); status != 200 || body != "" {
		t.Errorf("Empty after ClearFailures = %d %q", status, body)
	}
	for name, fn := range map[string]func(){
		"Calls(unknown op)":       func() { srv.Calls("Toy_2024.Empty") },
		"FailNext(unknown error)": func() { srv.FailNext("Empty", "NoSuchError", 1) },
		"Fail(unknown op)":        func() { srv.Fail("Missing", Throttling) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(r.(string), "test: unknown ") {
					t.Errorf("%s: recovered %v, want a panic naming the emulator", name, r)
				}
			}()
			fn()
		}()
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	cfg, err := Config{AccessKeyID: "AKID", SecretAccessKey: "s3cr3t-DO-NOT-LEAK", SessionToken: "tok-DO-NOT-LEAK"}.Resolve("x")
	if err != nil || cfg.Region != DefaultRegion || cfg.AccountID != DefaultAccountID {
		t.Fatalf("Resolve = %+v, %v; want the defaults", cfg, err)
	}
	want := "{Region:us-east-1 AccountID:123456789012 AccessKeyID:AKID SecretAccessKey:[REDACTED] SessionToken:[REDACTED]}"
	if got := cfg.String(); got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	for _, bad := range []Config{{}, {Region: "moon", AccessKeyID: "a", SecretAccessKey: "b"}, {AccountID: "1", AccessKeyID: "a", SecretAccessKey: "b"}} {
		if _, err := bad.Resolve("x"); err == nil || !strings.HasPrefix(err.Error(), "x: ") {
			t.Errorf("Resolve(%v) = %v, want an error prefixed x:", bad, err)
		}
	}
}

// TestJSON10 covers what a service speaking AWS JSON 1.0 with the Query
// protocol's error codes (SQS) adds: its content type both ways (a 1.1
// request is refused), the namespaced __type, the X-Amzn-Query-Error header
// and its status, and an operation that gets the request's context.
func TestJSON10(t *testing.T) {
	t.Parallel()
	cfg, err := Config{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: testCreds.SecretAccessKey}.Resolve("test")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(cfg, Service{
		Version:      "1.0",
		Name:         "test",
		SigningName:  "toy",
		TargetPrefix: "Toy.",
		ContextOps: map[string]ContextOp{
			"Ctx": func(ctx context.Context, _ []byte) (any, *Error) {
				return map[string]bool{"hasDeadline": ctx.Done() != nil}, nil
			},
		},
		Ops: map[string]Op{
			"Fault": func(b []byte) (any, *Error) { return nil, Errorf(string(b), "no") },
		},
		ClientFaults:   []string{"ToyMissing"},
		ServerFaults:   []string{"ToyInternal"},
		Internal:       Error{Name: "ToyInternal", Message: "internal"},
		MessageMember:  "message",
		ErrorNamespace: "com.example.toy",
		QueryErrors: map[string]QueryError{
			"ToyMissing":  {Code: "AWS.Toy.NonExistent", Status: 404},
			"ToyInternal": {Code: "InternalError", Status: 500},
		},
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	for _, tt := range []struct {
		op, body, contentType   string
		wantStatus              int
		wantBody, wantQueryCode string
	}{
		{"Ctx", "{}", ContentType10, 200, `{"hasDeadline":true}`, ""},
		{"Ctx", "{}", ContentType, 400, `{"__type":"com.example.toy#UnknownOperationException","message":"unknown operation"}`, ""},
		{"Fault", "ToyMissing", ContentType10, 404, `{"__type":"com.example.toy#ToyMissing","message":"no"}`, "AWS.Toy.NonExistent;Sender"},
		{"Fault", "ToyInternal", ContentType10, 500, `{"__type":"com.example.toy#ToyInternal","message":"no"}`, "InternalError;Receiver"},
		{"Fault", Validation, ContentType10, 400, `{"__type":"com.example.toy#ValidationException","message":"no"}`, ""},
	} {
		req, err := http.NewRequest(http.MethodPost, hs.URL+"/", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", tt.contentType)
		req.Header.Set("X-Amz-Target", "Toy."+tt.op)
		awsemutest.Sign(t, req, []byte(tt.body), testCreds, "toy", DefaultRegion)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.wantStatus || string(b) != tt.wantBody {
			t.Errorf("%s(%s) = %d %s, want %d %s", tt.op, tt.contentType, resp.StatusCode, b, tt.wantStatus, tt.wantBody)
		}
		if got := resp.Header.Get("X-Amzn-Query-Error"); got != tt.wantQueryCode {
			t.Errorf("%s(%s): X-Amzn-Query-Error %q, want %q", tt.op, tt.body, got, tt.wantQueryCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != ContentType10 {
			t.Errorf("%s: Content-Type %q, want %q", tt.op, ct, ContentType10)
		}
	}
	if srv.Calls("Ctx") != 1 {
		t.Errorf("Calls(Ctx) = %d, want 1 (the 1.1 request addressed no operation)", srv.Calls("Ctx"))
	}
}
