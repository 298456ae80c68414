// Package demo seeds and describes the demo data of `ivs-ingest dev`: an
// approved seller with a show that has a channel and one that has none, a
// pending seller with a show that has a channel, an admin, and a user who is
// not a seller. demo.json in the data directory lists them, with fresh
// tokens, for people and scripts.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/devauth"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// FileName is demo.json's name in the data directory.
const FileName = "demo.json"

// The roles of demo users.
const (
	RoleApprovedSeller = "approved-seller"
	RolePendingSeller  = "pending-seller"
	RoleAdmin          = "admin"
	RoleUser           = "user"
)

// Data is the content of demo.json.
type Data struct {
	BaseURL string `json:"baseUrl"`
	Users   []User `json:"users"`
	Shows   []Show `json:"shows"`
}

// User is a demo user.
type User struct {
	Name     string  `json:"name"`
	UserID   string  `json:"userId"`
	Role     string  `json:"role"`
	SellerID *string `json:"sellerId"` // null for users who are not sellers
	Token    string  `json:"token"`
}

// Show is a demo show.
type Show struct {
	ID         string `json:"id"`
	SellerID   string `json:"sellerId"`
	HasChannel bool   `json:"hasChannel"`
}

// ByRole returns the first user with role.
func (d Data) ByRole(role string) (User, bool) {
	for _, u := range d.Users {
		if u.Role == role {
			return u, true
		}
	}
	return User{}, false
}

// ShowOf returns the first show of sellerID with or without a channel.
func (d Data) ShowOf(sellerID string, hasChannel bool) (Show, bool) {
	for _, s := range d.Shows {
		if s.SellerID == sellerID && s.HasChannel == hasChannel {
			return s, true
		}
	}
	return Show{}, false
}

// Store is what seeding needs of a store.
type Store interface {
	ingest.Store
	AddSeller(ctx context.Context, id, userID, status string) error
	AddAdmin(ctx context.Context, userID string) error
	AddShow(ctx context.Context, show ingest.Show) error
	HasSellers(ctx context.Context) (bool, error)
}

// ChannelMaker creates IVS channels for the demo shows.
type ChannelMaker interface {
	CreateChannel(ctx context.Context, name string) (ingest.Channel, error)
}

// SessionAdder records sessions where the store checks them.
type SessionAdder interface {
	AddSession(ctx context.Context, userID, sessionID string) error
}

// Load reads demo.json from dir; found is false when there is none.
func Load(dir string) (d Data, found bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return Data{}, false, nil
	}
	if err != nil {
		return Data{}, false, fmt.Errorf("read %s: %w", FileName, err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return Data{}, false, fmt.Errorf("read %s: %w", FileName, err)
	}
	return d, true, nil
}

// Save writes d to dir/demo.json, readable only by its owner: it holds tokens.
func Save(dir string, d Data) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, FileName+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", FileName, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", FileName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", FileName, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, FileName)); err != nil {
		return fmt.Errorf("write %s: %w", FileName, err)
	}
	return nil
}

// Present reports whether d's approved seller is still in store, so a data
// directory whose database was replaced is seeded again.
func Present(ctx context.Context, store ingest.Store, d Data) (bool, error) {
	u, ok := d.ByRole(RoleApprovedSeller)
	if !ok || u.SellerID == nil {
		return false, nil
	}
	s, ok := d.ShowOf(*u.SellerID, true)
	if !ok {
		return false, nil
	}
	f, err := store.Authorize(ctx, ingest.AuthzQuery{UserID: u.UserID, ShowID: s.ID})
	if err != nil {
		return false, err
	}
	return f.Seller != nil && f.Show != nil, nil
}

// Seed creates the demo users, sellers, shows and channels. It refuses a
// store that has sellers already: demo data (an admin among them) must not
// mix with real data.
func Seed(ctx context.Context, store Store, channels ChannelMaker) (Data, error) {
	has, err := store.HasSellers(ctx)
	if err != nil {
		return Data{}, err
	}
	if has {
		return Data{}, errors.New("the database has sellers already; demo data goes only into an empty one")
	}
	approved, pending, admin, user := ingest.NewID(), ingest.NewID(), ingest.NewID(), ingest.NewID()
	approvedSeller, pendingSeller := ingest.NewID(), ingest.NewID()
	d := Data{
		Users: []User{
			{Name: "Approved seller", UserID: approved, Role: RoleApprovedSeller, SellerID: &approvedSeller},
			{Name: "Pending seller", UserID: pending, Role: RolePendingSeller, SellerID: &pendingSeller},
			{Name: "Admin", UserID: admin, Role: RoleAdmin},
			{Name: "Not a seller", UserID: user, Role: RoleUser},
		},
	}
	if err := store.AddSeller(ctx, approvedSeller, approved, ingest.SellerApproved); err != nil {
		return Data{}, err
	}
	if err := store.AddSeller(ctx, pendingSeller, pending, "pending"); err != nil {
		return Data{}, err
	}
	if err := store.AddAdmin(ctx, admin); err != nil {
		return Data{}, err
	}
	stamp := time.Now().UTC().Format("20060102-150405")
	for _, s := range []struct {
		seller  string
		channel string // "" for a show without one
	}{
		{approvedSeller, "ivs-ingest-dev-approved-" + stamp},
		{approvedSeller, ""},
		{pendingSeller, "ivs-ingest-dev-pending-" + stamp},
	} {
		show := ingest.Show{ID: ingest.NewID(), SellerID: s.seller}
		if s.channel != "" {
			ch, err := channels.CreateChannel(ctx, s.channel)
			if err != nil {
				return Data{}, fmt.Errorf("create demo channel: %w", err)
			}
			show.ChannelARN = ch.ARN
		}
		if err := store.AddShow(ctx, show); err != nil {
			return Data{}, err
		}
		d.Shows = append(d.Shows, Show{ID: show.ID, SellerID: s.seller, HasChannel: s.channel != ""})
	}
	return d, nil
}

// Mint gives every user of d a fresh token valid for ttl, issued for
// baseURL, with a new session recorded where the store checks sessions
// (sessions may be nil).
func Mint(ctx context.Context, d *Data, issuer *devauth.Issuer, sessions SessionAdder, baseURL string, ttl time.Duration) error {
	d.BaseURL = baseURL
	for i := range d.Users {
		tok, err := NewToken(ctx, issuer, sessions, d.Users[i].UserID, devauth.TokenOptions{TTL: ttl})
		if err != nil {
			return err
		}
		d.Users[i].Token = tok
	}
	return nil
}

// NewToken mints a token for userID with a new session, recorded where the
// store checks sessions (sessions may be nil).
func NewToken(ctx context.Context, issuer *devauth.Issuer, sessions SessionAdder, userID string, opts devauth.TokenOptions) (string, error) {
	session := ingest.NewID()
	if sessions != nil {
		if err := sessions.AddSession(ctx, userID, session); err != nil {
			return "", err
		}
	}
	return issuer.Token(userID, session, opts)
}
