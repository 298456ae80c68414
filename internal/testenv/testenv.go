// Package testenv assembles, for end-to-end tests, every real part the
// service talks to: a migrated PostgreSQL database of its own, the IVS
// emulator behind the real AWS SDK client, and a token issuer serving its
// JWKS over HTTP. Nothing in it is a stub.
package testenv

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ivs"

	"github.com/ivs-ingest/ivs-ingest/internal/auth/authtest"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ivsemu"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
)

// The credentials the emulator accepts. The secret is recognisable so that
// leak tests can look for it.
const (
	AccessKeyID     = "AKIATESTTESTTESTTEST"
	SecretAccessKey = "testSecretAccessKey/DO-NOT-LEAK/0123456789"
	Region          = "us-east-1"
)

// Options shape an Env.
type Options struct {
	// Supabase makes the database look like a Supabase project's: the
	// Data API roles (anon, authenticated, authenticator) with its default
	// privileges, auth.users and auth.sessions.
	Supabase bool
	// App, with Supabase, adds a marketplace's own sellers, shows and
	// user_roles before the migrations, as on an existing project: the
	// default privileges give the Data API roles every privilege on them,
	// and the app's policies let sellers add and edit their own shows.
	App bool
	// Unmigrated leaves the database without the service's migrations, for
	// tests of `ivs-ingest migrate` itself.
	Unmigrated bool
}

// Env is one test's world.
type Env struct {
	DatabaseURL string
	Emulator    *ivsemu.Emulator
	EmulatorURL string
	Issuer      *authtest.Issuer
	// IVS is an SDK client for the emulator, for tests that act out of band
	// (delete a key as an operator would in the console).
	IVS *ivs.Client
}

// New builds an Env; everything is torn down when the test ends.
func New(t testing.TB, opts Options) *Env {
	t.Helper()
	url := pgtest.NewDatabase(t)
	if opts.Supabase {
		pgtest.Exec(t, url, supabaseSchema)
		if opts.App {
			pgtest.Exec(t, url, pgtest.SupabaseApp)
		}
	}
	if !opts.Unmigrated {
		if err := postgres.Migrate(context.Background(), url, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	emu, err := ivsemu.New(ivsemu.Config{Region: Region, AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey})
	if err != nil {
		t.Fatalf("ivsemu.New: %v", err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	client := ivs.New(ivs.Options{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(srv.URL),
	})
	return &Env{
		DatabaseURL: url,
		Emulator:    emu,
		EmulatorURL: srv.URL,
		Issuer:      authtest.NewIssuer(t),
		IVS:         client,
	}
}

// supabaseSchema is the part of a Supabase project the service relies on:
// the Data API roles with Supabase's default privileges, auth.users and
// auth.sessions.
const supabaseSchema = pgtest.SupabaseRoles + pgtest.SupabaseAuth

// Getenv returns the environment `ivs-ingest serve` needs to run against
// this Env, with overrides applied ("" unsets a variable).
func (e *Env) Getenv(overrides map[string]string) func(string) string {
	env := map[string]string{
		"PORT":                      "0",
		"DATABASE_URL":              e.DatabaseURL,
		"SUPABASE_URL":              e.Issuer.URL(),
		"SUPABASE_JWT_SECRET":       e.Issuer.HS256Secret(),
		"AWS_REGION":                Region,
		"AWS_ACCESS_KEY_ID":         AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":     SecretAccessKey,
		"AWS_ENDPOINT_URL_IVS":      e.EmulatorURL,
		"JWKS_MIN_REFETCH_INTERVAL": "100ms",
		"LOG_LEVEL":                 "debug",
		// Tests make many quick requests as one user or seller: the limits
		// that would refuse them are off unless a test is about them.
		"RATE_LIMIT_REQUESTS_PER_MINUTE":      "0",
		"IVS_MAX_CALLS_PER_SECOND_PER_SELLER": "0",
	}
	for k, v := range overrides {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// NewID returns a random UUID.
func NewID(t testing.TB) string {
	t.Helper()
	return ingest.NewID()
}

// User is a signed-in user.
type User struct {
	ID        string
	SessionID string // "" when the database has no auth.sessions
	SellerID  string // "" when not a seller
}

// Seller creates a user with a seller profile in status, and with a session
// when the database tracks sessions.
func (e *Env) Seller(t testing.TB, status string) User {
	t.Helper()
	u := e.User(t)
	u.SellerID = NewID(t)
	pgtest.Exec(t, e.DatabaseURL, `INSERT INTO public.sellers (id, user_id, status) VALUES ($1, $2, $3)`, u.SellerID, u.ID, status)
	return u
}

// Admin creates a user with the admin role.
func (e *Env) Admin(t testing.TB) User {
	t.Helper()
	u := e.User(t)
	pgtest.Exec(t, e.DatabaseURL, `INSERT INTO public.user_roles (user_id, role) VALUES ($1, 'admin')`, u.ID)
	return u
}

// User creates a signed-in user who is neither seller nor admin.
func (e *Env) User(t testing.TB) User {
	t.Helper()
	u := User{ID: NewID(t), SessionID: NewID(t)}
	pgtest.Exec(t, e.DatabaseURL, `
DO $$ BEGIN
  IF to_regclass('auth.sessions') IS NOT NULL THEN
    INSERT INTO auth.users (id) VALUES ('`+u.ID+`');
    INSERT INTO auth.sessions (id, user_id) VALUES ('`+u.SessionID+`', '`+u.ID+`');
  END IF;
END $$;`)
	return u
}

// SignOut deletes the user's session, as Supabase's logout does.
func (e *Env) SignOut(t testing.TB, u User) {
	t.Helper()
	pgtest.Exec(t, e.DatabaseURL, `DELETE FROM auth.sessions WHERE id = $1`, u.SessionID)
}

// Token returns a valid ES256 access token for u.
func (e *Env) Token(t testing.TB, u User, opts ...authtest.Option) string {
	t.Helper()
	return e.Issuer.Token(t, u.ID, u.SessionID, opts...)
}

// Show is a show in the database.
type Show struct {
	ID         string
	ChannelARN string // "" for a show without a channel
	// Channel is the emulator's channel, whose key the show does not have
	// yet: New deletes the key CreateChannel makes, so the service's first
	// request creates one.
	Channel ivsemu.Channel
}

// Show creates a show of seller. withChannel attaches a new IVS channel that
// has no stream key yet.
func (e *Env) Show(t testing.TB, seller User, withChannel bool) Show {
	t.Helper()
	s := Show{ID: NewID(t)}
	if withChannel {
		ch, err := e.Emulator.CreateChannel("show-" + s.ID[:8])
		if err != nil {
			t.Fatalf("CreateChannel: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := e.IVS.DeleteStreamKey(ctx, &ivs.DeleteStreamKeyInput{Arn: aws.String(ch.StreamKey.ARN)}); err != nil {
			t.Fatalf("DeleteStreamKey: %v", err)
		}
		s.Channel, s.ChannelARN = ch, ch.ARN
	}
	pgtest.Exec(t, e.DatabaseURL, `INSERT INTO public.shows (id, seller_id, ivs_channel_arn) VALUES ($1, $2, NULLIF($3, ''))`,
		s.ID, seller.SellerID, s.ChannelARN)
	return s
}
