package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// floorCommand is the first argument that makes the bench binary run the
// floor server instead of the benchmark. The bench starts the floor as a
// process of its own, like the service, so that neither shares a Go runtime
// (scheduler, heap, GC) with the load generator and the comparison is fair.
const floorCommand = "floor"

// floorConfig is what the floor server needs; the bench writes it to a
// file (it holds stream keys, so not into argv or the environment).
type floorConfig struct {
	Port        int    `json:"port"`
	DatabaseURL string `json:"databaseUrl"`
	MaxConns    int32  `json:"maxConns"`
	Issuer      string `json:"issuer"`
	KID         string `json:"kid"`
	PublicKey   string `json:"publicKey"` // PEM
	// Keys maps stream key ARNs to values, as the service's key cache does
	// for a show it has served: the floor never calls IVS.
	Keys map[string]string `json:"keys"`
	// Audit makes the floor insert one audit row per request.
	Audit bool `json:"audit"`
}

// floorAuditTable is the floor's audit trail, created by the bench when the
// floor audits: a copy of the service's ivs_ingest.audit_log, columns,
// checks, identity and indexes included, so that an insert costs the same
// in both and stays so when the service's table changes.
const floorAuditTable = `
CREATE SCHEMA IF NOT EXISTS bench_floor;
CREATE TABLE IF NOT EXISTS bench_floor.audit_log (LIKE ivs_ingest.audit_log INCLUDING ALL);
`

// floorAuditInsert records one allowed request, durably before the key is
// sent. Parameters: request id, user, seller, show, key ARN, client
// address, user agent.
const floorAuditInsert = `INSERT INTO bench_floor.audit_log
	(request_id, action, outcome, http_status, actor_user_id, seller_id, show_id, stream_key_arn, client_ip, user_agent)
	VALUES ($1, 'get', 'allowed', 200, $2::uuid, $3::uuid, $4::uuid, $5, $6, $7)`

// floorQuery is the one indexed query the floor runs: the show by primary
// key, its seller by primary key, and the caller's session by primary key.
// It reads what a correct implementation must know (the caller owns the
// show, is approved, and has not signed out) and nothing else.
const floorQuery = `SELECT sh.ivs_ingest_endpoint, sh.ivs_stream_key_arn, se.id::text
FROM public.shows sh
JOIN public.sellers se ON se.id = sh.seller_id
WHERE sh.id = $1::uuid AND se.user_id = $2::uuid AND se.status = 'approved'
  AND EXISTS (SELECT 1 FROM auth.sessions s WHERE s.id = $3::uuid AND s.user_id = $2::uuid)`

// floor is the floor server: only the work no correct implementation can
// skip. It verifies the ES256 token, runs one query, inserts one audit row
// (when the service has an audit trail), and writes the answer.
type floor struct {
	pool     *pgxpool.Pool
	parser   *jwt.Parser
	kid      string
	key      any
	keys     map[string]string
	audit    bool
	requests atomic.Uint64 // numbers the audit rows' request ids
	logger   *log.Logger
}

// floorClaims are the claims the floor checks beyond the registered ones.
type floorClaims struct {
	jwt.RegisteredClaims
	Role        string `json:"role"`
	SessionID   string `json:"session_id"`
	IsAnonymous bool   `json:"is_anonymous"`
}

type ingestAnswer struct {
	IngestEndpoint string `json:"ingestEndpoint"`
	StreamKey      string `json:"streamKey"`
	ServerURL      string `json:"serverUrl"`
	StreamKeyHint  string `json:"streamKeyHint"`
}

func (f *floor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/healthz":
		w.WriteHeader(http.StatusOK)
		return
	case r.URL.Path != endpointPath || r.Method != http.MethodPost:
		http.NotFound(w, r)
		return
	}
	status, answer := f.serve(r)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(answer)
}

func (f *floor) serve(r *http.Request) (int, []byte) {
	const bearer = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) <= len(bearer) || h[:len(bearer)] != bearer {
		return http.StatusUnauthorized, []byte(`{"error":"Missing authorization header"}`)
	}
	var c floorClaims
	_, err := f.parser.ParseWithClaims(h[len(bearer):], &c, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != f.kid {
			return nil, errors.New("unknown kid")
		}
		return f.key, nil
	})
	if err != nil || c.Role != "authenticated" || c.IsAnonymous || c.Subject == "" || c.SessionID == "" {
		return http.StatusUnauthorized, []byte(`{"error":"Invalid or expired token"}`)
	}
	var in struct {
		ShowID string `json:"showId"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 64<<10))
	if err != nil || json.Unmarshal(body, &in) != nil || in.ShowID == "" {
		return http.StatusBadRequest, []byte(`{"error":"Invalid JSON body"}`)
	}
	var endpoint, keyARN *string
	var sellerID string
	err = f.pool.QueryRow(r.Context(), floorQuery, in.ShowID, c.Subject, c.SessionID).Scan(&endpoint, &keyARN, &sellerID)
	if errors.Is(err, pgx.ErrNoRows) {
		return http.StatusForbidden, []byte(`{"error":"You do not own this show"}`)
	}
	if err != nil {
		f.logger.Printf("query: %v", err)
		return http.StatusInternalServerError, []byte(`{"error":"Internal server error"}`)
	}
	value, ok := "", false
	if keyARN != nil {
		value, ok = f.keys[*keyARN]
	}
	if !ok || endpoint == nil {
		return http.StatusInternalServerError, []byte(`{"error":"Failed to create stream key"}`)
	}
	if f.audit {
		// The audit row is durable before the key leaves, as the service's.
		id := strconv.FormatUint(f.requests.Add(1), 10)
		_, err := f.pool.Exec(r.Context(), floorAuditInsert, id, c.Subject, sellerID, in.ShowID, *keyARN, r.RemoteAddr, r.UserAgent())
		if err != nil {
			f.logger.Printf("audit: %v", err)
			return http.StatusInternalServerError, []byte(`{"error":"Internal server error"}`)
		}
	}
	url := "rtmps://" + *endpoint + ":443/app/"
	out, err := json.Marshal(ingestAnswer{IngestEndpoint: url, StreamKey: value, ServerURL: url,
		StreamKeyHint: "Use this as your Stream Key in OBS or your streaming software"})
	if err != nil {
		return http.StatusInternalServerError, []byte(`{"error":"Internal server error"}`)
	}
	return http.StatusOK, out
}

// runFloor is the floor server's main: `bench floor -config <file>`.
func runFloor(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet(floorCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "the floor's configuration, written by the bench")
	if err := fs.Parse(args); err != nil {
		return err
	}
	raw, err := os.ReadFile(*path)
	if err != nil {
		return err
	}
	var cfg floorConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("floor config: %w", err)
	}
	key, err := jwt.ParseECPublicKeyFromPEM([]byte(cfg.PublicKey))
	if err != nil {
		return fmt.Errorf("floor public key: %w", err)
	}
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return errors.New("floor database URL: invalid")
	}
	// The same pool settings as the service's (internal/postgres.Open): no
	// prepared statements, so that a transaction-mode pooler works, and no
	// ping before handing out a connection idle for less than a minute.
	pcfg.MaxConns = cfg.MaxConns
	pcfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	pcfg.ConnConfig.StatementCacheCapacity = 0
	pcfg.ConnConfig.DescriptionCacheCapacity = 0
	pcfg.ShouldPing = func(_ context.Context, p pgxpool.ShouldPingParams) bool { return p.IdleDuration > time.Minute }
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("floor database: %w", err)
	}
	defer pool.Close()
	if err := pool.Ping(ctx); err != nil {
		return fmt.Errorf("floor database: %w", err)
	}
	f := &floor{
		pool: pool,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience("authenticated"),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(30*time.Second),
		),
		kid:    cfg.KID,
		key:    key,
		keys:   cfg.Keys,
		audit:  cfg.Audit,
		logger: log.New(stderr, "floor: ", log.LstdFlags),
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port)))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
