// Package postgres is the production store of ivs-ingest, on PostgreSQL
// through pgx. It works through a transaction-mode pooler (Supavisor,
// PgBouncer): no named prepared statements, no session-level locks or SET.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// Options tunes the connection pool.
type Options struct {
	// MaxConns caps the pool (DATABASE_MAX_CONNS); 0 means 20.
	MaxConns int32
	// ConnectTimeout bounds establishing one connection; 0 means 5s.
	ConnectTimeout time.Duration
}

// DB is the store. It is safe for concurrent use.
type DB struct {
	pool *pgxpool.Pool
	// hasSessions records whether auth.sessions exists, so the
	// authorization query can check that the caller has not signed out.
	hasSessions bool
	authzSQL    map[bool]string // by whether the caller impersonates
	// lockSlots caps how many connections may sit in a channel lock (each
	// waits on IVS calls) so that a burst of first requests leaves the rest
	// of the pool to the one-query hot path.
	lockSlots chan struct{}
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
	// Why: transaction-mode poolers hand each transaction to any server
	// connection, so statements must not be prepared by name.
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	cfg.ConnConfig.StatementCacheCapacity = 0
	cfg.ConnConfig.DescriptionCacheCapacity = 0
	// pgxpool pings a connection idle for over a second before handing it
	// out: a second round trip on the hot path of a quiet server. A dead
	// connection fails its query instead, and the pool replaces it.
	cfg.ShouldPing = func(_ context.Context, p pgxpool.ShouldPingParams) bool { return p.IdleDuration > time.Minute }

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db := &DB{pool: pool, lockSlots: make(chan struct{}, max(1, opts.MaxConns/2))}
	pctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	var readable bool
	err = pool.QueryRow(pctx, `SELECT to_regclass('auth.sessions') IS NOT NULL,
		coalesce(has_table_privilege(to_regclass('auth.sessions'), 'SELECT'), false)`).Scan(&db.hasSessions, &readable)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if db.hasSessions && !readable {
		// Skipping the check would silently let signed-out sessions in.
		pool.Close()
		return nil, errors.New("the database role cannot read auth.sessions, which the sign-out check needs: GRANT SELECT ON auth.sessions TO <the role in DATABASE_URL>")
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
	db.authzSQL = map[bool]string{
		false: authzQuery(db.hasSessions, false, uniqueUser),
		true:  authzQuery(db.hasSessions, true, uniqueUser),
	}
	return db, nil
}

// Close closes the pool.
func (db *DB) Close() { db.pool.Close() }

// Stat returns the connection pool's figures.
func (db *DB) Stat() *pgxpool.Stat { return db.pool.Stat() }

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// ChecksSessions reports whether the authorization query checks auth.sessions.
func (db *DB) ChecksSessions() bool { return db.hasSessions }

// authzQuery reads every fact one authorization needs in one round trip:
// whether the session is live, whether the caller is an admin, the caller's
// (or the impersonated) seller profile, and the show. Each variant holds
// only what it needs, so that PostgreSQL plans it cheaply: this query is
// most of the database's work per request.
// Parameters: $1 user id, $2 show id, $3 the impersonated seller id when
// impersonating, then the session id when sessions are checked.
func authzQuery(checkSessions, impersonating, uniqueSellerUser bool) string {
	next := 3
	seller := `LEFT JOIN public.sellers se ON se.user_id = $1::uuid`
	switch {
	case impersonating:
		seller = `LEFT JOIN public.sellers se ON se.id = $3::uuid`
		next = 4
	case !uniqueSellerUser:
		// An existing schema may lack UNIQUE (user_id): then the answer
		// must not depend on row order, and a doubt denies.
		seller = `LEFT JOIN LATERAL (SELECT s.id, s.status FROM public.sellers s WHERE s.user_id = $1::uuid
	ORDER BY s.status::text = 'approved', s.id LIMIT 1) se ON true`
	}
	session := `true`
	if checkSessions {
		p := fmt.Sprintf("$%d::uuid", next)
		session = `(` + p + ` IS NOT NULL AND EXISTS (
			SELECT 1 FROM auth.sessions s WHERE s.id = ` + p + ` AND s.user_id = $1::uuid))`
	}
	// Casts to text let enum-typed role and status columns compare too.
	return `SELECT ` + session + `,
	EXISTS (SELECT 1 FROM public.user_roles r WHERE r.user_id = $1::uuid AND r.role::text = 'admin'),
	se.id::text, se.status::text,
	` + showColumns + `
FROM (VALUES (1)) AS one (x)
` + seller + `
LEFT JOIN public.shows sh ON sh.id = $2::uuid
LEFT JOIN ivs_ingest.stream_keys k ON k.key_arn = sh.ivs_stream_key_arn`
}

// showColumns reads a show (aliased sh) as scanShow expects it: with when its
// key was first seen (k, joined on sh's key) and whether another seller's
// show names the same channel, which the partial index on
// shows (ivs_channel_arn) answers.
const showColumns = `sh.id::text, sh.seller_id::text, sh.ivs_channel_arn, sh.ivs_ingest_endpoint, sh.ivs_stream_key_arn, k.first_seen_at,
	EXISTS (SELECT 1 FROM public.shows o WHERE o.ivs_channel_arn = sh.ivs_channel_arn AND o.seller_id <> sh.seller_id)`

// scannedShow receives showColumns.
type scannedShow struct {
	id, seller, channelARN, endpoint, keyARN *string
	firstSeen                                *time.Time
	shared                                   bool
}

func (s *scannedShow) dest() []any {
	return []any{&s.id, &s.seller, &s.channelARN, &s.endpoint, &s.keyARN, &s.firstSeen, &s.shared}
}

// show returns the scanned show; nil when there was none.
func (s *scannedShow) show() *ingest.Show {
	if s.id == nil {
		return nil
	}
	sh := &ingest.Show{
		ID:             *s.id,
		SellerID:       deref(s.seller),
		ChannelARN:     deref(s.channelARN),
		IngestEndpoint: deref(s.endpoint),
		StreamKeyARN:   deref(s.keyARN),
		ChannelShared:  s.shared,
	}
	if s.firstSeen != nil {
		sh.KeyFirstSeen = *s.firstSeen
	}
	return sh
}

// Authorize implements ingest.Store.
func (db *DB) Authorize(ctx context.Context, q ingest.AuthzQuery) (ingest.AuthzFacts, error) {
	return db.authorize(ctx, db.pool, q)
}

// authorize runs the authorization query with qr: the pool, or a channel
// section's transaction.
func (db *DB) authorize(ctx context.Context, qr querier, q ingest.AuthzQuery) (ingest.AuthzFacts, error) {
	args := []any{q.UserID, q.ShowID}
	impersonating := q.ImpersonatedSellerID != ""
	if impersonating {
		args = append(args, q.ImpersonatedSellerID)
	}
	if db.hasSessions {
		args = append(args, nullable(q.SessionID))
	}
	var (
		f                      ingest.AuthzFacts
		sellerID, sellerStatus *string
		show                   scannedShow
	)
	err := qr.QueryRow(ctx, db.authzSQL[impersonating], args...).Scan(
		append([]any{&f.SessionActive, &f.IsAdmin, &sellerID, &sellerStatus}, show.dest()...)...)
	if err != nil {
		return ingest.AuthzFacts{}, fmt.Errorf("authorization query: %w", err)
	}
	if sellerID != nil {
		f.Seller = &ingest.Seller{ID: *sellerID, Status: deref(sellerStatus)}
	}
	f.Show = show.show()
	return f, nil
}

// NoteKeySeen implements ingest.Store.
func (db *DB) NoteKeySeen(ctx context.Context, keyARN, channelARN string) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO ivs_ingest.stream_keys (key_arn, channel_arn) VALUES ($1, $2) ON CONFLICT (key_arn) DO NOTHING`,
		keyARN, channelARN)
	if err != nil {
		return fmt.Errorf("note stream key: %w", err)
	}
	return nil
}

// ShowsWithKeysOlderThan implements ingest.Store.
func (db *DB) ShowsWithKeysOlderThan(ctx context.Context, age time.Duration) ([]ingest.Show, error) {
	return db.shows(ctx, `JOIN ivs_ingest.stream_keys k ON k.key_arn = sh.ivs_stream_key_arn
		WHERE sh.ivs_channel_arn IS NOT NULL AND k.first_seen_at < now() - $1::interval`, age)
}

// ShowsWithoutKey implements ingest.Store.
func (db *DB) ShowsWithoutKey(ctx context.Context) ([]ingest.Show, error) {
	return db.shows(ctx, `WHERE sh.ivs_channel_arn IS NOT NULL AND sh.ivs_channel_arn <> '' AND coalesce(sh.ivs_stream_key_arn, '') = ''`)
}

// Show implements ingest.Store.
func (db *DB) Show(ctx context.Context, id string) (ingest.Show, bool, error) {
	shows, err := db.shows(ctx, `WHERE sh.id = $1::uuid`, id)
	if err != nil || len(shows) == 0 {
		return ingest.Show{}, false, err
	}
	return shows[0], true, nil
}

// shows lists the shows a FROM-clause tail selects, for batch commands.
func (db *DB) shows(ctx context.Context, tail string, args ...any) ([]ingest.Show, error) {
	rows, err := db.pool.Query(ctx, `SELECT sh.id::text, sh.seller_id::text, coalesce(sh.ivs_channel_arn, ''),
		coalesce(sh.ivs_ingest_endpoint, ''), coalesce(sh.ivs_stream_key_arn, '')
		FROM public.shows sh `+tail+` ORDER BY sh.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list shows: %w", err)
	}
	shows, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ingest.Show, error) {
		var s ingest.Show
		err := r.Scan(&s.ID, &s.SellerID, &s.ChannelARN, &s.IngestEndpoint, &s.StreamKeyARN)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("list shows: %w", err)
	}
	return shows, nil
}

// SetIngestEndpoint implements ingest.Store.
func (db *DB) SetIngestEndpoint(ctx context.Context, showID, endpoint string) error {
	_, err := db.pool.Exec(ctx, `UPDATE public.shows SET ivs_ingest_endpoint = $2
		WHERE id = $1::uuid AND ivs_ingest_endpoint IS DISTINCT FROM $2`, showID, endpoint)
	if err != nil {
		return fmt.Errorf("update ingest endpoint: %w", err)
	}
	return nil
}

// WithChannelLock implements ingest.Store with a transaction-scoped advisory
// lock, which is safe through a transaction-mode pooler and is released by
// commit, rollback or a dropped connection.
func (db *DB) WithChannelLock(ctx context.Context, channelARN string, fn func(ingest.ChannelTx) error) error {
	select {
	case db.lockSlots <- struct{}{}:
		defer func() { <-db.lockSlots }()
	case <-ctx.Done():
		return fmt.Errorf("wait for a channel lock slot: %w", ctx.Err())
	}
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('ivs-ingest/channel/' || $1, 0))`, channelARN); err != nil {
			return fmt.Errorf("lock channel: %w", err)
		}
		return fn(channelTx{db: db, tx: tx})
	})
}

type channelTx struct {
	db *DB
	tx pgx.Tx
}

// Authorize implements ingest.ChannelTx: the authorization query in the
// section's transaction, after the show's row is locked (see Show) so that
// it cannot be moved until the section ends.
func (c channelTx) Authorize(ctx context.Context, q ingest.AuthzQuery) (ingest.AuthzFacts, error) {
	if _, err := c.tx.Exec(ctx, `SELECT FROM public.shows WHERE id = $1::uuid FOR NO KEY UPDATE`, q.ShowID); err != nil {
		return ingest.AuthzFacts{}, fmt.Errorf("lock show: %w", err)
	}
	return c.db.authorize(ctx, c.tx, q)
}

// Show implements ingest.ChannelTx. The row lock keeps the show from being
// moved to another seller or channel until the section ends. Why FOR NO KEY
// UPDATE, not FOR SHARE: the section updates the row later (its key), and a
// transaction that updates a row it holds FOR SHARE leaves a MultiXact on
// it, which every later read of the row must resolve until vacuum: the hot
// path would pay for it on each request.
func (c channelTx) Show(ctx context.Context, showID string) (ingest.Show, bool, error) {
	var show scannedShow
	err := c.tx.QueryRow(ctx, `SELECT `+showColumns+`
	FROM public.shows sh LEFT JOIN ivs_ingest.stream_keys k ON k.key_arn = sh.ivs_stream_key_arn
	WHERE sh.id = $1::uuid FOR NO KEY UPDATE OF sh`, showID).Scan(show.dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return ingest.Show{}, false, nil
	}
	if err != nil {
		return ingest.Show{}, false, fmt.Errorf("read show: %w", err)
	}
	return *show.show(), true, nil
}

func (c channelTx) ReserveKeyCreation(ctx context.Context, sellerID string, limit int, window time.Duration) (int64, time.Duration, error) {
	return reserveKeyCreation(ctx, c.tx, sellerID, limit, window)
}

func (c channelTx) CancelKeyCreation(ctx context.Context, id int64) error {
	if _, err := c.tx.Exec(ctx, `DELETE FROM ivs_ingest.key_creations WHERE id = $1`, id); err != nil {
		return fmt.Errorf("cancel key creation: %w", err)
	}
	return nil
}

func (c channelTx) WriteAudit(ctx context.Context, e ingest.AuditEntry) error {
	return insertAudit(ctx, c.tx, e)
}

func (c channelTx) StreamKeyARN(ctx context.Context, showID string) (string, error) {
	var arn *string
	err := c.tx.QueryRow(ctx, `SELECT ivs_stream_key_arn FROM public.shows WHERE id = $1::uuid`, showID).Scan(&arn)
	if err != nil {
		return "", fmt.Errorf("read stream key arn: %w", err)
	}
	return deref(arn), nil
}

func (c channelTx) RecordStreamKey(ctx context.Context, showID, keyARN, endpoint string) error {
	_, err := c.tx.Exec(ctx, `UPDATE public.shows SET ivs_stream_key_arn = NULLIF($2, ''), ivs_ingest_endpoint = NULLIF($3, '') WHERE id = $1::uuid`,
		showID, keyARN, endpoint)
	if err != nil {
		return fmt.Errorf("record stream key: %w", err)
	}
	return nil
}

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
