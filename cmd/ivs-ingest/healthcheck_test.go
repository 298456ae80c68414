package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	s := serve(t, env.Getenv(nil))
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}

	// As a HEALTHCHECK runs it: no flags, the port from PORT.
	var out bytes.Buffer
	if err := run(context.Background(), []string{"healthcheck"}, env.Getenv(map[string]string{"PORT": u.Port()}), &out, io.Discard); err != nil {
		t.Fatalf("healthcheck against a serving server = %v, want nil", err)
	}
	if out.String() != "ok\n" {
		t.Errorf("healthcheck printed %q, want \"ok\\n\"", out.String())
	}

	// A server that answers something else than 200 is unhealthy.
	err = run(context.Background(), []string{"healthcheck", "--url", s.URL + "/functions/v1/get-ivs-ingest"}, env.Getenv(nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "answered 405") || exitCode(err) != 1 {
		t.Errorf("healthcheck of a 405 = %v, want an exit-1 error saying it answered 405", err)
	}

	// Nobody listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	err = run(context.Background(), []string{"healthcheck", "--url", "http://" + closed + "/healthz"}, env.Getenv(nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "connection refused") || exitCode(err) != 1 {
		t.Errorf("healthcheck of a closed port = %v, want an exit-1 error saying the connection was refused", err)
	}
}
