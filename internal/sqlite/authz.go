package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// authzSQL reads every fact one authorization needs in one statement: whether
// the caller is an admin, the caller's (or the impersonated) seller profile,
// and the show. sellers.id and sellers.user_id are unique, so the seller join
// yields at most one row. Parameters: ?1 user id, ?2 impersonated seller id
// or NULL, ?3 show id.
const authzSQL = `SELECT
	EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = ?1 AND r.role = 'admin'),
	se.id, se.status,
	` + showColumns + `
FROM (SELECT 1) AS one
LEFT JOIN sellers se ON (?2 IS NOT NULL AND se.id = ?2) OR (?2 IS NULL AND se.user_id = ?1)
LEFT JOIN shows sh ON sh.id = ?3
` + showJoins

// Authorize implements ingest.Store. SQLite has no auth.sessions to consult,
// so SessionActive is always true: as with a PostgreSQL database without
// auth.sessions, a verified token is the only proof of a session.
//
// IDs are compared lowercased; the domain passes canonical lowercase UUIDs
// and the store keeps them so.
func (db *DB) Authorize(ctx context.Context, q ingest.AuthzQuery) (ingest.AuthzFacts, error) {
	return authorize(ctx, db.read, q)
}

// Authorize implements ingest.ChannelTx; see Show for what keeps the show
// from changing meanwhile.
func (c *channelTx) Authorize(ctx context.Context, q ingest.AuthzQuery) (ingest.AuthzFacts, error) {
	return authorize(ctx, c.reader(), q)
}

func authorize(ctx context.Context, qr rowQuerier, q ingest.AuthzQuery) (ingest.AuthzFacts, error) {
	var (
		f                      = ingest.AuthzFacts{SessionActive: true}
		sellerID, sellerStatus *string
		show                   scannedShow
	)
	err := qr.QueryRowContext(ctx, authzSQL,
		strings.ToLower(q.UserID), nullable(strings.ToLower(q.ImpersonatedSellerID)), strings.ToLower(q.ShowID),
	).Scan(append([]any{&f.IsAdmin, &sellerID, &sellerStatus}, show.dest()...)...)
	if err != nil {
		return ingest.AuthzFacts{}, fmt.Errorf("authorization query: %w", err)
	}
	if sellerID != nil {
		f.Seller = &ingest.Seller{ID: *sellerID, Status: deref(sellerStatus)}
	}
	if f.Show, err = show.show(); err != nil {
		return ingest.AuthzFacts{}, fmt.Errorf("authorization query: %w", err)
	}
	return f, nil
}
