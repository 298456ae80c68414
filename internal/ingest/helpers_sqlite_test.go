package ingest_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsivs "github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ivs"
	"github.com/ivs-ingest/ivs-ingest/internal/ivsemu"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
	"github.com/ivs-ingest/ivs-ingest/internal/sqlite"
	"github.com/ivs-ingest/ivs-ingest/internal/testclock"
)

// The domain's cases run over the embedded store, which passes the same
// contract as PostgreSQL's (internal/ingest/storetest) and needs no server:
// a *_sqlite_test.go file tests what the service does, and internal/httpapi
// keeps what is about the wire.

// The credentials the emulator of a sqliteWorld accepts.
const (
	sqliteAccessKeyID     = "AKIASQLITEWORLDSQLIT"
	sqliteSecretAccessKey = "sqliteWorldSecretAccessKey/0123456789"
	sqliteRegion          = "us-east-1"
)

// sqliteWorld is one domain test's world: the SQLite store in a temporary
// directory, dated by a clock the test moves, and the IVS emulator behind
// the project's IVS adapter (the real AWS SDK client).
type sqliteWorld struct {
	db    *sqlite.DB
	path  string
	clock *testclock.Clock
	emu   *ivsemu.Emulator
	ivs   *ivs.Client
	// endpoint is the emulator's URL, for clients of the test's own.
	endpoint string
	// sdk is a raw SDK client of the emulator, for acting out of band as
	// an operator in the AWS console would.
	sdk *awsivs.Client
}

func newSQLiteWorld(t *testing.T) *sqliteWorld {
	t.Helper()
	ctx := context.Background()
	w := &sqliteWorld{path: filepath.Join(t.TempDir(), "ivs-ingest.db"), clock: testclock.New(time.Now())}
	db, err := sqlite.Open(ctx, w.path)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	db.Now = w.clock.Now
	w.db = db

	w.emu, err = ivsemu.New(ivsemu.Config{Region: sqliteRegion, AccessKeyID: sqliteAccessKeyID, SecretAccessKey: sqliteSecretAccessKey})
	if err != nil {
		t.Fatalf("ivsemu.New: %v", err)
	}
	srv := httptest.NewServer(w.emu)
	t.Cleanup(srv.Close)
	w.endpoint = srv.URL
	w.ivs, err = ivs.New(ctx, ivs.Config{
		Region:          sqliteRegion,
		Endpoint:        srv.URL,
		AccessKeyID:     sqliteAccessKeyID,
		SecretAccessKey: secret.New(sqliteSecretAccessKey),
	})
	if err != nil {
		t.Fatalf("ivs.New: %v", err)
	}
	w.sdk = awsivs.New(awsivs.Options{
		Region:       sqliteRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(sqliteAccessKeyID, sqliteSecretAccessKey, ""),
		BaseEndpoint: aws.String(srv.URL),
	})
	return w
}

// service is a replica of the service over the world's store and IVS, on
// the world's clock unless opts has one. Replicas share the store (and its
// channel lock) but not their key caches.
func (w *sqliteWorld) service(t *testing.T, opts ingest.Options) *ingest.Service {
	t.Helper()
	if opts.Now == nil {
		opts.Now = w.clock.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	svc := ingest.NewService(w.db, w.ivs, opts)
	t.Cleanup(svc.Close)
	return svc
}

// sqliteUser is a user of the world; SellerID is "" when not a seller.
type sqliteUser struct {
	ID, SellerID string
}

func (u sqliteUser) caller() ingest.Caller { return ingest.Caller{UserID: u.ID} }

// seller adds a user with a seller profile in status.
func (w *sqliteWorld) seller(t *testing.T, status string) sqliteUser {
	t.Helper()
	u := sqliteUser{ID: ingest.NewID(), SellerID: ingest.NewID()}
	if err := w.db.AddSeller(context.Background(), u.SellerID, u.ID, status); err != nil {
		t.Fatalf("AddSeller: %v", err)
	}
	return u
}

// admin adds a user with the admin role and no seller profile.
func (w *sqliteWorld) admin(t *testing.T) sqliteUser {
	t.Helper()
	u := sqliteUser{ID: ingest.NewID()}
	if err := w.db.AddAdmin(context.Background(), u.ID); err != nil {
		t.Fatalf("AddAdmin: %v", err)
	}
	return u
}

// sqliteShow is a show of the world.
type sqliteShow struct {
	ID         string
	ChannelARN string // "" for a show without a channel
	// Channel is the emulator's channel, whose key the show does not have
	// yet: show deletes the key CreateChannel makes, so the service's first
	// request creates one.
	Channel ivsemu.Channel
}

// show adds a show of seller; withChannel attaches a new IVS channel without
// a stream key.
func (w *sqliteWorld) show(t *testing.T, seller sqliteUser, withChannel bool) sqliteShow {
	t.Helper()
	ctx := context.Background()
	s := sqliteShow{ID: ingest.NewID()}
	if withChannel {
		ch, err := w.emu.CreateChannel("show-" + s.ID[:8])
		if err != nil {
			t.Fatalf("CreateChannel: %v", err)
		}
		if _, err := w.sdk.DeleteStreamKey(ctx, &awsivs.DeleteStreamKeyInput{Arn: aws.String(ch.StreamKey.ARN)}); err != nil {
			t.Fatalf("DeleteStreamKey: %v", err)
		}
		s.Channel, s.ChannelARN = ch, ch.ARN
	}
	if err := w.db.AddShow(ctx, ingest.Show{ID: s.ID, SellerID: seller.SellerID, ChannelARN: s.ChannelARN}); err != nil {
		t.Fatalf("AddShow: %v", err)
	}
	return s
}

// keyRequest is u's request for showID's key, with the audit row a
// transport would start (its request id and actor).
func (u sqliteUser) keyRequest(showID string) ingest.Request {
	return ingest.Request{Caller: u.caller(), ShowID: showID,
		Audit: ingest.AuditEntry{RequestID: ingest.NewID(), ActorUserID: u.ID}}
}

// revokeRequest is u's request to revoke showID's key.
func (u sqliteUser) revokeRequest(showID, reason string) ingest.RevokeRequest {
	return ingest.RevokeRequest{Caller: u.caller(), ShowID: showID, Reason: reason,
		Audit: ingest.AuditEntry{RequestID: ingest.NewID(), ActorUserID: u.ID}}
}

// get asks svc for req's details and fails the test on an error. Key values
// are secrets: callers compare them and never print them.
func (w *sqliteWorld) get(t *testing.T, what string, svc *ingest.Service, req ingest.Request) ingest.Details {
	t.Helper()
	d, err := svc.IngestDetails(context.Background(), req)
	if err != nil {
		t.Fatalf("%s: IngestDetails: %v", what, err)
	}
	if d.StreamKey.Reveal() == "" {
		t.Fatalf("%s: IngestDetails returned no key", what)
	}
	return d
}

// rotate asks svc to rotate req's key and fails the test on an error.
func (w *sqliteWorld) rotate(t *testing.T, what string, svc *ingest.Service, req ingest.Request) ingest.Details {
	t.Helper()
	d, err := svc.RotateStreamKey(context.Background(), req)
	if err != nil {
		t.Fatalf("%s: RotateStreamKey: %v", what, err)
	}
	if d.StreamKey.Reveal() == "" {
		t.Fatalf("%s: RotateStreamKey returned no key", what)
	}
	return d
}

// stored reads what the service recorded on a show's row.
func (w *sqliteWorld) stored(t *testing.T, showID string) (keyARN, endpoint string) {
	t.Helper()
	sh, found, err := w.db.Show(context.Background(), showID)
	if err != nil || !found {
		t.Fatalf("Show(%s) = found %v, %v; want the show", showID, found, err)
	}
	return sh.StreamKeyARN, sh.IngestEndpoint
}

// keyExists reports whether IVS still has the key.
func (w *sqliteWorld) keyExists(t *testing.T, arn string) bool {
	t.Helper()
	_, err := w.sdk.GetStreamKey(context.Background(), &awsivs.GetStreamKeyInput{Arn: aws.String(arn)})
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return false
	}
	if err != nil {
		t.Fatalf("GetStreamKey: %v", err)
	}
	return true
}

// deleteKeyInAWS deletes the show's recorded key behind the service's back,
// as someone in the AWS console would, and returns its ARN.
func (w *sqliteWorld) deleteKeyInAWS(t *testing.T, showID string) string {
	t.Helper()
	arn, _ := w.stored(t, showID)
	if _, err := w.sdk.DeleteStreamKey(context.Background(), &awsivs.DeleteStreamKeyInput{Arn: aws.String(arn)}); err != nil {
		t.Fatalf("DeleteStreamKey: %v", err)
	}
	return arn
}

// exec runs a statement on the store's file outside the store, as the app
// that owns the shows (Supabase, in production) would.
func (w *sqliteWorld) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+w.path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	defer raw.Close()
	if _, err := raw.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
