package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/config"
)

// cmdHealthcheck asks a running server's /healthz and fails unless it answers
// 200: a container HEALTHCHECK for images without curl (distroless, scratch).
func cmdHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", "healthcheck [--url http://127.0.0.1:$PORT/healthz] [--timeout 3s]", stderr)
	url := fs.String("url", "", "the URL to ask; default http://127.0.0.1:$PORT/healthz")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *url == "" {
		// config.Load, not app.LoadConfig: the port is all it needs, and a
		// check run every few seconds must not read the secrets (a Secrets
		// Manager call each time) nor fail when they cannot be read.
		cfg, err := config.Load(getenv)
		if err != nil {
			return err
		}
		*url = "http://127.0.0.1:" + strconv.Itoa(cfg.Port) + "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return fmt.Errorf("%w: --url: %w", errUsage, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s answered %d", *url, resp.StatusCode)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
