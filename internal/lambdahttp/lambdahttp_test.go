package lambdahttp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
)

// seen is what a handler saw of its request.
type seen struct {
	method, path, rawQuery, requestURI, host, remoteAddr, proto string
	header                                                      http.Header
	contentLength                                               int64
	body                                                        string
	deadline                                                    time.Time
	event                                                       *events.APIGatewayV2HTTPRequest
}

func recordingHandler(got *seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*got = seen{
			method: r.Method, path: r.URL.Path, rawQuery: r.URL.RawQuery, requestURI: r.RequestURI,
			host: r.Host, remoteAddr: r.RemoteAddr, proto: r.Proto,
			header: r.Header.Clone(), contentLength: r.ContentLength, body: string(b),
		}
		got.deadline, _ = r.Context().Deadline()
		got.event, _ = Event(r.Context())
		w.WriteHeader(http.StatusNoContent)
	})
}

// functionURLEvent is a function URL event as AWS documents it, for POST
// /functions/v1/get-ivs-ingest.
func functionURLEvent() *events.APIGatewayV2HTTPRequest {
	return &events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RawPath:        "/functions/v1/get-ivs-ingest",
		RawQueryString: "a=1&a=2&b=x%20y",
		Cookies:        []string{"sb=1", "theme=dark"},
		Headers: map[string]string{
			"authorization":   "Bearer t0ken",
			"content-type":    "application/json",
			"content-length":  "999",
			"host":            "abcdefgh.lambda-url.us-east-1.on.aws",
			"accept-encoding": "gzip,br",
			"user-agent":      "supabase-js/2",
			"x-amzn-trace-id": "Root=1-5e9f0c65-1de4d666d4dd26aced652b6c",
			// What a client can send to pose as someone else, or as
			// the adapter's context.
			"x-forwarded-for":                    "6.6.6.6, 198.51.100.7",
			"x-forwarded-proto":                  "https",
			"x-forwarded-port":                   "443",
			"x-forwarded-host":                   "evil.example",
			"forwarded":                          "for=6.6.6.6",
			"x-real-ip":                          "6.6.6.6",
			"true-client-ip":                     "6.6.6.6",
			"x-amzn-request-context":             `{"http":{"sourceIp":"6.6.6.6"}}`,
			"x-golambdaproxy-apigateway-context": `{"identity":{"sourceIp":"6.6.6.6"}}`,
		},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID:    "123456789012",
			APIID:        "abcdefgh",
			DomainName:   "abcdefgh.lambda-url.us-east-1.on.aws",
			DomainPrefix: "abcdefgh",
			RequestID:    "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: "POST", Path: "/functions/v1/get-ivs-ingest", Protocol: "HTTP/1.1",
				SourceIP: "2001:db8::7", UserAgent: "supabase-js/2",
			},
		},
		Body:            base64.StdEncoding.EncodeToString([]byte(`{"showId":"x"}`)),
		IsBase64Encoded: true,
	}
}

func TestServeBuildsTheRequestNetHTTPWould(t *testing.T) {
	t.Parallel()
	var got seen
	h := New(recordingHandler(&got), nil)
	ev := functionURLEvent()
	lambdaDeadline := time.Now().Add(time.Minute)
	ctx, cancel := context.WithDeadline(context.Background(), lambdaDeadline)
	defer cancel()

	resp, err := h.Serve(ctx, ev)
	if err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("status = %d, want 204", resp.StatusCode)
	}
	want := seen{
		method: "POST", path: "/functions/v1/get-ivs-ingest", rawQuery: "a=1&a=2&b=x%20y",
		requestURI: "/functions/v1/get-ivs-ingest?a=1&a=2&b=x%20y",
		host:       "abcdefgh.lambda-url.us-east-1.on.aws", remoteAddr: "[2001:db8::7]:0", proto: "HTTP/1.1",
		header: http.Header{
			"Authorization":   {"Bearer t0ken"},
			"Content-Type":    {"application/json"},
			"Accept-Encoding": {"gzip,br"},
			"User-Agent":      {"supabase-js/2"},
			"X-Amzn-Trace-Id": {"Root=1-5e9f0c65-1de4d666d4dd26aced652b6c"},
			"Cookie":          {"sb=1; theme=dark"},
		},
		contentLength: int64(len(`{"showId":"x"}`)),
		body:          `{"showId":"x"}`,
	}
	gotCmp := got
	gotCmp.deadline, gotCmp.event = time.Time{}, nil
	if diff := cmp.Diff(want, gotCmp, cmp.AllowUnexported(seen{})); diff != "" {
		t.Errorf("request the handler saw (-want +got):\n%s", diff)
	}
	if got.event != ev {
		t.Errorf("Event(ctx) = %p, want the event served (%p)", got.event, ev)
	}
	if wantDeadline := lambdaDeadline.Add(-deadlineReserve); !got.deadline.Equal(wantDeadline) {
		t.Errorf("request deadline = %v, want %v (the Lambda deadline less the reserve)", got.deadline, wantDeadline)
	}
}

func TestServeRemoteAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ sourceIP, want string }{
		{"198.51.100.7", "198.51.100.7:0"},
		{"2001:db8::7", "[2001:db8::7]:0"},
		{"test-invoke-source-ip", ""}, // the console's test events
		{"", ""},
	} {
		var got seen
		ev := functionURLEvent()
		ev.RequestContext.HTTP.SourceIP = tc.sourceIP
		if _, err := New(recordingHandler(&got), nil).Serve(context.Background(), ev); err != nil {
			t.Fatalf("Serve(sourceIp %q) = %v", tc.sourceIP, err)
		}
		if got.remoteAddr != tc.want {
			t.Errorf("Serve(sourceIp %q): RemoteAddr = %q, want %q", tc.sourceIP, got.remoteAddr, tc.want)
		}
	}
}

func TestServeAnswers(t *testing.T) {
	t.Parallel()
	binary := []byte{0x1f, 0x8b, 0xff, 0x00, 0x01}
	for _, tc := range []struct {
		name    string
		method  string
		handler http.HandlerFunc
		want    Response
	}{
		{
			name: "json with cookies and repeated headers",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Add("Set-Cookie", "a=1; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT")
				w.Header().Add("Set-Cookie", "b=2")
				w.Header().Add("Vary", "Origin")
				w.Header().Add("Vary", "Accept-Encoding")
				w.WriteHeader(http.StatusCreated)
				w.Header().Set("X-Late", "not sent") // after WriteHeader, as over HTTP
				io.WriteString(w, `{"ok":true}`+"\n")
			},
			want: Response{
				StatusCode: http.StatusCreated,
				Headers:    map[string]string{"Content-Type": "application/json", "Vary": "Origin, Accept-Encoding"},
				Cookies:    []string{"a=1; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT", "b=2"},
				Body:       `{"ok":true}` + "\n",
			},
		},
		{
			name: "binary body goes base64",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/octet-stream")
				w.Write(binary)
			},
			want: Response{
				StatusCode: http.StatusOK, Headers: map[string]string{"Content-Type": "application/octet-stream"},
				Body: base64.StdEncoding.EncodeToString(binary), IsBase64Encoded: true,
			},
		},
		{
			name: "text that is not UTF-8 goes base64",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain; charset=latin1")
				w.Write([]byte("caf\xe9"))
			},
			want: Response{
				StatusCode: http.StatusOK, Headers: map[string]string{"Content-Type": "text/plain; charset=latin1"},
				Body: base64.StdEncoding.EncodeToString([]byte("caf\xe9")), IsBase64Encoded: true,
			},
		},
		{
			name: "no content type: sniffed as net/http does",
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "hello")
			},
			want: Response{
				StatusCode: http.StatusOK, Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"}, Body: "hello",
			},
		},
		{
			name: "no body allowed with 204",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNoContent)
				if _, err := io.WriteString(w, "dropped"); err != http.ErrBodyNotAllowed {
					t.Errorf("Write after 204 = %v, want ErrBodyNotAllowed", err)
				}
			},
			want: Response{StatusCode: http.StatusNoContent},
		},
		{
			name:   "HEAD: headers without the body",
			method: http.MethodHead,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"status":"ok"}`)
			},
			want: Response{StatusCode: http.StatusOK, Headers: map[string]string{"Content-Type": "application/json"}},
		},
		{
			name:    "nothing written: 200",
			handler: func(w http.ResponseWriter, r *http.Request) {},
			want:    Response{StatusCode: http.StatusOK},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := functionURLEvent()
			if tc.method != "" {
				ev.RequestContext.HTTP.Method = tc.method
			}
			got, err := New(tc.handler, nil).Serve(context.Background(), ev)
			if err != nil {
				t.Fatalf("Serve = %v", err)
			}
			if diff := cmp.Diff(tc.want, *got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInvokeRefusesWhatIsNotAnHTTPEvent(t *testing.T) {
	t.Parallel()
	called := false
	h := New(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }), nil)
	for _, payload := range []string{
		`{"not json: sk_us-east-1_secretvalue`,
		// API Gateway REST API (payload format 1.0)
		`{"resource":"/","path":"/","httpMethod":"GET","headers":{},"requestContext":{"httpMethod":"GET"}}`,
		// An event from another source
		`{"Records":[{"eventSource":"aws:s3"}]}`,
	} {
		out, err := h.Invoke(context.Background(), []byte(payload))
		if err == nil {
			t.Errorf("Invoke(%.40q) = %s, nil; want an error", payload, out)
			continue
		}
		if strings.Contains(err.Error(), "secretvalue") {
			t.Errorf("Invoke(%.40q) error %q quotes the payload", payload, err)
		}
	}
	if called {
		t.Error("the handler ran for an event that is not an HTTP payload 2.0 event")
	}
}

func TestInvokeMalformedRequestIs400(t *testing.T) {
	t.Parallel()
	for _, mutate := range []func(*events.APIGatewayV2HTTPRequest){
		func(ev *events.APIGatewayV2HTTPRequest) { ev.RequestContext.HTTP.Method = "NOT A METHOD" },
		func(ev *events.APIGatewayV2HTTPRequest) { ev.RawPath = "no-leading-slash" },
		func(ev *events.APIGatewayV2HTTPRequest) { ev.Body, ev.IsBase64Encoded = "***", true },
	} {
		ev := functionURLEvent()
		mutate(ev)
		var got seen
		resp, err := New(recordingHandler(&got), nil).Serve(context.Background(), ev)
		if err != nil || resp.StatusCode != http.StatusBadRequest || got.method != "" {
			t.Errorf("Serve(%s %q) = %+v, %v (handler saw %q); want a 400 without the handler", ev.RequestContext.HTTP.Method, ev.RawPath, resp, err, got.method)
		}
	}
}

func TestInvokeRoundTrip(t *testing.T) {
	t.Parallel()
	h := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, `{"path":"`+r.URL.Path+`"}`)
	}), nil)
	payload, err := json.Marshal(functionURLEvent())
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("Invoke = %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("Invoke answered %s: %v", out, err)
	}
	want := map[string]any{
		"statusCode":      float64(418),
		"headers":         map[string]any{"Content-Type": "application/json"},
		"body":            `{"path":"/functions/v1/get-ivs-ingest"}`,
		"isBase64Encoded": false,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Invoke answer (-want +got):\n%s", diff)
	}
}

func TestInvokeSurvivesAPanic(t *testing.T) {
	t.Parallel()
	h := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		w.WriteHeader(http.StatusOK)
	}), nil)
	ev := functionURLEvent()
	ev.RawPath = "/panic"
	if _, err := h.Serve(context.Background(), ev); err == nil {
		t.Error("Serve of a panicking handler = nil error, want one (a failed invocation)")
	}
	ev.RawPath = "/fine"
	if resp, err := h.Serve(context.Background(), ev); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("Serve after a panic = %+v, %v; want 200", resp, err)
	}
}

// TestLambdaDeadlineBoundsTheRequest: a handler that works until its context
// ends answers before the Lambda deadline, so the client gets the service's
// answer, not AWS's timeout.
func TestLambdaDeadlineBoundsTheRequest(t *testing.T) {
	t.Parallel()
	h := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		w.WriteHeader(http.StatusServiceUnavailable)
	}), nil)
	lambdaDeadline := time.Now().Add(2500 * time.Millisecond)
	ctx, cancel := context.WithDeadline(context.Background(), lambdaDeadline)
	defer cancel()
	resp, err := h.Serve(ctx, functionURLEvent())
	answered := time.Now()
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("Serve = %+v, %v; want the handler's 503", resp, err)
	}
	if left := lambdaDeadline.Sub(answered); left < deadlineReserve/2 {
		t.Errorf("answered %v before the Lambda deadline, want about %v", left, deadlineReserve)
	}
}

func TestRequestDeadline(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ left, want time.Duration }{
		{15 * time.Minute, 15*time.Minute - deadlineReserve},
		{3 * time.Second, 2 * time.Second},
		{2 * time.Second, time.Second}, // short: half the time
		{time.Second, 500 * time.Millisecond},
		{-time.Second, -500 * time.Millisecond}, // already late: ends at once
	} {
		if got := requestDeadline(now, now.Add(tc.left)).Sub(now); got != tc.want {
			t.Errorf("requestDeadline with %v left = now+%v, want now+%v", tc.left, got, tc.want)
		}
	}
}

func TestDrain(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{})
	h := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		w.WriteHeader(http.StatusOK)
	}), nil)
	payload, _ := json.Marshal(functionURLEvent())
	invoked := make(chan error, 1)
	go func() {
		_, err := h.Invoke(context.Background(), payload)
		invoked <- err
	}()
	<-started

	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.Drain(short); err == nil {
		t.Error("Drain with an invocation in flight = nil before it ended, want a timeout")
	}
	close(release)
	if err := h.Drain(context.Background()); err != nil {
		t.Errorf("Drain after the invocation ended = %v", err)
	}
	if err := <-invoked; err != nil {
		t.Errorf("the invocation in flight = %v, want it served", err)
	}
	if _, err := h.Invoke(context.Background(), payload); err == nil {
		t.Error("Invoke after Drain = nil error, want a refusal")
	}
}
