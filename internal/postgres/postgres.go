// Package postgres is the production store of ivs-ingest, on PostgreSQL
// through pgx. It works through a transaction-mode pooler (Supavisor,
// PgBouncer): no named prepared statements unless Options.PreparedStatements
// says the connection keeps them, no session-level locks or SET.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options tunes the connection pool.
type Options struct {
	// MaxConns caps the pool (DATABASE_MAX_CONNS); 0 means 20.
	MaxConns int32
	// ConnectTimeout bounds establishing one connection; 0 means 5s.
	ConnectTimeout time.Duration
	// PreparedStatements (DATABASE_PREPARED_STATEMENTS) prepares each
	// statement once per connection and reuses it: only for a connection
	// that keeps prepared statements (direct, session mode, or a pooler
	// that tracks protocol-level prepared statements).
	PreparedStatements bool
}

// DB is the store. It is safe for concurrent use.
type DB struct {
	pool *pgxpool.Pool
	// hasSessions records whether auth.sessions exists, so the
	// authorization query can check that the caller has not signed out.
	hasSessions bool
	authzSQL    string // see authzQuery
	// preparedAuthzSQL, by whether the caller impersonates, is used instead
	// of authzSQL when statements are prepared; nil otherwise.
	preparedAuthzSQL map[bool]string
	// lockSlots caps how many connections may sit in a channel lock (each
	// waits on IVS calls) so that a burst of first requests leaves the rest
	// of the pool to the one-query hot path.
	lockSlots chan struct{}
	// audit group-commits the audit rows of WriteAudit.
	audit *auditBatcher
}

// Open connects to the database at url and checks that it answers.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("parse DATABASE_URL: invalid PostgreSQL URL")
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 20
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 5 * time.Second
	}
	cfg.MaxConns = opts.MaxConns
	cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	if opts.PreparedStatements {
		// Named statements, prepared once per connection: PostgreSQL
		// parses and plans each of them once, not on every request.
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
	} else {
		// Why: transaction-mode poolers hand each transaction to any server
		// connection, so statements must not be prepared by name. Exec mode
		// sends each statement unnamed (Parse, Bind, Execute in one round
		// trip), with the parameters' types from the statement's own casts.
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
		cfg.ConnConfig.StatementCacheCapacity = 0
		cfg.ConnConfig.DescriptionCacheCapacity = 0
	}
	// pgxpool pings a connection idle for over a second before handing it
	// out: a second round trip on the hot path of a quiet server. A dead
	// connection fails its query instead, and the pool replaces it.
	cfg.ShouldPing = func(_ context.Context, p pgxpool.ShouldPingParams) bool { return p.IdleDuration > time.Minute }

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db := &DB{pool: pool, lockSlots: make(chan struct{}, max(1, opts.MaxConns/2)), audit: newAuditBatcher(pool)}
	pctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	if err := db.inspectSessions(pctx); err != nil {
		pool.Close()
		return nil, err
	}
	// sellers.user_id is unique in the contract; an existing schema may
	// not say so, and then the query must choose among duplicates. A partial
	// index (UNIQUE (user_id) WHERE deleted_at IS NULL, a common soft
	// delete) or an expression index is not uniqueness of the column.
	var uniqueUser bool
	err = pool.QueryRow(pctx, `SELECT EXISTS (
		SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
		WHERE i.indrelid = to_regclass('public.sellers') AND i.indisunique AND i.indnkeyatts = 1 AND a.attname = 'user_id'
		AND i.indpred IS NULL AND i.indexprs IS NULL)`).Scan(&uniqueUser)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("inspect public.sellers: %w", err)
	}
	db.authzSQL = authzQuery(db.hasSessions, uniqueUser)
	if opts.PreparedStatements {
		db.preparedAuthzSQL = map[bool]string{
			false: preparedAuthzQuery(db.hasSessions, false, uniqueUser),
			true:  preparedAuthzQuery(db.hasSessions, true, uniqueUser),
		}
	}
	return db, nil
}

// inspectSessions records whether auth.sessions exists, and refuses a role
// that cannot read it: skipping the sign-out check would silently let
// signed-out sessions in. It reads the catalogs rather than resolving the
// name, which without USAGE on schema auth fails with "permission denied
// for schema auth" and names no fix; the error names the grants missing,
// the role and the schema's owner, who can grant them.
func (db *DB) inspectSessions(ctx context.Context) error {
	var usable, readable bool
	var role, owner string
	err := db.pool.QueryRow(ctx, `SELECT c.oid IS NOT NULL,
		coalesce(has_schema_privilege(n.oid, 'USAGE'), false),
		coalesce(has_table_privilege(c.oid, 'SELECT'), false),
		quote_ident(current_user), coalesce(quote_ident(pg_get_userbyid(n.nspowner)), '')
	FROM (SELECT) one
	LEFT JOIN pg_namespace n ON n.nspname = 'auth'
	LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = 'sessions'`).Scan(&db.hasSessions, &usable, &readable, &role, &owner)
	if err != nil {
		return fmt.Errorf("connect to database: %w", err)
	}
	if !db.hasSessions || usable && readable {
		return nil
	}
	var lacks, grants []string
	if !usable {
		lacks = append(lacks, `USAGE on schema auth ("permission denied for schema auth")`)
		grants = append(grants, "GRANT USAGE ON SCHEMA auth TO "+role)
	}
	if !readable {
		lacks = append(lacks, "SELECT on auth.sessions")
		grants = append(grants, "GRANT SELECT ON auth.sessions TO "+role)
	}
	return fmt.Errorf("the database role %s cannot read auth.sessions, which the sign-out check needs: it lacks %s; "+
		"as auth's owner (%s) or a superuser, run: %s", role, strings.Join(lacks, " and "), owner, strings.Join(grants, "; "))
}

// Close writes the audit rows still queued, then closes the pool.
func (db *DB) Close() {
	db.audit.drain()
	db.pool.Close()
}

// Stat returns the connection pool's figures.
func (db *DB) Stat() *pgxpool.Stat { return db.pool.Stat() }

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// ChecksSessions reports whether the authorization query checks auth.sessions.
func (db *DB) ChecksSessions() bool { return db.hasSessions }

// querier is a pool, a connection or a transaction, for statements that run
// on any of them.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
