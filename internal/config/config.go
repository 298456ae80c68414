// Package config reads ivs-ingest's configuration from environment variables,
// validates it once, and prints it with every secret redacted.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/logging"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// Config is the service's configuration.
type Config struct {
	Port             int
	DatabaseURL      secret.String // may carry a password
	DatabaseMaxConns int32

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

	AWSRegion string
	// AWSEndpointIVS overrides the IVS endpoint (AWS_ENDPOINT_URL_IVS).
	AWSEndpointIVS     string
	AWSAccessKeyID     string
	AWSSecretAccessKey secret.String
	AWSSessionToken    secret.String

	CORSAllowedOrigins []string
	LogLevel           slog.Level
	StreamKeyCacheTTL  time.Duration
	// RequestsPerMinute limits each user's requests per process (in the
	// database in AWS Lambda mode); 0 for none.
	RequestsPerMinute int
	// RequestsPerMinutePerIP limits each client IP's requests likewise;
	// 0 for none.
	RequestsPerMinutePerIP int
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
	// PprofAddr is a loopback address serving net/http/pprof; "" for none.
	PprofAddr string
	// MetricsToken, when set, is the bearer token GET /metrics requires.
	MetricsToken secret.String
	// AuditRetention is how long audit rows are kept; 0 keeps them for
	// ever.
	AuditRetention time.Duration
}

// Load reads the configuration through getenv and validates every variable
// that is set. The errors name the variable; all of them are reported at once.
// Which variables are required depends on the command: see RequireServe and
// RequireDatabase.
func Load(getenv func(string) string) (Config, error) {
	p := parser{getenv: getenv}
	c := Config{
		Port:                    p.int("PORT", 8080, 0, 65535),
		DatabaseURL:             secret.New(strings.TrimSpace(getenv("DATABASE_URL"))),
		DatabaseMaxConns:        int32(p.int("DATABASE_MAX_CONNS", 20, 2, 1000)),
		SupabaseURL:             strings.TrimRight(strings.TrimSpace(getenv("SUPABASE_URL")), "/"),
		JWTIssuer:               strings.TrimSpace(getenv("SUPABASE_JWT_ISSUER")),
		JWKSURL:                 strings.TrimSpace(getenv("SUPABASE_JWKS_URL")),
		JWTSecret:               secret.New(getenv("SUPABASE_JWT_SECRET")),
		JWKSRefetchInterval:     p.duration("JWKS_MIN_REFETCH_INTERVAL", 30*time.Second),
		AWSRegion:               strings.TrimSpace(getenv("AWS_REGION")),
		AWSEndpointIVS:          strings.TrimSpace(getenv("AWS_ENDPOINT_URL_IVS")),
		AWSAccessKeyID:          strings.TrimSpace(getenv("AWS_ACCESS_KEY_ID")),
		AWSSecretAccessKey:      secret.New(getenv("AWS_SECRET_ACCESS_KEY")),
		AWSSessionToken:         secret.New(getenv("AWS_SESSION_TOKEN")),
		CORSAllowedOrigins:      splitList(getenv("CORS_ALLOWED_ORIGINS")),
		StreamKeyCacheTTL:       p.duration("STREAM_KEY_CACHE_TTL", 5*time.Minute),
		RequestsPerMinute:       p.int("RATE_LIMIT_REQUESTS_PER_MINUTE", 120, 0, 1_000_000),
		RequestsPerMinutePerIP:  p.int("RATE_LIMIT_REQUESTS_PER_MINUTE_PER_IP", 0, 0, 1_000_000),
		KeyCreatesPerHour:       p.int("RATE_LIMIT_KEY_CREATES_PER_HOUR", 10, 0, 1_000_000),
		IVSCallsPerSecond:       p.float("IVS_MAX_CALLS_PER_SECOND", 4, 0, 1000),
		IVSBudgetWait:           p.duration("IVS_BUDGET_WAIT", 90*time.Second),
		IVSSellerCallsPerSecond: p.float("IVS_MAX_CALLS_PER_SECOND_PER_SELLER", 1, 0, 1000),
		// The least is one whole rotation (GetChannel, ListStreamKeys,
		// DeleteStreamKey, StopStream, CreateStreamKey).
		IVSSellerBurst:  p.int("IVS_MAX_QUEUED_CALLS_PER_SELLER", 20, 5, 1000),
		StreamKeyMaxAge: p.duration("STREAM_KEY_MAX_AGE", 0),
		PprofAddr:       strings.TrimSpace(getenv("PPROF_ADDR")),
		MetricsToken:    secret.New(strings.TrimSpace(getenv("METRICS_TOKEN"))),
		AuditRetention:  p.days("AUDIT_RETENTION", 400*24*time.Hour),
	}
	switch store := strings.ToLower(strings.TrimSpace(getenv("RATE_LIMIT_STORE"))); store {
	case "":
		c.RequestLimitsInDatabase = getenv("AWS_LAMBDA_RUNTIME_API") != ""
	case "memory", "database":
		c.RequestLimitsInDatabase = store == "database"
	default:
		p.fail("RATE_LIMIT_STORE", fmt.Sprintf("%q is not memory or database", store))
	}
	if c.AWSRegion == "" {
		c.AWSRegion = "us-east-1"
	}
	if c.AWSEndpointIVS == "" {
		// The SDK's general override applies to every service.
		c.AWSEndpointIVS = strings.TrimSpace(getenv("AWS_ENDPOINT_URL"))
	}
	if len(c.CORSAllowedOrigins) == 0 {
		c.CORSAllowedOrigins = []string{"*"}
	}
	level, err := logging.ParseLevel(getenv("LOG_LEVEL"))
	if err != nil {
		p.fail("LOG_LEVEL", err.Error())
	}
	c.LogLevel = level

	if c.SupabaseURL != "" {
		p.httpURL("SUPABASE_URL", c.SupabaseURL)
		if c.JWTIssuer == "" {
			c.JWTIssuer = c.SupabaseURL + "/auth/v1"
		}
		if c.JWKSURL == "" {
			c.JWKSURL = c.SupabaseURL + "/auth/v1/.well-known/jwks.json"
		}
	}
	if strings.TrimSpace(getenv("SUPABASE_JWKS_URL")) != "" {
		// Only when set: one derived from a bad SUPABASE_URL is that error.
		p.httpURL("SUPABASE_JWKS_URL", c.JWKSURL)
	}
	if c.AWSEndpointIVS != "" {
		p.httpURL("AWS_ENDPOINT_URL_IVS", c.AWSEndpointIVS)
	}
	if n := len(c.JWTSecret.Reveal()); n > 0 && n < 32 {
		// Supabase's own minimum; a shorter HMAC key could be brute-forced
		// from any token it signed.
		p.fail("SUPABASE_JWT_SECRET", fmt.Sprintf("is %d bytes long, want at least 32 (Project Settings, JWT Keys, Legacy JWT secret)", n))
	}
	if c.PprofAddr != "" {
		// Profiles show memory and request data: never on a public address.
		host, _, err := net.SplitHostPort(c.PprofAddr)
		ip := net.ParseIP(host)
		if err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			p.fail("PPROF_ADDR", fmt.Sprintf("%q is not a loopback address such as 127.0.0.1:6060", c.PprofAddr))
		}
	}
	if n := len(c.MetricsToken.Reveal()); n > 0 && n < 16 {
		p.fail("METRICS_TOKEN", fmt.Sprintf("is %d characters long, want at least 16 (e.g. openssl rand -hex 32)", n))
	}
	if (c.AWSAccessKeyID == "") != c.AWSSecretAccessKey.IsZero() {
		p.fail("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together")
	}
	for _, o := range c.CORSAllowedOrigins {
		if o != "*" {
			p.httpURL("CORS_ALLOWED_ORIGINS", o)
		}
	}
	return c, p.err()
}

// RequestTimeout is how long a request may work: it may wait for IVS call
// budget (IVS_BUDGET_WAIT), then needs time for its IVS calls.
func (c Config) RequestTimeout() time.Duration { return c.IVSBudgetWait + 30*time.Second }

// RequireDatabase reports a missing DATABASE_URL.
func (c Config) RequireDatabase() error {
	if c.DatabaseURL.IsZero() {
		return &VarError{Name: "DATABASE_URL", msg: "DATABASE_URL is required: a PostgreSQL URL such as postgres://user:password@host:5432/postgres"}
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

type parser struct {
	getenv func(string) string
	errs   []error
}

func (p *parser) fail(name, msg string) {
	p.errs = append(p.errs, &VarError{Name: name, msg: name + ": " + msg})
}

// VarError is a problem with one environment variable. Load and the Require
// methods join them, one per problem; errors.As finds each.
type VarError struct {
	// Name is the variable, such as DATABASE_URL.
	Name string
	msg  string // names the variable; never quotes a secret
}

func (e *VarError) Error() string { return e.msg }

func (p *parser) err() error { return errors.Join(p.errs...) }

func (p *parser) int(name string, def, lo, hi int) int {
	s := strings.TrimSpace(p.getenv(name))
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		p.fail(name, fmt.Sprintf("%q is not a whole number from %d to %d", s, lo, hi))
		return def
	}
	return n
}

func (p *parser) float(name string, def, lo, hi float64) float64 {
	s := strings.TrimSpace(p.getenv(name))
	if s == "" {
		return def
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < lo || f > hi {
		p.fail(name, fmt.Sprintf("%q is not a number from %g to %g", s, lo, hi))
		return def
	}
	return f
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	s := strings.TrimSpace(p.getenv(name))
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		p.fail(name, fmt.Sprintf("%q is not a duration such as 30s or 5m", s))
		return def
	}
	return d
}

// days is duration that also takes whole days, such as 400d.
func (p *parser) days(name string, def time.Duration) time.Duration {
	s := strings.TrimSpace(p.getenv(name))
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d < 0 || d > 100*365 {
			p.fail(name, fmt.Sprintf("%q is not a duration such as 400d or 9600h", s))
			return def
		}
		return time.Duration(d) * 24 * time.Hour
	}
	return p.duration(name, def)
}

func (p *parser) httpURL(name, s string) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		// Not echoed: an unparsable value may still carry a password.
		p.fail(name, "is not a valid URL")
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		p.fail(name, fmt.Sprintf("%q is not an http(s) URL", secret.RedactURL(s)))
	}
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

// Print writes the effective configuration, one VARIABLE=value a line, with
// every secret redacted: the JWT secret, the AWS secret and session token,
// the database password, and the user info, query and fragment of the other
// URLs (an API key in ?apikey=, a proxy's password). It is what
// `serve --print-config` shows.
func (c Config) Print(w io.Writer) error {
	dbURL := ""
	if !c.DatabaseURL.IsZero() {
		dbURL = "[REDACTED]" // an unparsable URL could hide a password anywhere
		if u, err := url.Parse(c.DatabaseURL.Reveal()); err == nil && u.Scheme != "" {
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
			dbURL = u.Redacted()
		}
	}
	rows := []struct{ name, value string }{
		{"PORT", strconv.Itoa(c.Port)},
		{"DATABASE_URL", dbURL},
		{"DATABASE_MAX_CONNS", strconv.Itoa(int(c.DatabaseMaxConns))},
		{"SUPABASE_URL", secret.RedactURL(c.SupabaseURL)},
		{"SUPABASE_JWT_ISSUER", secret.RedactURL(c.JWTIssuer)},
		{"SUPABASE_JWKS_URL", secret.RedactURL(c.JWKSURL)},
		{"SUPABASE_JWT_SECRET", c.JWTSecret.String()},
		{"JWKS_MIN_REFETCH_INTERVAL", c.JWKSRefetchInterval.String()},
		{"AWS_REGION", c.AWSRegion},
		{"AWS_ENDPOINT_URL_IVS", secret.RedactURL(c.AWSEndpointIVS)},
		{"AWS_ACCESS_KEY_ID", c.AWSAccessKeyID},
		{"AWS_SECRET_ACCESS_KEY", c.AWSSecretAccessKey.String()},
		{"AWS_SESSION_TOKEN", c.AWSSessionToken.String()},
		{"CORS_ALLOWED_ORIGINS", strings.Join(c.CORSAllowedOrigins, ",")},
		{"LOG_LEVEL", strings.ToLower(c.LogLevel.String())},
		{"STREAM_KEY_CACHE_TTL", c.StreamKeyCacheTTL.String()},
		{"STREAM_KEY_MAX_AGE", c.StreamKeyMaxAge.String()},
		{"RATE_LIMIT_REQUESTS_PER_MINUTE", strconv.Itoa(c.RequestsPerMinute)},
		{"RATE_LIMIT_REQUESTS_PER_MINUTE_PER_IP", strconv.Itoa(c.RequestsPerMinutePerIP)},
		{"RATE_LIMIT_STORE", map[bool]string{false: "memory", true: "database"}[c.RequestLimitsInDatabase]},
		{"RATE_LIMIT_KEY_CREATES_PER_HOUR", strconv.Itoa(c.KeyCreatesPerHour)},
		{"IVS_MAX_CALLS_PER_SECOND", strconv.FormatFloat(c.IVSCallsPerSecond, 'g', -1, 64)},
		{"IVS_BUDGET_WAIT", c.IVSBudgetWait.String()},
		{"IVS_MAX_CALLS_PER_SECOND_PER_SELLER", strconv.FormatFloat(c.IVSSellerCallsPerSecond, 'g', -1, 64)},
		{"IVS_MAX_QUEUED_CALLS_PER_SELLER", strconv.Itoa(c.IVSSellerBurst)},
		{"PPROF_ADDR", c.PprofAddr},
		{"METRICS_TOKEN", c.MetricsToken.String()},
		{"AUDIT_RETENTION", c.AuditRetention.String()},
	}
	for _, r := range rows {
		if _, err := fmt.Fprintf(w, "%s=%s\n", r.name, r.value); err != nil {
			return err
		}
	}
	return nil
}
