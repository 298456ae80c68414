package postgres

import (
	"context"
	"fmt"
)

// AddSession records a signed-in session for userID where the database
// tracks sessions (auth.sessions), creating the auth.users row it refers to
// if missing, so that tokens naming the session pass the sign-out check.
// It does nothing on a database without auth.sessions. Only the dev
// command's token issuer calls it: real sessions are Supabase Auth's.
func (db *DB) AddSession(ctx context.Context, userID, sessionID string) error {
	if !db.hasSessions {
		return nil
	}
	_, err := db.pool.Exec(ctx, `
WITH u AS (INSERT INTO auth.users (id) VALUES ($1::uuid) ON CONFLICT (id) DO NOTHING)
INSERT INTO auth.sessions (id, user_id) VALUES ($2::uuid, $1::uuid) ON CONFLICT (id) DO NOTHING`, userID, sessionID)
	if err != nil {
		return fmt.Errorf("add session: %w", err)
	}
	return nil
}
