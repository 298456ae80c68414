package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest/storetest"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
)

// TestContract runs the store contract shared with internal/sqlite, each
// store a new migrated database. The auth.sessions part of authorization is
// PostgreSQL's own and tested in postgres_test.go. The store dates its rows
// with the database's now(), so it has no use for the suite's clock.
func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, _ func() time.Time) storetest.Store {
		_, db := migrated(t)
		return db
	})
}

// AddAdmin fits an app whose role column is an enum, as in Supabase's RBAC
// example, not only the text column the migration creates.
func TestAddAdminWithEnumRoles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	pgtest.Exec(t, url, `
CREATE TYPE public.app_role AS ENUM ('admin', 'moderator');
CREATE TABLE public.user_roles (id bigserial PRIMARY KEY, user_id uuid NOT NULL, role public.app_role NOT NULL, UNIQUE (user_id, role));`)
	if err := postgres.Migrate(ctx, url, discard); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	db := open(t, url)
	const user = "a0000000-0000-4000-8000-000000000001"
	for i := range 2 {
		if err := db.AddAdmin(ctx, user); err != nil {
			t.Fatalf("AddAdmin #%d: %v", i+1, err)
		}
	}
	q := ingest.AuthzQuery{UserID: user, ShowID: "d0000000-0000-4000-8000-000000000001"}
	if f, err := db.Authorize(ctx, q); err != nil || !f.IsAdmin {
		t.Errorf("Authorize(%+v) = %+v, %v; want IsAdmin", q, f, err)
	}
}
