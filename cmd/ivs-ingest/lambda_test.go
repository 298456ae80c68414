package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ivsemu"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// The Lambda tests run the service as Lambda runs it: this test binary,
// re-executed as a child process with AWS_LAMBDA_RUNTIME_API pointing at
// fakeRuntime, a Lambda Runtime API served by the test. The child calls run
// with no arguments, as Lambda runs `bootstrap`, and aws-lambda-go's runtime
// loop fetches the events the test queues and posts the answers back.

const lambdaChildEnv = "IVS_INGEST_TEST_LAMBDA_CHILD"

// TestMain makes this test binary the Lambda tests' child process when they
// re-execute it with lambdaChildEnv set; otherwise it runs the tests.
func TestMain(m *testing.M) {
	if os.Getenv(lambdaChildEnv) != "" {
		lambdaChildMain()
	}
	os.Exit(m.Run())
}

// lambdaChildMain is what main does, with the arguments the test chose.
func lambdaChildMain() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var args []string
	if a := os.Getenv(lambdaChildEnv + "_ARGS"); a != "" {
		args = strings.Fields(a)
	}
	err := run(ctx, args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ivs-ingest: %v\n", err)
		os.Exit(exitCode(err))
	}
	os.Exit(0)
}

// fakeRuntime is the Lambda Runtime API (and the part of the Extensions API
// that aws-lambda-go's WithEnableSIGTERM uses), as documented at
// docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html.
type fakeRuntime struct {
	srv     *httptest.Server
	queue   chan queuedInvoke
	stopped chan struct{}

	mu         sync.Mutex
	results    map[string]chan invokeResult
	extensions []string // names registered with the Extensions API
	initErrors int
}

type queuedInvoke struct {
	id       string
	deadline time.Time
	payload  []byte
}

// invokeResult is what the function posted for an invocation.
type invokeResult struct {
	failed bool // posted to /error rather than /response
	body   []byte
}

func newFakeRuntime(t *testing.T) *fakeRuntime {
	t.Helper()
	f := &fakeRuntime{
		queue:   make(chan queuedInvoke, 16),
		stopped: make(chan struct{}),
		results: make(map[string]chan invokeResult),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case inv := <-f.queue:
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:ivs-ingest")
			w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-6744f1a2-3f0c2d9e5b7a4c1d2e3f4a5b;Parent=1a2b3c4d5e6f7a8b;Sampled=0")
			w.Header().Set("Content-Type", "application/json")
			w.Write(inv.payload)
		case <-r.Context().Done():
		case <-f.stopped:
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	answer := func(failed bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			f.mu.Lock()
			ch := f.results[r.PathValue("id")]
			delete(f.results, r.PathValue("id"))
			f.mu.Unlock()
			if ch == nil {
				w.WriteHeader(http.StatusBadRequest) // unknown or already answered
				return
			}
			ch <- invokeResult{failed: failed, body: body}
			w.WriteHeader(http.StatusAccepted)
		}
	}
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", answer(false))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", answer(true))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.initErrors++
		f.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST /2020-01-01/extension/register", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.extensions = append(f.extensions, r.Header.Get("Lambda-Extension-Name"))
		f.mu.Unlock()
		w.Header().Set("Lambda-Extension-Identifier", ingest.NewID())
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"functionName":"ivs-ingest","functionVersion":"$LATEST","handler":"bootstrap"}`)
	})
	mux.HandleFunc("GET /2020-01-01/extension/event/next", func(w http.ResponseWriter, r *http.Request) {
		// No events were asked for: it never answers, as in Lambda.
		select {
		case <-r.Context().Done():
		case <-f.stopped:
		}
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(f.stopped)
		f.srv.Close()
	})
	return f
}

// address is AWS_LAMBDA_RUNTIME_API's value: host:port, no scheme.
func (f *fakeRuntime) address() string { return strings.TrimPrefix(f.srv.URL, "http://") }

// invoke queues payload as the next event and waits for the function's
// answer.
func (f *fakeRuntime) invoke(t *testing.T, payload []byte) invokeResult {
	t.Helper()
	id := ingest.NewID()
	ch := make(chan invokeResult, 1)
	f.mu.Lock()
	f.results[id] = ch
	f.mu.Unlock()
	f.queue <- queuedInvoke{id: id, deadline: time.Now().Add(time.Minute), payload: payload}
	select {
	case res := <-ch:
		return res
	case <-time.After(30 * time.Second):
		t.Fatalf("no answer to invocation %s within 30s", id)
		return invokeResult{}
	}
}

func (f *fakeRuntime) registered() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.extensions...)
}

// lambdaChild is the service running in Lambda mode in a child process.
type lambdaChild struct {
	runtime *fakeRuntime
	cmd     *exec.Cmd
	stderr  *syncBuffer
	exited  chan struct{}
	err     error // Wait's result, once exited is closed
}

// startLambda runs the child with env (the service's variables) and args.
func startLambda(t *testing.T, env map[string]string, args ...string) *lambdaChild {
	t.Helper()
	rt := newFakeRuntime(t)
	c := &lambdaChild{runtime: rt, stderr: &syncBuffer{}, exited: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0])
	c.cmd.Env = append(os.Environ(),
		lambdaChildEnv+"=1",
		lambdaChildEnv+"_ARGS="+strings.Join(args, " "),
		"AWS_LAMBDA_RUNTIME_API="+rt.address(),
		"AWS_LAMBDA_FUNCTION_NAME=ivs-ingest",
	)
	for k, v := range env {
		c.cmd.Env = append(c.cmd.Env, k+"="+v)
	}
	c.cmd.Stdout = io.Discard
	c.cmd.Stderr = c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start the Lambda child: %v", err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-c.exited:
			return
		default:
		}
		_ = c.cmd.Process.Kill()
		<-c.exited
	})
	return c
}

// terminate sends SIGTERM, as Lambda does before it stops an environment,
// and returns the exit error (nil for status 0).
func (c *lambdaChild) terminate(t *testing.T) error {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-c.exited:
		return c.err
	case <-time.After(10 * time.Second):
		t.Fatal("the Lambda child did not exit within 10s of SIGTERM")
		return nil
	}
}

// lambdaEnv is the environment of `serve` for env, as a map for a child
// process. Lambda itself sets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN from the role; overrides may do the same.
func lambdaEnv(env *testenv.Env, overrides map[string]string) map[string]string {
	getenv := env.Getenv(overrides)
	m := make(map[string]string)
	for _, k := range []string{
		"DATABASE_URL", "SUPABASE_URL", "SUPABASE_JWT_SECRET", "AWS_REGION", "AWS_ACCESS_KEY_ID",
		"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_IVS", "AWS_ENDPOINT_URL",
		"JWKS_MIN_REFETCH_INTERVAL", "LOG_LEVEL", "CORS_ALLOWED_ORIGINS", "RATE_LIMIT_REQUESTS_PER_MINUTE", "METRICS_TOKEN",
	} {
		m[k] = getenv(k) // "" too: the parent's environment must not leak in
	}
	return m
}

// clientRequest is one request of a client, sent to the HTTP server and, as
// a Lambda event, to the Lambda function.
type clientRequest struct {
	method string
	path   string // escaped, as on the request line
	query  string
	header map[string]string
	body   []byte
	// base64 sends the body base64-encoded in the event, as AWS does for
	// binary media types.
	base64 bool
}

// lambdaEvent is r as a Lambda event of kind ("function-url" or "http-api"),
// made from the event captured in testdata.
func lambdaEvent(t *testing.T, kind string, r clientRequest) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "lambda", kind+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("%s.json: %v", kind, err)
	}
	ev["rawPath"], ev["rawQueryString"] = r.path, r.query
	rc := ev["requestContext"].(map[string]any)
	rc["requestId"] = ingest.NewID()
	rc["timeEpoch"] = time.Now().UnixMilli()
	h := rc["http"].(map[string]any)
	h["method"] = r.method
	if h["path"], err = url.PathUnescape(r.path); err != nil {
		t.Fatal(err)
	}
	if params, ok := ev["pathParameters"].(map[string]any); ok {
		params["proxy"] = strings.TrimPrefix(h["path"].(string), "/") // route ANY /{proxy+}
	}
	headers := ev["headers"].(map[string]any)
	for k, v := range r.header {
		headers[strings.ToLower(k)] = v // 2.0 events name headers in lower case
		if strings.EqualFold(k, "User-Agent") {
			h["userAgent"] = v
		}
	}
	switch {
	case r.base64:
		ev["body"], ev["isBase64Encoded"] = base64.StdEncoding.EncodeToString(r.body), true
	case len(r.body) > 0:
		ev["body"] = string(r.body)
	}
	if len(r.body) > 0 {
		headers["content-length"] = strconv.Itoa(len(r.body))
	}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// answer is what a client sees of a response, in a form to compare.
type answer struct {
	Status int
	Header map[string]string
	Body   any // decoded JSON, or the text
}

// comparedHeaders are the response headers that must be the same. Others
// differ rightly (X-Request-Id is checked apart; Date and Content-Length are
// the server's or AWS's).
var comparedHeaders = []string{
	"Content-Type", "Cache-Control", "WWW-Authenticate", "Retry-After", "Allow", "Vary",
	"Access-Control-Allow-Origin", "Access-Control-Allow-Headers", "Access-Control-Allow-Methods",
	"Access-Control-Expose-Headers", "Access-Control-Max-Age",
}

// newAnswer normalises a response: stream keys are replaced by a digest, so
// they can be compared without being printed, and Retry-After seconds, which
// depend on when each request came, by "N" once checked to be a number.
func newAnswer(t *testing.T, status int, header http.Header, body []byte) answer {
	t.Helper()
	a := answer{Status: status, Header: make(map[string]string)}
	for _, name := range comparedHeaders {
		if v := header.Values(name); len(v) > 0 {
			a.Header[name] = strings.Join(v, ", ")
		}
	}
	if v, ok := a.Header["Retry-After"]; ok {
		if n, err := strconv.Atoi(v); err != nil || n < 1 {
			t.Errorf("Retry-After = %q, want a number of seconds", v)
		}
		a.Header["Retry-After"] = "N"
	}
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		a.Body = string(body)
		return a
	}
	for _, k := range []string{"streamKey", "srtUrl"} {
		if s, ok := m[k].(string); ok {
			sum := sha256.Sum256([]byte(s))
			m[k] = "sha256:" + hex.EncodeToString(sum[:8])
		}
	}
	if _, ok := m["retryAfter"]; ok {
		m["retryAfter"] = "N"
	}
	a.Body = m
	return a
}

// overHTTP sends r to the HTTP server at baseURL.
func overHTTP(t *testing.T, baseURL string, r clientRequest) (answer, string) {
	t.Helper()
	u := baseURL + r.path
	if r.query != "" {
		u += "?" + r.query
	}
	req, err := http.NewRequest(r.method, u, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s over HTTP: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return newAnswer(t, resp.StatusCode, resp.Header, body), resp.Header.Get("X-Request-Id")
}

// overLambda sends r as an event of kind to the Lambda child, and reads the
// answer as API Gateway and function URLs do: aws-lambda-go's own model of
// the 2.0 response.
func overLambda(t *testing.T, c *lambdaChild, kind string, r clientRequest) (answer, string) {
	t.Helper()
	res := c.runtime.invoke(t, lambdaEvent(t, kind, r))
	if res.failed {
		t.Fatalf("%s %s as a %s event: the invocation failed", r.method, r.path, kind)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(res.body, &resp); err != nil {
		t.Fatalf("%s %s as a %s event: the answer is not a 2.0 response: %v", r.method, r.path, kind, err)
	}
	header := make(http.Header)
	for k, v := range resp.Headers {
		header.Set(k, v)
	}
	for _, c := range resp.Cookies {
		header.Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			t.Fatalf("answer body is not base64: %v", err)
		}
	}
	return newAnswer(t, resp.StatusCode, header, body), header.Get("X-Request-Id")
}

// auditRow returns the client_ip and user_agent of the audit row of the
// request with id.
func auditRow(t *testing.T, dbURL, requestID string) (clientIP, userAgent string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `SELECT coalesce(client_ip, ''), coalesce(user_agent, '') FROM ivs_ingest.audit_log WHERE request_id = $1`,
		requestID).Scan(&clientIP, &userAgent)
	if err != nil {
		t.Fatalf("audit row of request %s: %v", requestID, err)
	}
	return clientIP, userAgent
}

// TestLambdaAnswersAsTheHTTPServer sends the same requests to `serve` and, as
// function URL and HTTP API events, to the binary in Lambda mode, over the
// same database, IVS emulator and token issuer, and compares the answers.
func TestLambdaAnswersAsTheHTTPServer(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Supabase: true})
	const origin = "https://shop.example"
	// Each user below makes at most 2 requests to each side, but the one
	// who exceeds it; a token comes back every 30 s, longer than the
	// warm-up and the first case take.
	const perMinute = 2
	overrides := map[string]string{
		"CORS_ALLOWED_ORIGINS":           origin + ",https://admin.shop.example",
		"RATE_LIMIT_REQUESTS_PER_MINUTE": strconv.Itoa(perMinute),
	}
	server := serve(t, env.Getenv(overrides))
	child := startLambda(t, lambdaEnv(env, overrides)) // no arguments, as Lambda runs bootstrap

	sourceIP := map[string]string{"function-url": "198.51.100.7", "http-api": "203.0.113.9"}
	var secrets []string // that must not be in the child's logs
	for _, kind := range []string{"function-url", "http-api"} {
		t.Run(kind, func(t *testing.T) {
			owner := env.Seller(t, "approved")
			show := env.Show(t, owner, true)
			owner2 := env.Seller(t, "approved")
			show2 := env.Show(t, owner2, true)
			pending := env.Seller(t, "pending")
			pendingShow := env.Show(t, pending, true)
			seller := env.Seller(t, "approved")
			spoofer := env.Seller(t, "approved")
			spooferShow := env.Show(t, spoofer, true)
			admin := env.Admin(t)
			limited := env.Seller(t, "approved")
			limitedShow := env.Show(t, limited, false) // answers fast: no IVS call

			bearer := func(u testenv.User) string {
				tok := env.Token(t, u)
				secrets = append(secrets, tok)
				return "Bearer " + tok
			}
			jsonHeader := func(u testenv.User) map[string]string {
				return map[string]string{"Authorization": bearer(u), "Content-Type": "application/json", "Origin": origin}
			}
			showBody := func(id string) []byte { return []byte(`{"showId":"` + id + `"}`) }
			const getIngest = "/functions/v1/get-ivs-ingest"

			// The rate-limited user spends the limit on both sides first,
			// right before the first case.
			limitedReq := clientRequest{method: "POST", path: getIngest, header: jsonHeader(limited), body: showBody(limitedShow.ID)}
			for range perMinute {
				if a, _ := overHTTP(t, server.URL, limitedReq); a.Status != http.StatusBadRequest {
					t.Fatalf("warm-up over HTTP = %d, want 400 (no channel)", a.Status)
				}
				if a, _ := overLambda(t, child, kind, limitedReq); a.Status != http.StatusBadRequest {
					t.Fatalf("warm-up over Lambda = %d, want 400 (no channel)", a.Status)
				}
			}

			for _, tc := range []struct {
				name   string
				req    clientRequest
				status int
			}{
				{"429 with Retry-After", limitedReq, 429},
				{"200 with a key", clientRequest{method: "POST", path: getIngest, header: jsonHeader(owner), body: showBody(show.ID)}, 200},
				{"401 missing auth", clientRequest{method: "POST", path: getIngest,
					header: map[string]string{"Content-Type": "application/json"}, body: showBody(show.ID)}, 401},
				{"401 not a token", clientRequest{method: "POST", path: getIngest,
					header: map[string]string{"Authorization": "Bearer not-a-jwt", "Origin": origin}, body: showBody(show.ID)}, 401},
				{"403 seller not approved", clientRequest{method: "POST", path: getIngest, header: jsonHeader(pending), body: showBody(pendingShow.ID)}, 403},
				{"404 show", clientRequest{method: "POST", path: getIngest, header: jsonHeader(seller), body: showBody(testenv.NewID(t))}, 404},
				{"400 bad body", clientRequest{method: "POST", path: getIngest, header: jsonHeader(seller), body: []byte(`{"showId":`)}, 400},
				{"413 body over the limit", clientRequest{method: "POST", path: getIngest, header: jsonHeader(seller),
					body: []byte(`{"showId":"` + show.ID + `","pad":"` + strings.Repeat("x", 70<<10) + `"}`)}, 413},
				{"405", clientRequest{method: "GET", path: getIngest, header: map[string]string{"Origin": origin}}, 405},
				{"preflight", clientRequest{method: "OPTIONS", path: getIngest, header: map[string]string{
					"Origin": origin, "Access-Control-Request-Method": "POST",
					"Access-Control-Request-Headers": "authorization, content-type, x-client-info"}}, 204},
				{"preflight from another origin", clientRequest{method: "OPTIONS", path: "/functions/v1/ivs-audit", header: map[string]string{
					"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}}, 204},
				{"base64 body", clientRequest{method: "POST", path: getIngest, base64: true,
					header: map[string]string{"Authorization": bearer(owner2), "Content-Type": "application/octet-stream"},
					body:   showBody(show2.ID)}, 200},
				{"query string", clientRequest{method: "GET", path: "/functions/v1/ivs-audit", query: "showId=" + show.ID + "&limit=abc",
					header: map[string]string{"Authorization": bearer(admin)}}, 400},
				{"unknown path", clientRequest{method: "GET", path: "/functions/v1/nope"}, 404},
				{"healthz", clientRequest{method: "GET", path: "/healthz"}, 200},
			} {
				t.Run(tc.name, func(t *testing.T) {
					overHTTPAnswer, httpID := overHTTP(t, server.URL, tc.req)
					lambdaAnswer, lambdaID := overLambda(t, child, kind, tc.req)
					if lambdaAnswer.Status != tc.status {
						t.Errorf("status over Lambda = %d, want %d", lambdaAnswer.Status, tc.status)
					}
					if diff := cmp.Diff(overHTTPAnswer, lambdaAnswer); diff != "" {
						t.Errorf("answer over Lambda differs from over HTTP (-http +lambda):\n%s", diff)
					}
					if lambdaID == "" || lambdaID == httpID {
						t.Errorf("X-Request-Id over Lambda = %q (over HTTP %q), want one of its own", lambdaID, httpID)
					}
					if tc.status == http.StatusOK && tc.req.path == getIngest {
						body, _ := lambdaAnswer.Body.(map[string]any)
						if s, _ := body["streamKey"].(string); !strings.HasPrefix(s, "sha256:") {
							t.Errorf("200 over Lambda has no streamKey")
						}
					}
				})
			}

			// The audited address is AWS's sourceIp, whatever the client
			// claims in the headers a proxy would set.
			spoof := clientRequest{method: "POST", path: getIngest, body: showBody(spooferShow.ID), header: map[string]string{
				"Authorization": bearer(spoofer), "Content-Type": "application/json", "User-Agent": "obs-helper/1.0",
				"X-Forwarded-For": "6.6.6.6", "X-Real-Ip": "6.6.6.6", "Forwarded": "for=6.6.6.6",
			}}
			httpAnswer, httpID := overHTTP(t, server.URL, spoof)
			lambdaAnswer, lambdaID := overLambda(t, child, kind, spoof)
			if httpAnswer.Status != http.StatusOK || lambdaAnswer.Status != http.StatusOK {
				t.Fatalf("spoofing request: %d over HTTP, %d over Lambda, want 200s", httpAnswer.Status, lambdaAnswer.Status)
			}
			if ip, ua := auditRow(t, env.DatabaseURL, httpID); ip != "127.0.0.1" || ua != "obs-helper/1.0" {
				t.Errorf("audit row over HTTP: client_ip %q, user_agent %q; want 127.0.0.1, obs-helper/1.0", ip, ua)
			}
			if ip, ua := auditRow(t, env.DatabaseURL, lambdaID); ip != sourceIP[kind] || ua != "obs-helper/1.0" {
				t.Errorf("audit row over Lambda: client_ip %q, user_agent %q; want the event's sourceIp %s, obs-helper/1.0", ip, ua, sourceIP[kind])
			}
		})
	}

	if got := child.runtime.registered(); !cmp.Equal(got, []string{"GoLangEnableSIGTERM"}) {
		t.Errorf("extensions registered = %q, want [GoLangEnableSIGTERM] (so that Lambda sends SIGTERM)", got)
	}
	if err := child.terminate(t); err != nil {
		t.Errorf("exit after SIGTERM = %v, want status 0", err)
	}
	logs := child.stderr.String()
	if !strings.Contains(logs, `"msg":"stopped"`) {
		t.Errorf("the child's logs have no \"stopped\" line after SIGTERM")
	}
	secrets = append(secrets, testenv.SecretAccessKey)
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the child's logs contain a token or the AWS secret")
		}
	}
	if strings.Contains(logs, "sk_") {
		t.Errorf("the child's logs contain something like a stream key")
	}
}

// TestLambdaWithRoleCredentials: in Lambda the credentials are the role's,
// temporary ones, with a session token in AWS_SESSION_TOKEN. The emulator
// here refuses requests that do not carry that token.
func TestLambdaWithRoleCredentials(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	const (
		roleKeyID  = "ASIATESTROLETESTROLE"
		roleSecret = "roleSecretAccessKey/DO-NOT-LEAK/abcdefghij"
		roleToken  = "IQoJb3JpZ2luX2VjEDoaCXVzLWVhc3QtMSJHMEUCIQDtestsessiontoken/DO-NOT-LEAK"
	)
	emu, err := ivsemu.New(ivsemu.Config{Region: testenv.Region, AccessKeyID: roleKeyID, SecretAccessKey: roleSecret, SessionToken: roleToken})
	if err != nil {
		t.Fatal(err)
	}
	emuSrv := httptest.NewServer(emu)
	t.Cleanup(emuSrv.Close)
	ch, err := emu.CreateChannel("role-credentials")
	if err != nil {
		t.Fatal(err)
	}
	owner := env.Seller(t, "approved")
	showID := testenv.NewID(t)
	pgtest.Exec(t, env.DatabaseURL, `INSERT INTO public.shows (id, seller_id, ivs_channel_arn) VALUES ($1, $2, $3)`, showID, owner.SellerID, ch.ARN)

	child := startLambda(t, lambdaEnv(env, map[string]string{
		"AWS_ACCESS_KEY_ID":     roleKeyID,
		"AWS_SECRET_ACCESS_KEY": roleSecret,
		"AWS_SESSION_TOKEN":     roleToken,
		"AWS_ENDPOINT_URL_IVS":  emuSrv.URL,
	}), "serve") // `serve` works in Lambda too
	req := clientRequest{method: "POST", path: "/functions/v1/get-ivs-ingest", body: []byte(`{"showId":"` + showID + `"}`),
		header: map[string]string{"Authorization": "Bearer " + env.Token(t, owner), "Content-Type": "application/json"}}
	a, _ := overLambda(t, child, "function-url", req)
	body, _ := a.Body.(map[string]any)
	sum := sha256.Sum256([]byte(ch.StreamKey.Value))
	if want := "sha256:" + hex.EncodeToString(sum[:8]); a.Status != http.StatusOK || body["streamKey"] != want {
		t.Errorf("get-ivs-ingest with the role's credentials = %d %v, want 200 with the channel's key", a.Status, body["error"])
	}
	if n := emu.Succeeded("GetChannel"); n < 1 {
		t.Errorf("GetChannel calls that passed the session token check = %d, want at least 1", n)
	}
	if err := child.terminate(t); err != nil {
		t.Errorf("exit after SIGTERM = %v, want status 0", err)
	}
	logs := child.stderr.String()
	for _, s := range []string{roleSecret, roleToken, ch.StreamKey.Value} {
		if strings.Contains(logs, s) {
			t.Errorf("the child's logs contain a credential or the stream key")
		}
	}
}

// TestLambdaMetricsOnlyWithToken: a function URL is public, so Lambda mode
// serves /metrics only behind METRICS_TOKEN and answers 404 without one,
// where serve, whose port a network may guard, serves it openly.
func TestLambdaMetricsOnlyWithToken(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	metricsReq := func(header map[string]string) clientRequest {
		return clientRequest{method: "GET", path: "/metrics", header: header}
	}

	if a, _ := overHTTP(t, serve(t, env.Getenv(nil)).URL, metricsReq(nil)); a.Status != http.StatusOK {
		t.Errorf("GET /metrics from serve without METRICS_TOKEN = %d, want 200 (open, as documented)", a.Status)
	}

	open := startLambda(t, lambdaEnv(env, nil))
	for _, kind := range []string{"function-url", "http-api"} {
		a, _ := overLambda(t, open, kind, metricsReq(nil))
		body, _ := a.Body.(map[string]any)
		if a.Status != http.StatusNotFound || body["error"] != "Not found" {
			t.Errorf("GET /metrics as a %s event without METRICS_TOKEN = %d %v, want 404 Not found", kind, a.Status, body["error"])
		}
	}

	const token = "metrics-token/DO-NOT-LEAK/0123456789"
	guarded := startLambda(t, lambdaEnv(env, map[string]string{"METRICS_TOKEN": token}))
	for _, kind := range []string{"function-url", "http-api"} {
		if a, _ := overLambda(t, guarded, kind, metricsReq(nil)); a.Status != http.StatusUnauthorized {
			t.Errorf("GET /metrics as a %s event without the token = %d, want 401", kind, a.Status)
		}
		a, _ := overLambda(t, guarded, kind, metricsReq(map[string]string{"Authorization": "Bearer " + token}))
		text, _ := a.Body.(string)
		if a.Status != http.StatusOK || !strings.Contains(text, "ivs_ingest_") {
			t.Errorf("GET /metrics as a %s event with the token = %d (%d bytes), want 200 with the service's metrics", kind, a.Status, len(text))
		}
	}
	if err := guarded.terminate(t); err != nil {
		t.Errorf("exit after SIGTERM = %v, want status 0", err)
	}
	if strings.Contains(guarded.stderr.String(), token) {
		t.Error("the child's logs contain METRICS_TOKEN")
	}
}

// TestLambdaModeConfiguration: in Lambda (AWS_LAMBDA_RUNTIME_API set) no
// command and `serve` both mean Lambda mode, which loads and checks the
// configuration as serve does, before it talks to the Runtime API.
func TestLambdaModeConfiguration(t *testing.T) {
	t.Parallel()
	lambdaGetenv := func(vars map[string]string) func(string) string {
		return func(k string) string {
			if k == "AWS_LAMBDA_RUNTIME_API" {
				return "127.0.0.1:9" // never reached in this test
			}
			return vars[k]
		}
	}
	for _, args := range [][]string{nil, {"serve"}} {
		err := run(context.Background(), args, lambdaGetenv(nil), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "DATABASE_URL is required") || !strings.Contains(err.Error(), "SUPABASE_URL is required") {
			t.Errorf("run(%q) in Lambda without configuration = %v, want the errors of serve", args, err)
		}
	}

	var out bytes.Buffer
	vars := map[string]string{"DATABASE_URL": "postgres://app:hunter2hunter2@db.example:5432/postgres", "SUPABASE_URL": "https://ref.supabase.co"}
	if err := run(context.Background(), []string{"serve", "--print-config"}, lambdaGetenv(vars), &out, io.Discard); err != nil {
		t.Fatalf("serve --print-config in Lambda = %v", err)
	}
	if !strings.Contains(out.String(), "SUPABASE_URL=https://ref.supabase.co") || strings.Contains(out.String(), "hunter2") {
		t.Errorf("serve --print-config in Lambda printed:\n%s\nwant the configuration, password redacted", out.String())
	}

	// Without AWS_LAMBDA_RUNTIME_API nothing changes: no command is a usage error.
	if err := run(context.Background(), nil, func(string) string { return "" }, io.Discard, io.Discard); !errors.Is(err, errUsage) {
		t.Errorf("run() outside Lambda = %v, want a usage error", err)
	}
}
