package app

import (
	"context"

	"github.com/ivs-ingest/ivs-ingest/internal/budget"
	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/limit"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/sqlite"
	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
)

// Store is what the service needs of a store.
type Store interface {
	ingest.Store
	ingest.AuditPruner
	DataKeyStore
	streamstatus.Store
	Ping(ctx context.Context) error
}

// Parts are what the service runs over: the store, and where the state that
// replicas must share is kept. Where that state lives is a deployment
// decision, so the caller that opened the store chooses it (PostgresParts,
// SQLiteParts); a nil part is kept in this process's memory, which is right
// only when one process uses the store.
type Parts struct {
	Store Store
	// Slots holds the IVS call budget's schedules, one per region
	// (IVS_MAX_CALLS_PER_SECOND is for all replicas together, in each
	// region); nil for this process's memory.
	Slots budget.Schedules
	// Limits keeps the rate limits: each seller's share of the IVS budget,
	// revocations per show, and the request limits when
	// RATE_LIMIT_STORE=database (which refuses to start without it); nil
	// for this process's memory.
	Limits limit.Source
	// Leases lets one replica at a time prune the audit trail and
	// reconcile the stream states; nil for no lease.
	Leases ingest.Leaser
	// SweepLimits deletes paid-off rate limits with each audit pruning; nil
	// for none (memory forgets them itself).
	SweepLimits func(ctx context.Context) (int64, error)
}

// PostgresParts are the parts over the PostgreSQL store: it keeps the call
// budget, the rate limits and the pruning lease for every replica on it.
func PostgresParts(db *postgres.DB) Parts {
	return Parts{Store: db, Slots: db, Limits: db, Leases: db, SweepLimits: db.PruneRateLimits}
}

// SQLiteParts are the parts over the embedded store, which one process
// holds: everything else stays in that process's memory.
func SQLiteParts(db *sqlite.DB) Parts {
	return Parts{Store: db}
}

// OpenPostgres connects to DATABASE_URL's PostgreSQL, its pool sized by
// DATABASE_MAX_CONNS unless opts.MaxConns says otherwise, with prepared
// statements when DATABASE_PREPARED_STATEMENTS (or opts) says so. It does not check
// the schema version (Open and OpenDomain do; doctor reports it apart).
func OpenPostgres(ctx context.Context, cfg config.Config, opts postgres.Options) (*postgres.DB, error) {
	if opts.MaxConns == 0 {
		opts.MaxConns = cfg.DatabaseMaxConns
	}
	opts.PreparedStatements = opts.PreparedStatements || cfg.DatabasePreparedStatements
	return postgres.Open(ctx, cfg.DatabaseURL.Reveal(), opts)
}

// openChecked is OpenPostgres refusing a schema older than this binary.
func openChecked(ctx context.Context, cfg config.Config) (*postgres.DB, error) {
	db, err := OpenPostgres(ctx, cfg, postgres.Options{})
	if err != nil {
		return nil, err
	}
	if err := db.CheckSchema(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenSQLite opens (creating it if need be) the embedded store at path, for
// `ivs-ingest dev`.
func OpenSQLite(ctx context.Context, path string) (*sqlite.DB, error) {
	return sqlite.Open(ctx, path)
}
