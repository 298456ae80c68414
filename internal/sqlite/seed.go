package sqlite

import (
	"context"
	"fmt"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// The seeding methods write the rows the app (Supabase) owns in production:
// dev mode's demo data and tests use them. postgres.DB has the same ones.

// AddSeller adds a seller profile. id and userID must be UUIDs (any case;
// they are stored lowercase).
func (db *DB) AddSeller(ctx context.Context, id, userID, status string) error {
	sid, err := canonicalUUID(id)
	if err != nil {
		return fmt.Errorf("add seller: id: %w", err)
	}
	uid, err := canonicalUUID(userID)
	if err != nil {
		return fmt.Errorf("add seller: user id: %w", err)
	}
	if _, err := db.write.ExecContext(ctx, `INSERT INTO sellers (id, user_id, status) VALUES (?1, ?2, ?3)`, sid, uid, status); err != nil {
		return fmt.Errorf("add seller: %w", err)
	}
	return nil
}

// AddAdmin gives userID the admin role; it is a no-op for an admin.
func (db *DB) AddAdmin(ctx context.Context, userID string) error {
	uid, err := canonicalUUID(userID)
	if err != nil {
		return fmt.Errorf("add admin: user id: %w", err)
	}
	if _, err := db.write.ExecContext(ctx, `INSERT INTO user_roles (user_id, role) VALUES (?1, 'admin') ON CONFLICT DO NOTHING`, uid); err != nil {
		return fmt.Errorf("add admin: %w", err)
	}
	return nil
}

// AddShow adds a show of an existing seller. An empty ChannelARN,
// IngestEndpoint or StreamKeyARN is stored as NULL.
func (db *DB) AddShow(ctx context.Context, show ingest.Show) error {
	id, err := canonicalUUID(show.ID)
	if err != nil {
		return fmt.Errorf("add show: id: %w", err)
	}
	seller, err := canonicalUUID(show.SellerID)
	if err != nil {
		return fmt.Errorf("add show: seller id: %w", err)
	}
	_, err = db.write.ExecContext(ctx, `INSERT INTO shows (id, seller_id, ivs_channel_arn, ivs_ingest_endpoint, ivs_stream_key_arn)
		VALUES (?1, ?2, ?3, ?4, ?5)`,
		id, seller, nullable(show.ChannelARN), nullable(show.IngestEndpoint), nullable(show.StreamKeyARN))
	if err != nil {
		return fmt.Errorf("add show: %w", err)
	}
	return nil
}

// HasSellers reports whether any seller profile exists.
func (db *DB) HasSellers(ctx context.Context) (bool, error) {
	var ok bool
	if err := db.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sellers)`).Scan(&ok); err != nil {
		return false, fmt.Errorf("look for sellers: %w", err)
	}
	return ok, nil
}

// canonicalUUID returns s, an 8-4-4-4-12 hex UUID in any case, lowercased:
// what PostgreSQL's uuid type accepts for these ids and gives back.
func canonicalUUID(s string) (string, error) {
	if len(s) != 36 {
		return "", fmt.Errorf("%q is not a UUID", s)
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", fmt.Errorf("%q is not a UUID", s)
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			b[i] = c + ('a' - 'A')
		default:
			return "", fmt.Errorf("%q is not a UUID", s)
		}
	}
	return string(b), nil
}
