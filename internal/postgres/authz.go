package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// authzQuery reads every fact one authorization needs in one round trip:
// whether the session is live, whether the caller is an admin, the caller's
// (or the impersonated) seller profile, and the show, with its key's and
// channel's rows (showColumns' order). It calls ivs_ingest.authorize
// (migration 20261206170000), a PL/pgSQL function, because PL/pgSQL keeps
// its statements' plans in the server connection: planning was most of
// this query's cost, and this statement is most of the database's work per
// request. That holds behind a transaction-mode pooler, where named
// prepared statements do not; the statement sent here is trivial to plan.
// (With DATABASE_PREPARED_STATEMENTS, preparedAuthzQuery is used instead.)
// Parameters: $1 user id, $2 show id, $3 the impersonated seller id or
// NULL, $4 the session id or NULL. checkSessions and uniqueSellerUser are
// facts of the schema, found once by Open.
func authzQuery(checkSessions, uniqueSellerUser bool) string {
	return fmt.Sprintf(`SELECT * FROM ivs_ingest.authorize($1::uuid, $2::uuid, $3::uuid, $4::uuid, %t, %t)`,
		checkSessions, uniqueSellerUser)
}

// preparedAuthzQuery is authzQuery's SQL written out, for connections that
// keep prepared statements (DATABASE_PREPARED_STATEMENTS): prepared once,
// it costs PostgreSQL less than the function's three statements (86 against
// about 120 µs of server CPU in BenchmarkAuthorize). Each variant holds only
// what it needs. Parameters: $1 user id, $2 show id, $3 the impersonated
// seller id when impersonating, then the session id when sessions are
// checked.
func preparedAuthzQuery(checkSessions, impersonating, uniqueSellerUser bool) string {
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
` + showJoins
}

// Authorize implements ingest.Store.
func (db *DB) Authorize(ctx context.Context, q ingest.AuthzQuery) (ingest.AuthzFacts, error) {
	return db.authorize(ctx, db.pool, q)
}

// authorize runs the authorization query with qr: the pool, or a channel
// section's transaction.
func (db *DB) authorize(ctx context.Context, qr querier, q ingest.AuthzQuery) (ingest.AuthzFacts, error) {
	impersonating := q.ImpersonatedSellerID != ""
	if db.preparedAuthzSQL != nil {
		args := []any{q.UserID, q.ShowID}
		if impersonating {
			args = append(args, q.ImpersonatedSellerID)
		}
		if db.hasSessions {
			args = append(args, nullable(q.SessionID))
		}
		return scanAuthz(qr.QueryRow(ctx, db.preparedAuthzSQL[impersonating], args...))
	}
	return scanAuthz(qr.QueryRow(ctx, db.authzSQL, q.UserID, q.ShowID, nullable(q.ImpersonatedSellerID), nullable(q.SessionID)))
}

// scanAuthz reads the row of authzQuery or preparedAuthzQuery.
func scanAuthz(row pgx.Row) (ingest.AuthzFacts, error) {
	var (
		f                      ingest.AuthzFacts
		sellerID, sellerStatus *string
		show                   scannedShow
	)
	err := row.Scan(
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

// Authorize implements ingest.ChannelTx: the authorization query in the
// section's transaction, after the show's row is locked (see Show) so that
// it cannot be moved until the section ends.
func (c channelTx) Authorize(ctx context.Context, q ingest.AuthzQuery) (ingest.AuthzFacts, error) {
	if _, err := c.tx.Exec(ctx, `SELECT FROM public.shows WHERE id = $1::uuid FOR NO KEY UPDATE`, q.ShowID); err != nil {
		return ingest.AuthzFacts{}, fmt.Errorf("lock show: %w", err)
	}
	return c.db.authorize(ctx, c.tx, q)
}
