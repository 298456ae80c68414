// Package app assembles ivs-ingest from its configuration: the store, the
// token verifier, the IVS client, the domain service and the HTTP handler.
// The serve command and the end-to-end tests build the service through it,
// so both run the same wiring.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/ivs-ingest/ivs-ingest/internal/auth"
	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/httpapi"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ivs"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
)

// App is the assembled service.
type App struct {
	Handler http.Handler
	DB      *postgres.DB

	verifier *auth.Verifier
}

// New connects to the database, refuses an outdated schema, and assembles
// the service. cfg must satisfy cfg.RequireServe. Close releases what New
// opened.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger) (*App, error) {
	db, err := postgres.Open(ctx, cfg.DatabaseURL.Reveal(), postgres.Options{MaxConns: cfg.DatabaseMaxConns})
	if err != nil {
		return nil, err
	}
	if err := db.CheckSchema(ctx); err != nil {
		db.Close()
		return nil, err
	}
	verifier, err := auth.New(context.WithoutCancel(ctx), auth.Config{
		Issuer:          cfg.JWTIssuer,
		JWKSURL:         cfg.JWKSURL,
		HS256Secret:     cfg.JWTSecret,
		RefetchInterval: cfg.JWKSRefetchInterval,
		Logger:          logger,
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("token verification: %w", err)
	}
	ivsClient, err := ivs.New(ctx, ivs.Config{
		Region:          cfg.AWSRegion,
		Endpoint:        cfg.AWSEndpointIVS,
		AccessKeyID:     cfg.AWSAccessKeyID,
		SecretAccessKey: cfg.AWSSecretAccessKey,
		SessionToken:    cfg.AWSSessionToken,
	})
	if err != nil {
		verifier.Close()
		db.Close()
		return nil, err
	}
	svc := ingest.NewService(db, ivsClient, ingest.Options{KeyCacheTTL: cfg.StreamKeyCacheTTL, Logger: logger})
	handler := httpapi.NewServer(httpapi.Config{AllowedOrigins: cfg.CORSAllowedOrigins, Logger: logger}, verifier, svc, db.Ping)
	return &App{Handler: handler, DB: db, verifier: verifier}, nil
}

// Close stops background work and closes the database pool.
func (a *App) Close() {
	a.verifier.Close()
	a.DB.Close()
}
