package main

import (
	"context"
	"io"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ivs-ingest/ivs-ingest/internal/app"
	"github.com/ivs-ingest/ivs-ingest/internal/lambdahttp"
	"github.com/ivs-ingest/ivs-ingest/internal/version"
)

// lambdaShutdownGrace is how long invocations in flight may run after
// SIGTERM before the service they use is closed. Lambda sends SIGKILL about
// 500 ms after SIGTERM, and closing the database pool needs some of that.
const lambdaShutdownGrace = 300 * time.Millisecond

// inLambda reports whether the process is a Lambda function's: Lambda sets
// AWS_LAMBDA_RUNTIME_API, the address of its Runtime API, for the runtime.
func inLambda(getenv func(string) string) bool {
	return getenv("AWS_LAMBDA_RUNTIME_API") != ""
}

// cmdLambda serves the HTTP API to Lambda function URLs and API Gateway HTTP
// APIs (payload format 2.0): the handler `serve` builds, over the same
// configuration, behind internal/lambdahttp instead of a listener. Lambda
// runs the `bootstrap` file with no arguments; `serve` is accepted too, so
// one command line works in and out of Lambda.
//
// AWS credentials: Lambda puts the execution role's temporary credentials in
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (reserved
// variables: no static key can be configured there), and the configuration
// passes all three, session token included, to the IVS client, as the SDK's
// default chain would itself read them from the environment. Nothing else is
// needed.
//
// GET /metrics is served only when METRICS_TOKEN is set (404 otherwise).
//
// On SIGTERM (which Lambda sends before stopping the environment, because
// the runtime registers for it with lambda.WithEnableSIGTERM) it lets
// invocations in flight finish for up to lambdaShutdownGrace, closes the
// service and returns nil.
func cmdLambda(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	// Why /metrics needs METRICS_TOKEN here: a function URL is public, and
	// unlike a replica's port it sits behind no network boundary that could
	// stand in for the token.
	a, cfg, logger, err := prepareServe(ctx, "serve [--print-config]  (in Lambda, where AWS_LAMBDA_RUNTIME_API is set)", args, getenv, stdout, stderr,
		app.WithMetricsOnlyBehindToken())
	if err != nil || a == nil {
		return err
	}

	// IVS events a rule hands the function directly: the invoke permission
	// is their authentication (deploy/lambda/template.yaml).
	h := lambdahttp.New(a.Handler, logger, lambdahttp.WithEventBridge(a.ReceiveEvent))
	// The runtime loop never returns: it exits the process itself if the
	// Runtime API fails. It reads AWS_LAMBDA_RUNTIME_API from the process's
	// environment, which is what getenv reads when main calls run.
	//
	// Invocations are not cancelled by SIGTERM (their context is detached
	// from ctx): Drain below gives them their grace period. Each one is
	// bounded by its Lambda deadline, which lambdahttp passes on, and by the
	// service's own request timeout.
	go lambda.StartWithOptions(h,
		lambda.WithContext(context.WithoutCancel(ctx)),
		lambda.WithEnableSIGTERM())
	logger.Info("serving lambda events", "version", version.String(), "aws_region", cfg.AWSRegion)

	<-ctx.Done()
	logger.Info("shutting down", "grace", lambdaShutdownGrace.String())
	dctx, cancelDrain := context.WithTimeout(context.WithoutCancel(ctx), lambdaShutdownGrace)
	defer cancelDrain()
	if err := h.Drain(dctx); err != nil {
		logger.Warn("closing with invocations still running", "error", err.Error())
	}
	a.Close()
	logger.Info("stopped")
	return nil
}
