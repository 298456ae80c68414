package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/keyvault"
	"github.com/ivs-ingest/ivs-ingest/internal/logging"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// Group is the part of the service a variable configures.
type Group string

// The groups, as the documentation names them.
const (
	GroupHTTP     Group = "HTTP"
	GroupDatabase Group = "database"
	GroupAuth     Group = "auth"
	GroupAWS      Group = "AWS"
	GroupKeys     Group = "stream keys"
	GroupLimits   Group = "limits"
	GroupOps      Group = "operations"
)

// Var is one environment variable of the configuration: the table (Vars)
// holds each once, and it drives Load, Print, doctor's checks and the
// configuration document (docs/configuration.md).
type Var struct {
	Name  string
	Group Group
	// Default is the value taken when the variable is unset or blank,
	// written as one would set it; "" for none.
	Default string
	// DefaultDoc describes a default that Default cannot say (one derived
	// from other variables, or none because the variable is required), for
	// the documentation; "" when Default says it.
	DefaultDoc string
	// Doc says what the variable does, in markdown.
	Doc string
	// Secret marks a value that is never printed, logged or quoted in an
	// error as it is: Print shows it redacted.
	Secret bool
	// Reach marks a variable that says where, or as whom, the service
	// reaches its group's dependency: doctor skips its check of that
	// dependency when one is wrong.
	Reach bool

	// load parses and validates the variable into c, reporting problems
	// through l; it may read the fields of the variables before it.
	load func(l *loader, c *Config)
	// show is the variable's effective value for Print, redacted.
	show func(c Config) string
}

// Vars returns the table of variables, in the order Load reads them and
// Print prints them.
func Vars() []Var { return append([]Var(nil), table...) }

// Why Secret and show both: show does the redacting (a database URL keeps
// its host), Secret is what the documentation says and what the tests
// check every show against.
var table = []Var{
	{
		Name: "PORT", Group: GroupHTTP, Default: "8080",
		Doc:  "port to listen on, on all interfaces",
		load: func(l *loader, c *Config) { c.Port = l.int(0, 65535) },
		show: func(c Config) string { return strconv.Itoa(c.Port) },
	},
	{
		Name: "DATABASE_URL", Group: GroupDatabase, DefaultDoc: "(required)", Secret: true, Reach: true,
		Doc: "PostgreSQL URL. `serve` works through a transaction-mode pooler (Supavisor/PgBouncer, port 6543); " +
			"`migrate` needs a direct or session-mode connection (port 5432). `dev` uses it instead of its SQLite file when set",
		load: func(l *loader, c *Config) { c.DatabaseURL = secret.New(l.value()) },
		show: func(c Config) string { return redactDatabaseURL(c.DatabaseURL) },
	},
	{
		Name: "DATABASE_MAX_CONNS", Group: GroupDatabase, Default: "20",
		Doc: "connection pool size per process. At most half of it is ever held by key creations (which wait on IVS), " +
			"so a burst of new shows cannot starve requests for existing ones",
		load: func(l *loader, c *Config) { c.DatabaseMaxConns = int32(l.int(2, 1000)) },
		show: func(c Config) string { return strconv.Itoa(int(c.DatabaseMaxConns)) },
	},
	{
		Name: "MAX_ACTIVE_REQUESTS", Group: GroupDatabase, Default: "0",
		Doc: "requests of the authenticated routes worked on at once per process (the admission gate, see docs/operations.md); " +
			"the others wait, before their token is read, until a place frees or their time runs out (`503`). " +
			"`0`: four times `DATABASE_MAX_CONNS`",
		load: func(l *loader, c *Config) { c.MaxActiveRequests = l.int(0, 100000) },
		show: func(c Config) string { return strconv.Itoa(c.MaxActiveRequests) },
	},
	{
		Name: "DATABASE_PREPARED_STATEMENTS", Group: GroupDatabase, Default: "false",
		Doc: "`true` prepares each statement once per connection and reuses its plan (pgx's statement cache): less database " +
			"CPU per request. Only for a connection that keeps prepared statements: a direct or session-mode one (port 5432), " +
			"PgBouncer ≥ 1.21 with `max_prepared_statements`, or Supavisor in session mode. `false` sends every statement unnamed, " +
			"which any pooler in transaction mode (port 6543) passes. See docs/database.md, Prepared statements",
		load: func(l *loader, c *Config) { c.DatabasePreparedStatements = l.bool() },
		show: func(c Config) string { return strconv.FormatBool(c.DatabasePreparedStatements) },
	},
	{
		Name: "SUPABASE_URL", Group: GroupAuth, DefaultDoc: "(required)", Reach: true,
		Doc: "`https://<ref>.supabase.co`. Tokens must be issued by `${SUPABASE_URL}/auth/v1`; keys are fetched from " +
			"`${SUPABASE_URL}/auth/v1/.well-known/jwks.json`",
		load: func(l *loader, c *Config) {
			c.SupabaseURL = strings.TrimRight(l.value(), "/")
			if c.SupabaseURL != "" {
				l.httpURL(c.SupabaseURL)
			}
		},
		show: func(c Config) string { return secret.RedactURL(c.SupabaseURL) },
	},
	{
		Name: "SUPABASE_JWT_ISSUER", Group: GroupAuth, DefaultDoc: "`${SUPABASE_URL}/auth/v1`", Reach: true,
		Doc: "override for self-hosted auth servers",
		load: func(l *loader, c *Config) {
			if c.JWTIssuer = l.value(); c.JWTIssuer == "" && c.SupabaseURL != "" {
				c.JWTIssuer = c.SupabaseURL + "/auth/v1"
			}
		},
		show: func(c Config) string { return secret.RedactURL(c.JWTIssuer) },
	},
	{
		Name: "SUPABASE_JWKS_URL", Group: GroupAuth, DefaultDoc: "`${SUPABASE_URL}/auth/v1/.well-known/jwks.json`", Reach: true,
		Doc: "override for self-hosted auth servers",
		load: func(l *loader, c *Config) {
			if c.JWKSURL = l.value(); c.JWKSURL != "" {
				// Only when set: one derived from a bad SUPABASE_URL is
				// that variable's error.
				l.httpURL(c.JWKSURL)
			} else if c.SupabaseURL != "" {
				c.JWKSURL = c.SupabaseURL + "/auth/v1/.well-known/jwks.json"
			}
		},
		show: func(c Config) string { return secret.RedactURL(c.JWKSURL) },
	},
	{
		Name: "SUPABASE_JWT_SECRET", Group: GroupAuth, Secret: true, Reach: true,
		Doc: "the project's legacy HS256 secret (at least 32 bytes); when unset, HS256 tokens are refused",
		load: func(l *loader, c *Config) {
			c.JWTSecret = secret.New(l.untrimmed())
			if n := len(c.JWTSecret.Reveal()); n > 0 && n < 32 {
				// Supabase's own minimum; a shorter HMAC key could be
				// brute-forced from any token it signed.
				l.fail(fmt.Sprintf("is %d bytes long, want at least 32 (Project Settings, JWT Keys, Legacy JWT secret)", n))
			}
		},
		show: func(c Config) string { return c.JWTSecret.String() },
	},
	{
		Name: "JWKS_MIN_REFETCH_INTERVAL", Group: GroupAuth, Default: "30s",
		Doc:  "least time between key-set fetches caused by tokens with an unknown `kid`",
		load: func(l *loader, c *Config) { c.JWKSRefetchInterval = l.duration() },
		show: func(c Config) string { return c.JWKSRefetchInterval.String() },
	},
	{
		Name: "JWKS_REFRESH_INTERVAL", Group: GroupAuth, Default: "10m",
		Doc: "how often the key set is fetched again in the background (from `1s` to `24h`). A key the auth server no longer " +
			"publishes (rotated out, revoked after a leak) stays accepted until then. See [Tokens](auth.md#delays)",
		load: func(l *loader, c *Config) {
			c.JWKSRefreshInterval = l.durationIn(time.Second, 24*time.Hour)
		},
		show: func(c Config) string { return c.JWKSRefreshInterval.String() },
	},
	{
		Name: "JWT_LEEWAY", Group: GroupAuth, Default: "5s",
		Doc: "clock skew tolerated on a token's `exp`, `iat` and `nbf` (at most `5m`); `0`: none. " +
			"An expired token is accepted for this long after its `exp`",
		load: func(l *loader, c *Config) { c.JWTLeeway = l.durationIn(0, 5*time.Minute) },
		show: func(c Config) string { return c.JWTLeeway.String() },
	},
	{
		Name: "JWT_CACHE_SIZE", Group: GroupAuth, Default: "10000",
		Doc: "verified access tokens remembered per process (from `0` to `100000`, about 250 bytes each), by their SHA-256, " +
			"never the token, until their `exp` plus `JWT_LEEWAY`, so a seller's repeated requests skip the signature check; " +
			"any change of the key set makes them stale, and the sign-out check still runs on every request. `0`: every token " +
			"verified in full every time. See [Tokens](auth.md#the-verified-token-cache)",
		load: func(l *loader, c *Config) { c.JWTCacheSize = l.int(0, 100_000) },
		show: func(c Config) string { return strconv.Itoa(c.JWTCacheSize) },
	},
	{
		Name: "REQUIRE_MFA", Group: GroupAuth, Default: "false",
		Doc: "`true`: getting, rotating and revoking a key need a token whose `aal` is `aal2` (a second factor verified " +
			"in the session), admins' too; others get `403 Multi-factor authentication required`. The audit read stays open. " +
			"See [MFA](mfa.md)",
		load: func(l *loader, c *Config) { c.RequireMFA = l.bool() },
		show: func(c Config) string { return strconv.FormatBool(c.RequireMFA) },
	},
	{
		Name: "AWS_REGION", Group: GroupAWS, Default: "us-east-1", Reach: true,
		Doc:  "the IVS region",
		load: func(l *loader, c *Config) { c.AWSRegion = l.value() },
		show: func(c Config) string { return c.AWSRegion },
	},
	{
		Name: "AWS_ENDPOINT_URL_IVS", Group: GroupAWS, DefaultDoc: "`AWS_ENDPOINT_URL`, else AWS's", Reach: true,
		Doc: "IVS endpoint override (the SDK's standard variable; its general `AWS_ENDPOINT_URL` applies too)",
		load: func(l *loader, c *Config) {
			if c.AWSEndpointIVS = l.value(); c.AWSEndpointIVS == "" {
				// The SDK's general override applies to every service.
				c.AWSEndpointIVS = strings.TrimSpace(l.getenv("AWS_ENDPOINT_URL"))
			}
			if c.AWSEndpointIVS != "" {
				l.httpURL(c.AWSEndpointIVS)
			}
		},
		show: func(c Config) string { return secret.RedactURL(c.AWSEndpointIVS) },
	},
	{
		Name: "AWS_ENDPOINT_URL_SECRETS_MANAGER", Group: GroupAWS, DefaultDoc: "`AWS_ENDPOINT_URL`, else AWS's",
		Doc: "Secrets Manager endpoint override, for the secrets given as `X_SECRET_ARN` (the SDK's standard variable). " +
			"See [Secrets](secrets.md)",
		load: func(l *loader, c *Config) {
			if c.AWSEndpointSecretsManager = l.value(); c.AWSEndpointSecretsManager == "" {
				c.AWSEndpointSecretsManager = strings.TrimSpace(l.getenv("AWS_ENDPOINT_URL"))
			}
			if c.AWSEndpointSecretsManager != "" {
				l.httpURL(c.AWSEndpointSecretsManager)
			}
		},
		show: func(c Config) string { return secret.RedactURL(c.AWSEndpointSecretsManager) },
	},
	{
		Name: "AWS_ENDPOINT_URL_KMS", Group: GroupAWS, DefaultDoc: "`AWS_ENDPOINT_URL`, else AWS's",
		Doc: "KMS endpoint override, for the key store's `STREAM_KEY_KMS_KEY_ID` (the SDK's standard variable). " +
			"See [Key store](key-store.md#aws-kms)",
		load: func(l *loader, c *Config) {
			if c.AWSEndpointKMS = l.value(); c.AWSEndpointKMS == "" {
				c.AWSEndpointKMS = strings.TrimSpace(l.getenv("AWS_ENDPOINT_URL"))
			}
			if c.AWSEndpointKMS != "" {
				l.httpURL(c.AWSEndpointKMS)
			}
		},
		show: func(c Config) string { return secret.RedactURL(c.AWSEndpointKMS) },
	},
	{
		Name: "AWS_ENDPOINT_URL_SQS", Group: GroupAWS, DefaultDoc: "`AWS_ENDPOINT_URL`, else AWS's",
		Doc: "SQS endpoint override, for `IVS_EVENTS_QUEUE_URL` (the SDK's standard variable); unneeded for an `http://127.0.0.1` " +
			"queue URL, which is its own endpoint",
		load: func(l *loader, c *Config) {
			if c.AWSEndpointSQS = l.value(); c.AWSEndpointSQS == "" {
				c.AWSEndpointSQS = strings.TrimSpace(l.getenv("AWS_ENDPOINT_URL"))
			}
			if c.AWSEndpointSQS != "" {
				l.httpURL(c.AWSEndpointSQS)
			}
		},
		show: func(c Config) string { return secret.RedactURL(c.AWSEndpointSQS) },
	},
	{
		Name: "IVS_EVENTS_QUEUE_URL", Group: GroupAWS,
		Doc: "an Amazon SQS queue, the target of the EventBridge rule of IVS stream events: `serve` long-polls it and applies " +
			"each event (for a deployment that exposes no public route to EventBridge), e.g. " +
			"`https://sqs.eu-west-1.amazonaws.com/123456789012/ivs-events` (its region is the host's, else `AWS_REGION`); " +
			"`http://127.0.0.1:<port>/<account>/<name>` for an emulator. See [Stream status](stream-status.md)",
		load: func(l *loader, c *Config) {
			c.EventsQueueURL = l.value()
			if c.EventsQueueURL == "" {
				return
			}
			region, err := queueRegion(c.EventsQueueURL)
			if err != nil {
				l.fail(err.Error())
				return
			}
			if c.EventsQueueRegion = region; region == "" {
				c.EventsQueueRegion = c.AWSRegion
			}
		},
		show: func(c Config) string { return secret.RedactURL(c.EventsQueueURL) },
	},
	{
		Name: "AWS_ACCESS_KEY_ID", Group: GroupAWS, Reach: true,
		Doc:  "static credentials, with `AWS_SECRET_ACCESS_KEY`; unset, the SDK's default chain (profiles, web identity, container and instance roles)",
		load: func(l *loader, c *Config) { c.AWSAccessKeyID = l.value() },
		show: func(c Config) string { return c.AWSAccessKeyID },
	},
	{
		Name: "AWS_SECRET_ACCESS_KEY", Group: GroupAWS, Secret: true, Reach: true,
		Doc: "the secret of `AWS_ACCESS_KEY_ID`; set both or neither",
		load: func(l *loader, c *Config) {
			c.AWSSecretAccessKey = secret.New(l.untrimmed())
			if (c.AWSAccessKeyID == "") != c.AWSSecretAccessKey.IsZero() {
				l.fail("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together")
			}
		},
		show: func(c Config) string { return c.AWSSecretAccessKey.String() },
	},
	{
		Name: "AWS_SESSION_TOKEN", Group: GroupAWS, Secret: true, Reach: true,
		Doc:  "the session token of temporary static credentials (AWS Lambda sets all three)",
		load: func(l *loader, c *Config) { c.AWSSessionToken = secret.New(l.untrimmed()) },
		show: func(c Config) string { return c.AWSSessionToken.String() },
	},
	{
		Name: "CORS_ALLOWED_ORIGINS", Group: GroupHTTP, Default: "*",
		Doc: "comma-separated origins, such as `https://shop.example,https://admin.shop.example`",
		load: func(l *loader, c *Config) {
			if c.CORSAllowedOrigins = splitList(l.value()); len(c.CORSAllowedOrigins) == 0 {
				c.CORSAllowedOrigins = splitList(l.v.Default)
			}
			for _, o := range c.CORSAllowedOrigins {
				if o != "*" {
					l.httpURL(o)
				}
			}
		},
		show: func(c Config) string { return strings.Join(c.CORSAllowedOrigins, ",") },
	},
	{
		Name: "TRUSTED_PROXIES", Group: GroupHTTP,
		Doc: "comma-separated addresses and CIDRs of the proxies in front of the service (a load balancer, CloudFront, nginx), " +
			"such as `10.0.0.0/8,192.0.2.7`. A request from one of them is attributed to the right-most address of " +
			"`X-Forwarded-For` that is not one of them; unset, every request is the socket peer's. Ignored in AWS Lambda, " +
			"where the client is the event's source IP. See [Client IP](client-ip.md)",
		load: func(l *loader, c *Config) {
			for _, entry := range splitList(l.value()) {
				p, ok := parseTrustedProxy(entry)
				if !ok {
					l.fail(fmt.Sprintf("%q is not an IP address or CIDR such as 10.0.0.0/8 or 2001:db8::/32", entry))
					continue
				}
				c.TrustedProxies = append(c.TrustedProxies, p)
			}
		},
		show: func(c Config) string {
			out := make([]string, len(c.TrustedProxies))
			for i, p := range c.TrustedProxies {
				if out[i] = p.String(); p.IsSingleIP() {
					out[i] = p.Addr().String()
				}
			}
			return strings.Join(out, ",")
		},
	},
	{
		Name: "LOG_LEVEL", Group: GroupOps, Default: "info",
		Doc: "`debug`, `info`, `warn` or `error`",
		load: func(l *loader, c *Config) {
			s := l.untrimmed()
			if s == "" {
				s = l.v.Default
			}
			level, err := logging.ParseLevel(s)
			if err != nil {
				l.fail(err.Error())
			}
			c.LogLevel = level
		},
		show: func(c Config) string { return strings.ToLower(c.LogLevel.String()) },
	},
	{
		Name: "STREAM_KEY_CACHE_TTL", Group: GroupKeys, Default: "5m",
		Doc: "how long a key read from IVS is reused from the process's memory without asking IVS again; `0` disables the cache. " +
			"Without a key store it bounds how long a key deleted out of band (in the console) may still be handed out; " +
			"with one, `STREAM_KEY_VERIFY_INTERVAL` does",
		load: func(l *loader, c *Config) { c.StreamKeyCacheTTL = l.duration() },
		show: func(c Config) string { return c.StreamKeyCacheTTL.String() },
	},
	{
		Name: "STREAM_KEY_MAX_AGE", Group: GroupKeys, Default: "0",
		Doc: "keys older than this (a Go duration such as `720h`) are replaced when their channel is offline; `0`: never. " +
			"See [Key expiry](api.md#key-expiry)",
		load: func(l *loader, c *Config) { c.StreamKeyMaxAge = l.duration() },
		show: func(c Config) string { return c.StreamKeyMaxAge.String() },
	},
	{
		Name: "STREAM_KEY_ENCRYPTION_KEY_ID", Group: GroupKeys, Default: "1",
		Doc: "the id of `STREAM_KEY_ENCRYPTION_KEY`, written into every value it seals: 1 to 32 of `A-Z a-z 0-9 . _ -`",
		load: func(l *loader, c *Config) {
			c.StreamKeyEncryptionKeyID = l.value()
			if _, err := keyvault.NewKey(c.StreamKeyEncryptionKeyID); err != nil {
				l.fail(fmt.Sprintf("%q is not 1 to 32 characters of A-Z a-z 0-9 . _ -", c.StreamKeyEncryptionKeyID))
				c.StreamKeyEncryptionKeyID = l.v.Default
			}
		},
		show: func(c Config) string { return c.StreamKeyEncryptionKeyID },
	},
	{
		Name: "STREAM_KEY_ENCRYPTION_KEY", Group: GroupKeys, Secret: true,
		Doc: "the master key of the [key store](key-store.md), which keeps every key sealed in the database so that any " +
			"replica, after any restart, answers a stored key with no IVS call: 32 bytes in base64 (`openssl rand -base64 32`). " +
			"Unset: keys live in each process's memory only",
		load: func(l *loader, c *Config) {
			c.StreamKeyEncryptionKey = secret.New(l.value())
			if !c.StreamKeyEncryptionKey.IsZero() {
				if _, err := keyvault.ParseKey(c.StreamKeyEncryptionKeyID, c.StreamKeyEncryptionKey.Reveal()); err != nil {
					l.fail("is not 32 bytes in base64 (standard or URL-safe alphabet, padding optional)")
				}
			}
		},
		show: func(c Config) string { return c.StreamKeyEncryptionKey.String() },
	},
	{
		Name: "STREAM_KEY_DECRYPTION_KEYS", Group: GroupKeys, Secret: true,
		Doc: "master keys being retired, as `id:key,id:key`: what they sealed still opens, and is sealed again under " +
			"`STREAM_KEY_ENCRYPTION_KEY` when next read (or by `ivs-ingest keys reencrypt`)",
		load: func(l *loader, c *Config) {
			c.StreamKeyDecryptionKeys = secret.New(l.value())
			if c.StreamKeyDecryptionKeys.IsZero() {
				return
			}
			if c.StreamKeyEncryptionKey.IsZero() {
				l.fail("is set without STREAM_KEY_ENCRYPTION_KEY")
				return
			}
			if _, _, _, err := c.MasterKeys(); err != nil {
				l.fail(err.Error())
			}
		},
		show: func(c Config) string { return c.StreamKeyDecryptionKeys.String() },
	},
	{
		Name: "STREAM_KEY_KMS_KEY_ID", Group: GroupKeys,
		Doc: "the [key store](key-store.md#aws-kms) with AWS KMS instead of `STREAM_KEY_ENCRYPTION_KEY`: the KMS key " +
			"(key id, key ARN, `alias/<name>` or alias ARN, in `AWS_REGION`) that wraps the data key the service makes once " +
			"and keeps wrapped in the database; each process unwraps it with one KMS `Decrypt` at start. " +
			"Setting both is an error",
		load: func(l *loader, c *Config) {
			c.StreamKeyKMSKeyID = l.value()
			if c.StreamKeyKMSKeyID != "" && !c.StreamKeyEncryptionKey.IsZero() {
				l.fail("STREAM_KEY_ENCRYPTION_KEY and STREAM_KEY_KMS_KEY_ID are both set: choose one master key source " +
					"(local master keys, or a KMS-wrapped data key)")
			}
		},
		show: func(c Config) string { return c.StreamKeyKMSKeyID },
	},
	{
		Name: "STREAM_KEY_VERIFY_INTERVAL", Group: GroupKeys, Default: "1h",
		Doc: "with a key store, how old a stored key's last check against IVS may be before a request that touches it " +
			"starts another, in the background; a key deleted out of band is noticed within it. `0`: never",
		load: func(l *loader, c *Config) { c.StreamKeyVerifyInterval = l.duration() },
		show: func(c Config) string { return c.StreamKeyVerifyInterval.String() },
	},
	{
		Name: "STREAM_RECONCILE_INTERVAL", Group: GroupOps,
		DefaultDoc: "`1m` when `IVS_EVENTS_TOKEN` or `IVS_EVENTS_QUEUE_URL` is set, else `0`",
		Doc: "how often `serve` corrects the stored [stream status](stream-status.md) from IVS's ListStreams (one replica " +
			"at a time, with background priority in the IVS call budget): `0`, or from `10s` to `24h`; `0`: never " +
			"(`ivs-ingest reconcile-streams` still works on demand). Key expiry trusts a stored state for twice this long",
		load: func(l *loader, c *Config) {
			s, set := l.set()
			if !set {
				return
			}
			d, ok := parseDuration(s)
			if !ok || (d != 0 && (d < minReconcileInterval || d > 24*time.Hour)) {
				l.fail(fmt.Sprintf("%q is not 0 or a duration from %s to 24h", s, short(minReconcileInterval)))
				return
			}
			c.streamReconcileInterval, c.streamReconcileIntervalSet = d, true
		},
		show: func(c Config) string { return c.StreamReconcileInterval().String() },
	},
	{
		Name: "RATE_LIMIT_REQUESTS_PER_MINUTE", Group: GroupLimits, Default: "120",
		Doc:  "requests per user per minute, in bursts of at most 10; `0`: none. See [Limits](operations.md#limits)",
		load: func(l *loader, c *Config) { c.RequestsPerMinute = l.int(0, 1_000_000) },
		show: func(c Config) string { return strconv.Itoa(c.RequestsPerMinute) },
	},
	{
		Name: "RATE_LIMIT_REQUESTS_PER_MINUTE_PER_IP", Group: GroupLimits, Default: "0",
		Doc:  "requests per client IP (IPv6: per /64) per minute, checked before the token is read; `0`: none",
		load: func(l *loader, c *Config) { c.RequestsPerMinutePerIP = l.int(0, 1_000_000) },
		show: func(c Config) string { return strconv.Itoa(c.RequestsPerMinutePerIP) },
	},
	{
		Name: "STREAM_STATUS_REQUESTS_PER_MINUTE", Group: GroupLimits, Default: "60",
		Doc: "reads of `GET /functions/v1/ivs-stream-status` per user per minute, in bursts of at most 10, in a bucket of " +
			"their own (a panel polling a show's status never spends `RATE_LIMIT_REQUESTS_PER_MINUTE`); `0`: none",
		load: func(l *loader, c *Config) { c.StreamStatusRequestsPerMinute = l.int(0, 1_000_000) },
		show: func(c Config) string { return strconv.Itoa(c.StreamStatusRequestsPerMinute) },
	},
	{
		Name: "RATE_LIMIT_STORE", Group: GroupLimits, DefaultDoc: "`memory` (`database` in AWS Lambda)",
		Doc: "where the request limits are kept: `memory`, per process, or `database`, shared by every replica",
		load: func(l *loader, c *Config) {
			switch store := strings.ToLower(l.value()); store {
			case "":
				// In Lambda every concurrent request may have a process,
				// and so a limiter, of its own.
				c.RequestLimitsInDatabase = l.getenv("AWS_LAMBDA_RUNTIME_API") != ""
			case "memory", "database":
				c.RequestLimitsInDatabase = store == "database"
			default:
				l.fail(fmt.Sprintf("%q is not memory or database", store))
			}
		},
		show: func(c Config) string {
			return map[bool]string{false: "memory", true: "database"}[c.RequestLimitsInDatabase]
		},
	},
	{
		Name: "RATE_LIMIT_KEY_CREATES_PER_HOUR", Group: GroupLimits, Default: "10",
		Doc:  "key creations and rotations per seller per hour, across every replica; `0`: none",
		load: func(l *loader, c *Config) { c.KeyCreatesPerHour = l.int(0, 1_000_000) },
		show: func(c Config) string { return strconv.Itoa(c.KeyCreatesPerHour) },
	},
	{
		Name: "IVS_MAX_CALLS_PER_SECOND", Group: GroupLimits, Default: "4",
		Doc:  "IVS calls per second of all replicas together (keep it below AWS's quota of 5); `0`: none",
		load: func(l *loader, c *Config) { c.IVSCallsPerSecond = l.float(0, 1000) },
		show: func(c Config) string { return strconv.FormatFloat(c.IVSCallsPerSecond, 'g', -1, 64) },
	},
	{
		Name: "IVS_BUDGET_WAIT", Group: GroupLimits, Default: "90s",
		Doc:  "longest a request waits for IVS call budget before it answers 503; a request may work for this plus 30 s",
		load: func(l *loader, c *Config) { c.IVSBudgetWait = l.duration() },
		show: func(c Config) string { return c.IVSBudgetWait.String() },
	},
	{
		Name: "IVS_MAX_CALLS_PER_SECOND_PER_SELLER", Group: GroupLimits, Default: "1",
		Doc:  "each seller's share of the IVS call budget, across replicas; `0`: no share",
		load: func(l *loader, c *Config) { c.IVSSellerCallsPerSecond = l.float(0, 1000) },
		show: func(c Config) string { return strconv.FormatFloat(c.IVSSellerCallsPerSecond, 'g', -1, 64) },
	},
	{
		Name: "IVS_MAX_QUEUED_CALLS_PER_SELLER", Group: GroupLimits, Default: "20",
		Doc: "how many IVS calls a seller may reserve ahead of their share's rate: at least one whole rotation's 5 " +
			"(GetChannel, ListStreamKeys, DeleteStreamKey, StopStream, CreateStreamKey)",
		load: func(l *loader, c *Config) { c.IVSSellerBurst = l.int(5, 1000) },
		show: func(c Config) string { return strconv.Itoa(c.IVSSellerBurst) },
	},
	{
		Name: "PPROF_ADDR", Group: GroupOps,
		Doc: "a loopback address (such as `127.0.0.1:6060`) serving `net/http/pprof` on a listener of its own; anything else is refused",
		load: func(l *loader, c *Config) {
			if c.PprofAddr = l.value(); c.PprofAddr != "" {
				// Profiles show memory and request data: never on a
				// public address.
				host, _, err := net.SplitHostPort(c.PprofAddr)
				ip := net.ParseIP(host)
				if err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
					l.fail(fmt.Sprintf("%q is not a loopback address such as 127.0.0.1:6060", c.PprofAddr))
				}
			}
		},
		show: func(c Config) string { return c.PprofAddr },
	},
	{
		Name: "METRICS_TOKEN", Group: GroupOps, Secret: true,
		Doc: "when set (at least 16 characters), `GET /metrics` requires `Authorization: Bearer <METRICS_TOKEN>`; " +
			"unset, it is open to anyone who can reach the port (in Lambda: off, 404)",
		load: func(l *loader, c *Config) {
			c.MetricsToken = secret.New(l.value())
			if n := len(c.MetricsToken.Reveal()); n > 0 && n < 16 {
				l.fail(fmt.Sprintf("is %d characters long, want at least 16 (e.g. openssl rand -hex 32)", n))
			}
		},
		show: func(c Config) string { return c.MetricsToken.String() },
	},
	{
		Name: "IVS_EVENTS_TOKEN", Group: GroupOps, Secret: true,
		Doc: "when set (at least 16 characters), `POST /functions/v1/ivs-events` takes IVS's EventBridge events bearing " +
			"`Authorization: Bearer <IVS_EVENTS_TOKEN>` (an EventBridge connection of type API key sends it); unset, that route " +
			"does not exist (404). See [API](api.md#post-functionsv1ivs-events)",
		load: func(l *loader, c *Config) {
			c.IVSEventsToken = secret.New(l.value())
			if n := len(c.IVSEventsToken.Reveal()); n > 0 && n < 16 {
				// Anyone who guesses it can set any show live or offline.
				l.fail(fmt.Sprintf("is %d characters long, want at least 16 (e.g. openssl rand -hex 32)", n))
			}
		},
		show: func(c Config) string { return c.IVSEventsToken.String() },
	},
	{
		Name: "AUDIT_RETENTION", Group: GroupOps, Default: "400d",
		Doc: "how long audit rows are kept, a Go duration or whole days (`400d` is `9600h`); `0`: for ever. " +
			"See [Retention](api.md#retention)",
		load: func(l *loader, c *Config) { c.AuditRetention = l.days() },
		show: func(c Config) string { return c.AuditRetention.String() },
	},
}

// loader reads the variables for Load, one at a time, and gathers their
// problems.
type loader struct {
	getenv  func(string) string
	v       *Var // the variable being read
	errs    []error
	origins map[string]Origin // of the Sourced secrets, once resolved
}

// untrimmed is the variable's value as set (secrets are taken as they are).
func (l *loader) untrimmed() string { return l.getenv(l.v.Name) }

// value is the variable's value without surrounding spaces; Default when
// that is blank.
func (l *loader) value() string {
	if s := strings.TrimSpace(l.getenv(l.v.Name)); s != "" {
		return s
	}
	return l.v.Default
}

// set reports whether the variable has a value, and that value.
func (l *loader) set() (string, bool) {
	s := strings.TrimSpace(l.getenv(l.v.Name))
	return s, s != ""
}

// fail records a problem with the variable; msg never quotes a secret. A
// secret read from a file or Secrets Manager is named with the variable
// that gave it, where the operator has to look.
func (l *loader) fail(msg string) {
	name := l.v.Name
	if o := l.origins[name]; o.Kind == OriginFile || o.Kind == OriginSecretsManager {
		name += " (from " + o.Var + ")"
	}
	l.errs = append(l.errs, &VarError{Name: l.v.Name, msg: name + ": " + msg})
}

// failErr records a problem with the variable whose message, msg, names
// the variable itself, caused by err (never quoting a secret either).
func (l *loader) failErr(msg string, err error) {
	l.errs = append(l.errs, &VarError{Name: l.v.Name, msg: msg, err: err})
}

func (l *loader) err() error { return errors.Join(l.errs...) }

// parse reads the variable with parse when set, else its Default; a value
// that does not parse is reported with bad (given the value) and the
// Default is taken instead.
func parse[T any](l *loader, parse func(string) (T, bool), bad func(s string) string) T {
	def, ok := parse(l.v.Default)
	if !ok {
		panic("config: the default of " + l.v.Name + " does not parse")
	}
	s, set := l.set()
	if !set {
		return def
	}
	v, ok := parse(s)
	if !ok {
		l.fail(bad(s))
		return def
	}
	return v
}

func (l *loader) int(lo, hi int) int {
	return parse(l, func(s string) (int, bool) {
		n, err := strconv.Atoi(s)
		return n, err == nil && n >= lo && n <= hi
	}, func(s string) string { return fmt.Sprintf("%q is not a whole number from %d to %d", s, lo, hi) })
}

func (l *loader) float(lo, hi float64) float64 {
	return parse(l, func(s string) (float64, bool) {
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil && f >= lo && f <= hi
	}, func(s string) string { return fmt.Sprintf("%q is not a number from %g to %g", s, lo, hi) })
}

// bool reads true or false, in any case (and strconv's 1, t, 0, f).
func (l *loader) bool() bool {
	return parse(l, func(s string) (bool, bool) {
		b, err := strconv.ParseBool(strings.ToLower(s))
		return b, err == nil
	}, func(s string) string { return fmt.Sprintf("%q is not true or false", s) })
}

func parseDuration(s string) (time.Duration, bool) {
	d, err := time.ParseDuration(s)
	return d, err == nil && d >= 0
}

func (l *loader) duration() time.Duration {
	return parse(l, parseDuration, func(s string) string { return fmt.Sprintf("%q is not a duration such as 30s or 5m", s) })
}

// durationIn is duration bounded to [lo, hi].
func (l *loader) durationIn(lo, hi time.Duration) time.Duration {
	return parse(l, func(s string) (time.Duration, bool) {
		d, ok := parseDuration(s)
		return d, ok && d >= lo && d <= hi
	}, func(s string) string {
		return fmt.Sprintf("%q is not a duration from %s to %s", s, short(lo), short(hi))
	})
}

// short writes d as one would set it: 24h, not 24h0m0s.
func short(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := strings.TrimSuffix(d.String(), "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// days is duration that also takes whole days, such as 400d.
func (l *loader) days() time.Duration {
	var inDays bool
	return parse(l, func(s string) (time.Duration, bool) {
		n, ok := strings.CutSuffix(s, "d")
		if inDays = ok; !ok {
			return parseDuration(s)
		}
		d, err := strconv.Atoi(n)
		return time.Duration(d) * 24 * time.Hour, err == nil && d >= 0 && d <= 100*365
	}, func(s string) string {
		if inDays {
			return fmt.Sprintf("%q is not a duration such as 400d or 9600h", s)
		}
		return fmt.Sprintf("%q is not a duration such as 30s or 5m", s)
	})
}

// httpURL reports s, the variable's value, unless it is an http(s) URL.
func (l *loader) httpURL(s string) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		// Not echoed: an unparsable value may still carry a password.
		l.fail("is not a valid URL")
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		l.fail(fmt.Sprintf("%q is not an http(s) URL", secret.RedactURL(s)))
	}
}

var (
	// queueHost is an SQS endpoint's host: sqs.<region>.amazonaws.com (or
	// .com.cn), or the legacy <region>.queue.amazonaws.com.
	queueHost = regexp.MustCompile(`^(?:sqs\.([a-z]{2}(?:-[a-z]+)+-[0-9]+)\.amazonaws\.com(?:\.cn)?|([a-z]{2}(?:-[a-z]+)+-[0-9]+)\.queue\.amazonaws\.com)$`)
	// queuePath is a queue URL's path: /<account>/<name>.
	queuePath = regexp.MustCompile(`^/[0-9]{12}/[A-Za-z0-9_-]{1,80}(?:\.fifo)?$`)
)

// queueRegion checks an SQS queue URL, https://<host>/<account>/<name> (or
// http:// on a loopback host, an emulator's), and returns the region its
// host names ("" when it names none, as a VPC endpoint's does not).
func queueRegion(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("is not a queue URL such as https://sqs.<region>.amazonaws.com/<account>/<name>")
	}
	switch u.Scheme {
	case "https":
	case "http":
		// Plain HTTP only to this host: the emulator of tests and dev.
		if ip, err := netip.ParseAddr(u.Hostname()); (err != nil || !ip.IsLoopback()) && u.Hostname() != "localhost" {
			return "", errors.New("must be an https:// URL (http:// only on 127.0.0.1, for an emulator)")
		}
	default:
		return "", errors.New("must be an https:// URL (http:// only on 127.0.0.1, for an emulator)")
	}
	if !queuePath.MatchString(u.Path) {
		return "", errors.New("does not end in /<12-digit account>/<queue name>")
	}
	if m := queueHost.FindStringSubmatch(u.Hostname()); m != nil {
		return m[1] + m[2], nil
	}
	return "", nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// parseTrustedProxy reads one entry of TRUSTED_PROXIES: a CIDR (host bits
// are masked off) or a single address. An IPv4-mapped IPv6 address counts as
// its IPv4 address, as the client IP's addresses do; a mapped CIDR or an
// address with a zone is refused rather than matched against nothing.
func parseTrustedProxy(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Is4In6() {
			return netip.Prefix{}, false
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// redactDatabaseURL shows a database URL without its password, wherever
// the URL puts it.
func redactDatabaseURL(s secret.String) string {
	if s.IsZero() {
		return ""
	}
	u, err := url.Parse(s.Reveal())
	if err != nil || u.Scheme == "" {
		return "[REDACTED]" // an unparsable URL could hide a password anywhere
	}
	// libpq and pgx also take the password, and the client key's
	// passphrase, as query parameters.
	q := u.Query()
	for _, k := range []string{"password", "sslpassword"} {
		if q.Has(k) {
			q.Set(k, "xxxxx")
		}
	}
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
