package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/app"
	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/httpapi"
	"github.com/ivs-ingest/ivs-ingest/internal/logging"
	"github.com/ivs-ingest/ivs-ingest/internal/version"
)

// prepareServe does what serving takes before it serves, for `serve` and
// for Lambda mode alike: serve's flags, the configuration, the logger and the
// assembled service. It returns a nil App and no error when --print-config
// printed the configuration and there is nothing to serve.
func prepareServe(ctx context.Context, synopsis string, args []string, getenv func(string) string, stdout, stderr io.Writer, opts ...app.Option) (*app.App, config.Config, *slog.Logger, error) {
	fs := newFlagSet("serve", synopsis, stderr)
	printConfig := fs.Bool("print-config", false, "print the effective configuration, secrets redacted, and exit")
	if err := parseFlags(fs, args); err != nil {
		return nil, config.Config{}, nil, err
	}
	cfg, err := app.LoadConfig(ctx, getenv)
	if err == nil && *printConfig {
		return nil, cfg, nil, cfg.Print(stdout)
	}
	if err == nil {
		err = cfg.RequireServe()
	}
	if err != nil {
		return nil, cfg, nil, fmt.Errorf("configuration: %w", err)
	}
	logger := logging.New(stderr, cfg.LogLevel)
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	a, err := app.Open(startCtx, cfg, logger, opts...)
	if err != nil {
		return nil, cfg, nil, err
	}
	return a, cfg, logger, nil
}

// shutdownGrace is how long in-flight requests may run after SIGTERM.
const shutdownGrace = 15 * time.Second

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	a, cfg, logger, err := prepareServe(ctx, "serve [--print-config]", args, getenv, stdout, stderr)
	if err != nil || a == nil {
		return err
	}
	defer a.Close()
	// One replica at a time deletes, through a lease; Close stops it.
	a.StartAuditRetention(app.AuditRetentionInterval)
	// Stream states: healed from ListStreams one replica at a time, and
	// fed from the SQS queue when there is one (docs/stream-status.md).
	a.StartStreamReconcile(cfg.StreamReconcileInterval())
	if err := a.StartEventQueue(ctx, cfg); err != nil {
		return err
	}

	if cfg.PprofAddr != "" {
		stop, _, err := startPprof(cfg.PprofAddr, logger)
		if err != nil {
			return err
		}
		defer stop()
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := httpapi.NewHTTPServer(ln.Addr().String(), a.Handler, a.RequestTimeout, logger)
	logger.Info("listening", "addr", ln.Addr().String(), "version", version.String(), "aws_region", cfg.AWSRegion)
	return serveUntilDone(ctx, srv, ln, logger)
}

// serveUntilDone serves on ln until ctx ends, then stops accepting and lets
// in-flight requests finish for up to shutdownGrace.
func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener, logger *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", shutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// The grace period is over: cut what is still running. Stopping
		// is still the orderly end the operator asked for, so exit 0.
		logger.Warn("requests still running after the grace period were cut", "error", err.Error())
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}
