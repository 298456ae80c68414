package postgres

import (
	"context"
	"fmt"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// The seeding methods write rows the app owns (sellers, roles, shows): tests
// and demo data use them; the service never does. They fit the tables the
// migration creates on an empty database; an app's own tables may require
// more columns (or rows in auth.users) than they fill in. sqlite.DB has the
// same methods.

// AddSeller adds a seller profile. id and userID must be UUIDs.
func (db *DB) AddSeller(ctx context.Context, id, userID, status string) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO public.sellers (id, user_id, status) VALUES ($1::uuid, $2::uuid, $3)`,
		id, userID, status)
	if err != nil {
		return fmt.Errorf("add seller: %w", err)
	}
	return nil
}

// AddAdmin gives userID the admin role; it is a no-op for an admin.
func (db *DB) AddAdmin(ctx context.Context, userID string) error {
	// The role is left untyped so that it also fits an enum-typed role
	// column (TestAddAdminWithEnumRoles).
	_, err := db.pool.Exec(ctx, `INSERT INTO public.user_roles (user_id, role) VALUES ($1::uuid, 'admin') ON CONFLICT DO NOTHING`,
		userID)
	if err != nil {
		return fmt.Errorf("add admin: %w", err)
	}
	return nil
}

// AddShow adds a show of an existing seller. An empty ChannelARN,
// IngestEndpoint or StreamKeyARN is stored as NULL.
func (db *DB) AddShow(ctx context.Context, show ingest.Show) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO public.shows (id, seller_id, ivs_channel_arn, ivs_ingest_endpoint, ivs_stream_key_arn)
		VALUES ($1::uuid, $2::uuid, $3::text, $4::text, $5::text)`,
		show.ID, show.SellerID, nullable(show.ChannelARN), nullable(show.IngestEndpoint), nullable(show.StreamKeyARN))
	if err != nil {
		return fmt.Errorf("add show: %w", err)
	}
	return nil
}

// HasSellers reports whether any seller profile exists.
func (db *DB) HasSellers(ctx context.Context) (bool, error) {
	var ok bool
	if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM public.sellers)`).Scan(&ok); err != nil {
		return false, fmt.Errorf("look for sellers: %w", err)
	}
	return ok, nil
}
