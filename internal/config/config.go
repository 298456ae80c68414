// Package config reads ivs-ingest's configuration from environment variables,
// validates it once, and prints it with every secret redacted. One table
// (Vars, in vars.go) names each variable once, with its default, its
// description, whether it is secret, and its parser: it drives Load, Print,
// doctor's checks and the table in docs/configuration.md (regenerated with
// `go test ./internal/config -run TestConfigurationDoc -update`).
package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/keyvault"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// Config is the service's configuration.
type Config struct {
	Port             int
	DatabaseURL      secret.String // may carry a password
	DatabaseMaxConns int32
	// MaxActiveRequests is the admission gate's size; 0 means four times
	// DatabaseMaxConns.
	MaxActiveRequests int
	// DatabasePreparedStatements caches prepared statements per connection
	// (a direct or session-mode connection only).
	DatabasePreparedStatements bool

	SupabaseURL string
	// JWTIssuer and JWKSURL default to ${SUPABASE_URL}/auth/v1 and its
	// /.well-known/jwks.json.
	JWTIssuer string
	JWKSURL   string
	// JWTSecret is the project's legacy HS256 secret; zero rejects HS256.
	JWTSecret secret.String
	// JWKSRefetchInterval is the least time between key-set refetches
	// caused by tokens with an unknown kid.
	JWKSRefetchInterval time.Duration
	// JWKSRefreshInterval is the period of the background key-set
	// refresh: how long a key the auth server stopped publishing stays
	// accepted.
	JWKSRefreshInterval time.Duration
	// JWTLeeway is the clock skew tolerated on exp, iat and nbf; 0 for
	// none.
	JWTLeeway time.Duration
	// JWTCacheSize is the number of verified tokens remembered; 0 for none.
	JWTCacheSize int
	// RequireMFA refuses getting, rotating and revoking keys to callers
	// whose token is not aal2 (REQUIRE_MFA).
	RequireMFA bool

	AWSRegion string
	// AWSEndpointIVS overrides the IVS endpoint (AWS_ENDPOINT_URL_IVS).
	AWSEndpointIVS string
	// AWSEndpointSecretsManager overrides the Secrets Manager endpoint
	// (AWS_ENDPOINT_URL_SECRETS_MANAGER) for the secrets given by ARN.
	AWSEndpointSecretsManager string
	// AWSEndpointKMS overrides the KMS endpoint (AWS_ENDPOINT_URL_KMS).
	AWSEndpointKMS string
	// AWSEndpointSQS overrides the SQS endpoint (AWS_ENDPOINT_URL_SQS).
	AWSEndpointSQS string
	// EventsQueueURL is the SQS queue of IVS events serve polls
	// (IVS_EVENTS_QUEUE_URL); "" for none. EventsQueueRegion is its
	// region: its host's, else AWSRegion.
	EventsQueueURL     string
	EventsQueueRegion  string
	AWSAccessKeyID     string
	AWSSecretAccessKey secret.String
	AWSSessionToken    secret.String

	CORSAllowedOrigins []string
	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// (TRUSTED_PROXIES); empty: the client IP is the socket's peer.
	TrustedProxies    []netip.Prefix
	LogLevel          slog.Level
	StreamKeyCacheTTL time.Duration
	// RequestsPerMinute limits each user's requests per process (in the
	// database in AWS Lambda mode); 0 for none.
	RequestsPerMinute int
	// RequestsPerMinutePerIP limits each client IP's requests likewise;
	// 0 for none.
	RequestsPerMinutePerIP int
	// StreamStatusRequestsPerMinute limits each user's stream status reads,
	// in a bucket apart from RequestsPerMinute; 0 for none.
	StreamStatusRequestsPerMinute int
	// RequestLimitsInDatabase keeps the request limits in the database,
	// shared by every replica (RATE_LIMIT_STORE=database), instead of each
	// process's memory. The default in AWS Lambda, where every concurrent
	// request may have an environment, and so a limiter, of its own.
	RequestLimitsInDatabase bool
	// KeyCreatesPerHour limits each seller's key creations and rotations,
	// across replicas; 0 for none.
	KeyCreatesPerHour int
	// IVSCallsPerSecond is the IVS call budget of all replicas together;
	// 0 for none.
	IVSCallsPerSecond float64
	// IVSBudgetWait is how long a request may wait for IVS call budget.
	IVSBudgetWait time.Duration
	// IVSSellerCallsPerSecond is each seller's share of the IVS call
	// budget, across replicas; 0 for no share.
	IVSSellerCallsPerSecond float64
	// IVSSellerBurst is how many IVS calls a seller may have reserved
	// ahead of their share's rate; at least one rotation's five (the
	// default, 20, admits a panel of several shows read from IVS at once,
	// and holds at most 5 s of the whole budget).
	IVSSellerBurst int
	// StreamKeyMaxAge rotates keys older than this (since first seen) when
	// their channel is offline; 0 for never.
	StreamKeyMaxAge time.Duration
	// StreamKeyEncryptionKeyID names StreamKeyEncryptionKey in what it
	// seals.
	StreamKeyEncryptionKeyID string
	// StreamKeyEncryptionKey is the key store's master key, in base64;
	// zero for no key store.
	StreamKeyEncryptionKey secret.String
	// StreamKeyKMSKeyID is the KMS key (id, ARN or alias) that wraps the
	// key store's data key: the KMS option of the key store, exclusive
	// with StreamKeyEncryptionKey.
	StreamKeyKMSKeyID string
	// StreamKeyDecryptionKeys are the master keys being retired, as
	// id:key,id:key.
	StreamKeyDecryptionKeys secret.String
	// StreamKeyVerifyInterval is how old a stored key's last check against
	// IVS may be before a request starts another; 0 for never.
	StreamKeyVerifyInterval time.Duration
	// PprofAddr is a loopback address serving net/http/pprof; "" for none.
	PprofAddr string
	// MetricsToken, when set, is the bearer token GET /metrics requires.
	MetricsToken secret.String
	// IVSEventsToken, when set, is the bearer token POST
	// /functions/v1/ivs-events requires; zero: no such route.
	IVSEventsToken secret.String
	// AuditRetention is how long audit rows are kept; 0 keeps them for
	// ever.
	AuditRetention time.Duration

	// streamReconcileInterval is STREAM_RECONCILE_INTERVAL as set, when
	// streamReconcileIntervalSet; StreamReconcileInterval applies the
	// default.
	streamReconcileInterval    time.Duration
	streamReconcileIntervalSet bool

	// Origins says, for each Sourced secret variable that was given, where
	// its value came from (see Origin).
	Origins map[string]Origin
}

// Load reads the configuration through getenv without reading a secret
// given by reference: a variable given as X_FILE or X_SECRET_ARN is left
// empty, its Origin unread (RequireDatabase says so). It is LoadFrom with
// no Sources, for what needs no secret (healthcheck's port) and for tests;
// the commands load through internal/app, which reads them.
func Load(getenv func(string) string) (Config, error) {
	return LoadFrom(context.Background(), getenv, Sources{})
}

// LoadFrom reads the configuration through getenv, variable by variable as
// the table (Vars) lists them, and validates every variable that is set.
// Each secret variable X that the table marks Sourced may instead be given
// as X_FILE (read through src.ReadFile, one trailing newline trimmed) or
// X_SECRET_ARN (read through src.SecretValue, arn#field taking a field of a
// JSON secret), once each; two of them for one variable is an error.
// Config.Origins records where each came from.
//
// The errors name the variable (and the file or secret ARN), never a
// secret's value; all of them are reported at once. Which variables are
// required depends on the command: see RequireServe and RequireDatabase.
func LoadFrom(ctx context.Context, getenv func(string) string, src Sources) (Config, error) {
	l := loader{getenv: getenv}
	var c Config
	l.getenv, c.Origins = l.resolveSecrets(ctx, src)
	for i := range table {
		l.v = &table[i]
		table[i].load(&l, &c)
	}
	return c, l.err()
}

// RequestTimeout is how long a request may work: it may wait for IVS call
// budget (IVS_BUDGET_WAIT), then needs time for its IVS calls.
func (c Config) RequestTimeout() time.Duration { return c.IVSBudgetWait + 30*time.Second }

// StreamReconcileInterval is how often serve reconciles the stored stream
// states with IVS (STREAM_RECONCILE_INTERVAL): as set, else 1m when IVS
// events are received (IVS_EVENTS_TOKEN or IVS_EVENTS_QUEUE_URL), else 0,
// never. Why on only with events: without them there is no stored state to
// heal, and a reconciliation would spend IVS calls (ListStreams) that
// nothing reads.
func (c Config) StreamReconcileInterval() time.Duration {
	switch {
	case c.streamReconcileIntervalSet:
		return c.streamReconcileInterval
	case !c.IVSEventsToken.IsZero() || c.EventsQueueURL != "":
		return defaultReconcileInterval
	}
	return 0
}

// The bounds of STREAM_RECONCILE_INTERVAL.
const (
	defaultReconcileInterval = time.Minute
	// minReconcileInterval keeps the reconciliation's ListStreams calls
	// (one per region and 100 live channels) a small part of the IVS
	// budget.
	minReconcileInterval = 10 * time.Second
)

// MasterKeys are the key store's master keys: STREAM_KEY_ENCRYPTION_KEY to
// seal with, and STREAM_KEY_DECRYPTION_KEYS to open with too; ok is false
// when no key store is configured. Its errors never quote a key.
func (c Config) MasterKeys() (current keyvault.Key, retiring []keyvault.Key, ok bool, err error) {
	if c.StreamKeyEncryptionKey.IsZero() {
		return keyvault.Key{}, nil, false, nil
	}
	current, err = keyvault.ParseKey(c.StreamKeyEncryptionKeyID, c.StreamKeyEncryptionKey.Reveal())
	if err != nil {
		return keyvault.Key{}, nil, false, fmt.Errorf("STREAM_KEY_ENCRYPTION_KEY: %w", err)
	}
	for i, pair := range splitList(c.StreamKeyDecryptionKeys.Reveal()) {
		// The errors name the entry by its place: a malformed entry may
		// have its key where the id should be.
		id, encoded, _ := strings.Cut(pair, ":")
		k, err := keyvault.ParseKey(strings.TrimSpace(id), encoded)
		if err != nil {
			return keyvault.Key{}, nil, false, fmt.Errorf("entry %d is not id:key, with an id of 1 to 32 characters "+
				"of A-Z a-z 0-9 . _ - and a key of 32 bytes in base64", i+1)
		}
		retiring = append(retiring, k)
	}
	if _, err := keyvault.NewKeyring(current, retiring...); err != nil {
		return keyvault.Key{}, nil, false, err
	}
	return current, retiring, true, nil
}

// KeyStore reports whether a key store is configured: master keys or a
// KMS key.
func (c Config) KeyStore() bool {
	return !c.StreamKeyEncryptionKey.IsZero() || c.StreamKeyKMSKeyID != ""
}

// RequireDatabase reports a missing DATABASE_URL.
func (c Config) RequireDatabase() error {
	if !c.DatabaseURL.IsZero() {
		return nil
	}
	switch o := c.Origin("DATABASE_URL"); {
	case o.Kind == OriginUnset:
		return &VarError{Name: "DATABASE_URL", msg: "DATABASE_URL is required (or DATABASE_URL_FILE, DATABASE_URL_SECRET_ARN): " +
			"a PostgreSQL URL such as postgres://user:password@host:5432/postgres"}
	case !o.Read:
		// Given, but by a reference this load did not read (config.Load),
		// or one whose reading failed, which Load has reported already.
		return &VarError{Name: "DATABASE_URL", msg: "DATABASE_URL: " + o.Var + " was not read"}
	}
	return nil
}

// RequireServe reports what `serve` needs and lacks.
func (c Config) RequireServe() error {
	errs := []error{c.RequireDatabase()}
	if c.SupabaseURL == "" {
		errs = append(errs, &VarError{Name: "SUPABASE_URL", msg: "SUPABASE_URL is required: your project's URL, such as https://<ref>.supabase.co"})
	}
	return errors.Join(errs...)
}

// VarError is a problem with one environment variable. Load and the Require
// methods join them, one per problem; errors.As finds each.
type VarError struct {
	// Name is the variable, such as DATABASE_URL (also for a problem with
	// DATABASE_URL_FILE or DATABASE_URL_SECRET_ARN).
	Name string
	msg  string // names the variable; never quotes a secret
	err  error  // the cause, if any
}

func (e *VarError) Error() string { return e.msg }

// Unwrap returns the cause: a file's or Secrets Manager's error.
func (e *VarError) Unwrap() error { return e.err }

// Print writes the effective configuration, one VARIABLE=value a line in
// the table's order, with every secret redacted: the JWT secret, the AWS
// secret and session token, the metrics token, the database password, and
// the user info, query and fragment of the other URLs (an API key in
// ?apikey=, a proxy's password). A secret that was given says where it came
// from after a '#': "  # from file /run/secrets/database_url
// (DATABASE_URL_FILE)". It is what `serve --print-config` shows.
func (c Config) Print(w io.Writer) error {
	for _, v := range table {
		origin := ""
		if o := c.Origin(v.Name); v.Sourced() && o.Kind != OriginUnset {
			origin = "  # " + o.String()
		}
		if _, err := fmt.Fprintf(w, "%s=%s%s\n", v.Name, v.show(c), origin); err != nil {
			return err
		}
	}
	return nil
}
