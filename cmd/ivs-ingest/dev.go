package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/app"
	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/demo"
	"github.com/ivs-ingest/ivs-ingest/internal/devauth"
	"github.com/ivs-ingest/ivs-ingest/internal/httpapi"
	"github.com/ivs-ingest/ivs-ingest/internal/ivsemu"
	"github.com/ivs-ingest/ivs-ingest/internal/keyvault"
	"github.com/ivs-ingest/ivs-ingest/internal/logging"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
	"github.com/ivs-ingest/ivs-ingest/internal/version"
)

// Files of the dev data directory, besides devauth.KeyFile and demo.FileName.
const (
	sqliteFile   = "ivs-ingest.db"
	emulatorFile = "ivs-emulator.json"
)

// demoTokenTTL is how long the tokens in the banner and demo.json last.
const demoTokenTTL = 12 * time.Hour

// devStore is what dev needs of a store: the service's contract plus
// seeding for the demo data.
type devStore interface {
	app.Store
	demo.Store
}

// cmdDev runs the whole service on this machine: the same HTTP API as serve,
// an embedded SQLite store (or DATABASE_URL's PostgreSQL), the IVS emulator
// (or real AWS with --real-aws), and a local token issuer.
func cmdDev(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev", "dev [--port 8080] [--data ./.ivs-ingest] [--real-aws] [--seed-demo] [--allow-any-database]", stderr)
	port := fs.Int("port", 8080, "port to listen on, on 127.0.0.1 (0 picks a free one)")
	dataDir := fs.String("data", ".ivs-ingest", "data directory: SQLite store, emulator state, signing key, demo.json")
	realAWS := fs.Bool("real-aws", false, "call the real IVS endpoint with the default AWS credential chain instead of the emulator")
	seedDemo := fs.Bool("seed-demo", false, "with DATABASE_URL: seed demo data into that PostgreSQL database if it has no sellers")
	allowAny := fs.Bool("allow-any-database", false, "with DATABASE_URL: run even on a database that has sellers and is not marked as a dev one")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// dev always serves the IVS events route, for simulate-stream: with
	// IVS_EVENTS_TOKEN unset, under a token of its own in the data
	// directory.
	getenv, saveEventsToken, err := withEventsToken(getenv, *dataDir)
	if err != nil {
		return err
	}
	cfg, err := app.LoadConfig(ctx, getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logger := logging.New(stderr, cfg.LogLevel)
	var devDB postgres.DevDatabase
	if !cfg.DatabaseURL.IsZero() {
		// Before anything else touches the database: dev migrates it and
		// writes users and sessions into it.
		if devDB, err = checkDevDatabase(ctx, "dev", cfg.DatabaseURL, *allowAny, stderr); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if err := saveEventsToken(); err != nil {
		return err
	}
	if !cfg.KeyStore() {
		// dev keeps its keys sealed as serve would, under a master key of
		// its own.
		if cfg.StreamKeyEncryptionKey, err = devMasterKey(*dataDir, cfg.StreamKeyEncryptionKeyID); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	baseURL := "http://" + ln.Addr().String()
	issuer, err := devauth.LoadOrCreate(*dataDir, baseURL)
	if err != nil {
		return err
	}
	parts := devParts{baseURL: baseURL, dataDir: *dataDir, region: cfg.AWSRegion}

	// IVS: the emulator on its own loopback listener, reached by the real
	// SDK client exactly as in the tests, or the real endpoint.
	var control *streamControl
	if !*realAWS {
		stop, endpoint, err := startEmulator(*dataDir, cfg.AWSRegion, logger, func(emu *ivsemu.Emulator) http.Handler {
			control = newStreamControl(emu)
			mux := http.NewServeMux()
			mux.Handle("POST "+controlPath, control)
			mux.Handle("/", emu)
			return mux
		})
		if err != nil {
			return err
		}
		defer stop()
		cfg.AWSEndpointIVS, cfg.AWSAccessKeyID = endpoint, "AKIAIVSINGESTDEV0000"
		cfg.AWSSecretAccessKey, cfg.AWSSessionToken = emulatorSecret, secret.String{}
		parts.emulator = endpoint
	}
	// What simulate-stream needs to reach this run; removed when it ends.
	endpoints := devEndpoints{BaseURL: baseURL}
	if control != nil {
		endpoints.ControlURL, endpoints.ControlToken = parts.emulator+controlPath, control.token.Reveal()
	}
	if err := writeDevEndpoints(*dataDir, endpoints); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(*dataDir, endpointsFile))
	// Auth: this server is its own SUPABASE_URL.
	cfg.SupabaseURL, cfg.JWTIssuer, cfg.JWKSURL = baseURL, issuer.IssuerURL(), baseURL+devauth.JWKSPath
	cfg.JWTSecret = secret.String{}

	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	store, storeParts, sessions, closeStore, err := openDevStore(startCtx, cfg, *dataDir, devDB, *allowAny, logger)
	if err != nil {
		return err
	}
	defer closeStore()
	parts.postgres = !cfg.DatabaseURL.IsZero()
	if control != nil {
		control.setShows(store.Show)
	}

	// The demo's channels are made before serving, outside the call budget.
	ivsClient, err := app.IVS(startCtx, cfg, app.IVSOptions{})
	if err != nil {
		return err
	}
	data, err := ensureDemo(startCtx, store, ivsClient, *dataDir, !parts.postgres || *seedDemo)
	if err != nil {
		return err
	}
	if data != nil {
		if err := demo.Mint(startCtx, data, issuer, sessions, baseURL, demoTokenTTL); err != nil {
			return err
		}
		if err := demo.Save(*dataDir, *data); err != nil {
			return err
		}
	}

	a, err := app.Assemble(startCtx, cfg, storeParts, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	// As serve does: dev receives events (its own token), so it heals them
	// from its emulator's ListStreams too.
	a.StartStreamReconcile(cfg.StreamReconcileInterval())
	mux := http.NewServeMux()
	mux.Handle("GET "+devauth.JWKSPath, issuer.JWKSHandler())
	mux.Handle("/", a.Handler)

	srv := httpapi.NewHTTPServer(ln.Addr().String(), mux, a.RequestTimeout, logger)
	logger.Info("listening", "addr", ln.Addr().String(), "version", version.String(), "mode", "dev")
	printBanner(stdout, parts, data)
	return serveUntilDone(ctx, srv, ln, logger)
}

// emulatorSecret signs the dev process's calls to its own emulator; it
// changes every run and never leaves the process.
var emulatorSecret = secret.New(randomHex(20))

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b)
}

// startEmulator serves the IVS emulator, persisting to the data directory,
// on a free loopback port, through the handler serve makes of it.
func startEmulator(dir, region string, logger *slog.Logger, serve func(*ivsemu.Emulator) http.Handler) (stop func(), endpoint string, err error) {
	emu, err := ivsemu.New(ivsemu.Config{
		Region:          region,
		AccessKeyID:     "AKIAIVSINGESTDEV0000",
		SecretAccessKey: emulatorSecret.Reveal(),
		StateFile:       filepath.Join(dir, emulatorFile),
		Logger:          logger,
	})
	if err != nil {
		return nil, "", fmt.Errorf("ivs emulator: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("ivs emulator: %w", err)
	}
	srv := &http.Server{Handler: serve(emu), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, "http://" + ln.Addr().String(), nil
}

// writeDevEndpoints writes dev-endpoints.json into dir (0600: it holds the
// control token).
func writeDevEndpoints(dir string, ep devEndpoints) error {
	b, err := json.MarshalIndent(ep, "", "  ")
	if err != nil {
		return err
	}
	if err := writePrivateFile(filepath.Join(dir, endpointsFile), append(b, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", endpointsFile, err)
	}
	return nil
}

// openDevStore opens DATABASE_URL's PostgreSQL (migrated first, and marked
// as a dev database when it has no sellers) when set, else the SQLite file
// in the data directory, with the parts the service runs over. devDB is
// what checkDevDatabase found. sessions is non-nil where the store checks
// sessions, so the dev issuer records the ones its tokens name.
func openDevStore(ctx context.Context, cfg config.Config, dir string, devDB postgres.DevDatabase, allowAny bool, logger *slog.Logger) (devStore, app.Parts, demo.SessionAdder, func(), error) {
	if cfg.DatabaseURL.IsZero() {
		db, err := app.OpenSQLite(ctx, filepath.Join(dir, sqliteFile))
		if err != nil {
			return nil, app.Parts{}, nil, nil, err
		}
		return db, app.SQLiteParts(db), nil, func() { _ = db.Close() }, nil
	}
	if err := postgres.Migrate(ctx, cfg.DatabaseURL.Reveal(), logger); err != nil {
		return nil, app.Parts{}, nil, nil, err
	}
	if !devDB.Marked && !devDB.HasSellers {
		marked, err := postgres.MarkDevDatabase(ctx, cfg.DatabaseURL.Reveal())
		if err != nil {
			return nil, app.Parts{}, nil, nil, err
		}
		if !marked && !allowAny {
			// Sellers arrived since checkDevDatabase looked.
			return nil, app.Parts{}, nil, nil, fmt.Errorf("%w: %s got sellers while dev started; run dev again to see why it refuses", errNotDevDatabase, postgres.Target(cfg.DatabaseURL.Reveal()))
		}
	}
	db, err := app.OpenPostgres(ctx, cfg, postgres.Options{})
	if err != nil {
		return nil, app.Parts{}, nil, nil, err
	}
	return db, app.PostgresParts(db), db, db.Close, nil
}

// ensureDemo returns the demo data: demo.json's when it still describes the
// store, else newly seeded when seeding is allowed and the store has no
// sellers, else nil.
func ensureDemo(ctx context.Context, store devStore, channels demo.ChannelMaker, dir string, mayseed bool) (*demo.Data, error) {
	d, found, err := demo.Load(dir)
	if err != nil {
		return nil, err
	}
	if found {
		ok, err := demo.Present(ctx, store, d)
		if err != nil {
			return nil, err
		}
		if ok {
			return &d, nil
		}
	}
	if !mayseed {
		return nil, nil
	}
	has, err := store.HasSellers(ctx)
	if err != nil || has {
		return nil, err
	}
	d, err = demo.Seed(ctx, store, channels)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// devParts says which parts of a dev run are real.
type devParts struct {
	baseURL  string
	dataDir  string
	region   string
	emulator string // "" with --real-aws
	postgres bool
}

func printBanner(w io.Writer, p devParts, d *demo.Data) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nivs-ingest dev is running at %s\n\n", p.baseURL)
	if p.postgres {
		fmt.Fprintf(&b, "  store  PostgreSQL from DATABASE_URL (real)\n")
	} else {
		fmt.Fprintf(&b, "  store  SQLite, %s (embedded)\n", filepath.Join(p.dataDir, sqliteFile))
	}
	if p.emulator != "" {
		fmt.Fprintf(&b, "  IVS    emulator at %s, state in %s (emulated)\n", p.emulator, filepath.Join(p.dataDir, emulatorFile))
	} else {
		fmt.Fprintf(&b, "  IVS    AWS in %s with the default credential chain (real)\n", p.region)
	}
	fmt.Fprintf(&b, "  auth   local ES256 issuer, keys at %s%s (emulated)\n\n", p.baseURL, devauth.JWKSPath)

	if d == nil {
		fmt.Fprintf(&b, "No demo data (PostgreSQL gets it only with --seed-demo, and only when it has no sellers).\n")
	} else {
		approved, _ := d.ByRole(demo.RoleApprovedSeller)
		pending, _ := d.ByRole(demo.RolePendingSeller)
		admin, _ := d.ByRole(demo.RoleAdmin)
		user, _ := d.ByRole(demo.RoleUser)
		live, _ := d.ShowOf(*approved.SellerID, true)
		bare, _ := d.ShowOf(*approved.SellerID, false)
		pendingShow, _ := d.ShowOf(*pending.SellerID, true)
		for _, c := range []struct {
			what, token, show, header string
		}{
			{"Approved seller, show with a channel (200, a key):", approved.Token, live.ID, ""},
			{"Approved seller, show without a channel (400):", approved.Token, bare.ID, ""},
			{"Pending seller (403 Seller not approved):", pending.Token, pendingShow.ID, ""},
			{"Admin acting as the pending seller (200):", admin.Token, pendingShow.ID, *pending.SellerID},
			{"User who is not a seller (403 Seller profile not found):", user.Token, live.ID, ""},
		} {
			fmt.Fprintf(&b, "%s\n  %s\n\n", c.what, curlCommand(p.baseURL, c.token, c.show, c.header))
		}
		fmt.Fprintf(&b, "These tokens last %s. Users, shows and tokens for scripts: %s\n", demoTokenTTL, filepath.Join(p.dataDir, demo.FileName))
	}
	fmt.Fprintf(&b, "More tokens: go run ./cmd/ivs-ingest token --data %s --user <uuid> [--ttl 1h] [--anonymous]\n", p.dataDir)
	if p.emulator != "" {
		show := "<uuid>"
		if d != nil {
			if approved, ok := d.ByRole(demo.RoleApprovedSeller); ok && approved.SellerID != nil {
				if s, ok := d.ShowOf(*approved.SellerID, true); ok {
					show = s.ID
				}
			}
		}
		fmt.Fprintf(&b, "Play a broadcast: go run ./cmd/ivs-ingest simulate-stream --data %s --show %s start|starve|recover|end\n", p.dataDir, show)
	}
	b.WriteString("\n")
	_, _ = io.WriteString(w, b.String())
}

func curlCommand(baseURL, token, showID, impersonate string) string {
	cmd := fmt.Sprintf("curl -s -X POST %s/functions/v1/get-ivs-ingest -H 'Authorization: Bearer %s' -H 'Content-Type: application/json'", baseURL, token)
	if impersonate != "" {
		cmd += fmt.Sprintf(" -H 'X-Impersonate-Seller-Id: %s'", impersonate)
	}
	return cmd + fmt.Sprintf(` -d '{"showId":"%s"}'`, showID)
}

// errNoDevData is returned by token when dev has never run in the directory.
var errNoDevData = errors.New("no dev data directory")

// errNotDevDatabase is returned by dev and token when DATABASE_URL names a
// database that is not marked as a dev one.
var errNotDevDatabase = errors.New("not a dev database")

// checkDevDatabase decides whether cmd (dev or token) may write into the
// database at dbURL, writing nothing itself. Why: with DATABASE_URL pointing
// at production, dev would migrate it and both would insert users and
// sessions into auth.users and auth.sessions there. A database is a dev one
// when it holds ivs_ingest.dev_database, which dev creates only on a
// database with no sellers. dev also accepts a database with no sellers
// (it marks it); token accepts only a marked one. allowAny lets any
// database through, with a WARN line on stderr that names it (never its
// password).
func checkDevDatabase(ctx context.Context, cmd string, dbURL secret.String, allowAny bool, stderr io.Writer) (postgres.DevDatabase, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	d, err := postgres.InspectDevDatabase(ctx, dbURL.Reveal())
	if err != nil {
		return d, err
	}
	if d.Marked || (cmd == "dev" && !d.HasSellers) {
		return d, nil
	}
	target := postgres.Target(dbURL.Reveal())
	why := "which is not marked as a dev database (no ivs_ingest.dev_database)"
	if cmd == "dev" {
		why = "which has sellers and is not marked as a dev database (no ivs_ingest.dev_database)"
	}
	if allowAny {
		fmt.Fprintf(stderr, "WARN  %s --allow-any-database: writing into %s, %s\n", cmd, target, why)
		return d, nil
	}
	what := "it would add a user and a session to auth.users and auth.sessions there"
	if cmd == "dev" {
		what = "dev would migrate it and add users and sessions to auth.users and auth.sessions there"
	}
	return d, fmt.Errorf("%w: DATABASE_URL names %s, %s, so it may be a production database and %s. "+
		"Point DATABASE_URL at a dev database (dev marks one that has no sellers the first time it runs on it), "+
		"or pass --allow-any-database to %s to write into this one anyway", errNotDevDatabase, target, why, what, cmd)
}

// masterKeyFile is dev's master key of the key store, in its data
// directory.
const masterKeyFile = "stream-key-encryption.key"

// devMasterKey reads dev's master key from dir, creating it (mode 0600) on
// first run, and returns it in base64, as STREAM_KEY_ENCRYPTION_KEY takes it.
func devMasterKey(dir, id string) (secret.String, error) {
	path := filepath.Join(dir, masterKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		encoded := secret.New(strings.TrimSpace(string(b)))
		if _, err := keyvault.ParseKey(id, encoded.Reveal()); err != nil {
			return secret.String{}, fmt.Errorf("%s: not a master key (32 bytes in base64): remove it to have dev make another "+
				"(the keys it sealed are then read from IVS again)", path)
		}
		return encoded, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return secret.String{}, fmt.Errorf("read master key: %w", err)
	}
	k, err := keyvault.NewKey(id)
	if err != nil {
		return secret.String{}, fmt.Errorf("STREAM_KEY_ENCRYPTION_KEY_ID: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return secret.String{}, fmt.Errorf("create master key: %w", err)
	}
	if _, err := f.WriteString(k.Encoded().Reveal() + "\n"); err != nil {
		f.Close()
		return secret.String{}, fmt.Errorf("write master key: %w", err)
	}
	if err := f.Close(); err != nil {
		return secret.String{}, fmt.Errorf("write master key: %w", err)
	}
	return k.Encoded(), nil
}
