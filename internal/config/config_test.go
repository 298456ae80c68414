package config_test

import (
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ivs-ingest/ivs-ingest/internal/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(map[string]string{"SUPABASE_URL": "https://abc.supabase.co/"}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	got := map[string]any{
		"port": c.Port, "maxConns": c.DatabaseMaxConns, "issuer": c.JWTIssuer, "jwks": c.JWKSURL,
		"refetch": c.JWKSRefetchInterval, "region": c.AWSRegion, "cors": c.CORSAllowedOrigins,
		"level": c.LogLevel, "ttl": c.StreamKeyCacheTTL,
	}
	want := map[string]any{
		"port": 8080, "maxConns": int32(20), "issuer": "https://abc.supabase.co/auth/v1",
		"jwks":    "https://abc.supabase.co/auth/v1/.well-known/jwks.json",
		"refetch": 30 * time.Second, "region": "us-east-1", "cors": []string{"*"},
		"level": slog.LevelInfo, "ttl": 5 * time.Minute,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if err := c.RequireServe(); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("RequireServe() without DATABASE_URL = %v, want an error naming it", err)
	}
}

func TestOverrides(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(map[string]string{
		"SUPABASE_URL":         "http://127.0.0.1:54321",
		"SUPABASE_JWT_ISSUER":  "http://auth.internal/issuer",
		"SUPABASE_JWKS_URL":    "http://auth.internal/keys",
		"AWS_ENDPOINT_URL":     "http://127.0.0.1:4566",
		"CORS_ALLOWED_ORIGINS": " https://a.example ,https://b.example,, ",
		"LOG_LEVEL":            "DEBUG",
		"STREAM_KEY_CACHE_TTL": "0",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.JWTIssuer != "http://auth.internal/issuer" || c.JWKSURL != "http://auth.internal/keys" {
		t.Errorf("issuer, jwks = %q, %q; want the overrides", c.JWTIssuer, c.JWKSURL)
	}
	if c.AWSEndpointIVS != "http://127.0.0.1:4566" {
		t.Errorf("AWSEndpointIVS = %q, want AWS_ENDPOINT_URL's value when AWS_ENDPOINT_URL_IVS is unset", c.AWSEndpointIVS)
	}
	if diff := cmp.Diff([]string{"https://a.example", "https://b.example"}, c.CORSAllowedOrigins); diff != "" {
		t.Errorf("CORSAllowedOrigins (-want +got):\n%s", diff)
	}
	if c.LogLevel != slog.LevelDebug || c.StreamKeyCacheTTL != 0 {
		t.Errorf("LogLevel, TTL = %v, %v; want debug, 0", c.LogLevel, c.StreamKeyCacheTTL)
	}
}

func TestErrorsNameEveryBadVariable(t *testing.T) {
	t.Parallel()
	_, err := config.Load(env(map[string]string{
		"PORT":                "-1",
		"LOG_LEVEL":           "loud",
		"SUPABASE_URL":        "ftp://x",
		"SUPABASE_JWT_SECRET": "short-secret-value",
		"METRICS_TOKEN":       "short-token",
	}))
	if err == nil {
		t.Fatal("Load accepted bad values")
	}
	for _, name := range []string{"PORT", "LOG_LEVEL", "SUPABASE_URL", "SUPABASE_JWT_SECRET", "METRICS_TOKEN"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("Load() error %q does not name %s", err, name)
		}
	}
	if strings.Contains(err.Error(), "SUPABASE_JWKS_URL") {
		t.Errorf("Load() error %q blames SUPABASE_JWKS_URL, which was not set", err)
	}
	for _, secret := range []string{"short-secret-value", "short-token"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error quotes a secret: %q", secret)
		}
	}
}

// printed is what Print writes for the configuration vars give.
func printed(t *testing.T, vars map[string]string) string {
	t.Helper()
	c, err := config.Load(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := c.Print(&out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestPrintRedactsAPasswordInTheQuery(t *testing.T) {
	t.Parallel()
	got := printed(t, map[string]string{"DATABASE_URL": "postgres://app@db.example:5432/postgres?sslmode=require&password=db-pa55word&sslpassword=key-pa55phrase"})
	if strings.Contains(got, "db-pa55word") || strings.Contains(got, "key-pa55phrase") {
		t.Fatal("Print() shows the password or the key passphrase given in the query")
	}
	if want := "DATABASE_URL=postgres://app@db.example:5432/postgres?password=xxxxx&sslmode=require&sslpassword=xxxxx  # from the environment\n"; !strings.Contains(got, want) {
		t.Errorf("Print() = %s, want %q", got, want)
	}
}

func TestBadURLErrorsHideCredentialsAndQuery(t *testing.T) {
	t.Parallel()
	_, err := config.Load(env(map[string]string{"SUPABASE_JWKS_URL": "htps://user:jwks-pa55@abc.supabase.co/auth/v1/.well-known/jwks.json?apikey=sb_secret_abc#frag"}))
	if err == nil {
		t.Fatal("Load accepted an htps:// JWKS URL")
	}
	for _, secret := range []string{"jwks-pa55", "sb_secret_abc", "user:", "frag"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Load() error quotes %q: %v", secret, strings.ReplaceAll(err.Error(), secret, "<secret>"))
		}
	}
	if want := `"htps://[REDACTED]@abc.supabase.co/auth/v1/.well-known/jwks.json?[REDACTED]#[REDACTED]" is not an http(s) URL`; !strings.Contains(err.Error(), want) {
		t.Errorf("Load() error = %v, want it to contain %s", err, want)
	}
}

func TestPrintRedactsSecrets(t *testing.T) {
	t.Parallel()
	got := printed(t, map[string]string{
		"DATABASE_URL":          "postgres://app:db-pa55word@db.example:5432/postgres",
		"SUPABASE_URL":          "https://abc.supabase.co",
		"SUPABASE_JWT_SECRET":   "jwt-secret-jwt-secret-jwt-secret-0123456789",
		"AWS_ACCESS_KEY_ID":     "AKIAEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "aws-secret-value",
		"AWS_SESSION_TOKEN":     "aws-session-token",
		"METRICS_TOKEN":         "metrics-token-0123456789",
	})
	for _, secret := range []string{"db-pa55word", "jwt-secret-jwt", "aws-secret-value", "aws-session-token", "metrics-token"} {
		if strings.Contains(got, secret) {
			t.Errorf("Print() shows a secret:\n%s", strings.ReplaceAll(got, secret, "<the secret>"))
		}
	}
	for _, want := range []string{"DATABASE_URL=postgres://app:xxxxx@db.example:5432/postgres  # from the environment\n",
		"SUPABASE_JWT_SECRET=[REDACTED]  # from the environment\n", "AWS_SECRET_ACCESS_KEY=[REDACTED]\n",
		"AWS_ACCESS_KEY_ID=AKIAEXAMPLE\n", "IVS_MAX_CALLS_PER_SECOND=4\n", "PORT=8080\n", "METRICS_TOKEN=[REDACTED]  # from the environment\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("Print() lacks %q:\n%s", want, got)
		}
	}
}

func TestPrintRedactsURLCredentialsAndQueries(t *testing.T) {
	t.Parallel()
	got := printed(t, map[string]string{
		"SUPABASE_URL":         "https://user:pw@abc.supabase.co",
		"SUPABASE_JWKS_URL":    "https://user:pw@abc.supabase.co/auth/v1/.well-known/jwks.json?apikey=sb_secret_TOPSECRET",
		"SUPABASE_JWT_ISSUER":  "https://abc.supabase.co/auth/v1?token=TOPSECRET#TOPSECRET",
		"AWS_ENDPOINT_URL_IVS": "http://proxyuser:pw@127.0.0.1:4566/?TOPSECRET",
	})
	for _, s := range []string{"TOPSECRET", "pw", "apikey", "user"} {
		if strings.Contains(got, s) {
			t.Errorf("Print() shows %q:\n%s", s, got)
		}
	}
	for _, want := range []string{
		"SUPABASE_URL=https://[REDACTED]@abc.supabase.co\n",
		"SUPABASE_JWKS_URL=https://[REDACTED]@abc.supabase.co/auth/v1/.well-known/jwks.json?[REDACTED]\n",
		"SUPABASE_JWT_ISSUER=https://abc.supabase.co/auth/v1?[REDACTED]#[REDACTED]\n",
		"AWS_ENDPOINT_URL_IVS=http://[REDACTED]@127.0.0.1:4566/?[REDACTED]\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Print() lacks %q:\n%s", want, got)
		}
	}
	// Without credentials or query, the URLs show as they are.
	got = printed(t, map[string]string{"SUPABASE_URL": "https://abc.supabase.co", "AWS_ENDPOINT_URL_IVS": "http://127.0.0.1:4566"})
	for _, want := range []string{
		"SUPABASE_URL=https://abc.supabase.co\n",
		"SUPABASE_JWT_ISSUER=https://abc.supabase.co/auth/v1\n",
		"SUPABASE_JWKS_URL=https://abc.supabase.co/auth/v1/.well-known/jwks.json\n",
		"AWS_ENDPOINT_URL_IVS=http://127.0.0.1:4566\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Print() lacks %q:\n%s", want, got)
		}
	}
}

func TestErrorsNameTheirVariable(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(map[string]string{"PORT": "http", "IVS_BUDGET_WAIT": "soon"}))
	errs := []error{err, c.RequireServe()}
	var names []string
	for _, e := range errs {
		for _, one := range e.(interface{ Unwrap() []error }).Unwrap() {
			var ve *config.VarError
			if !errors.As(one, &ve) {
				t.Fatalf("error %q is not a *config.VarError", one)
			}
			names = append(names, ve.Name)
		}
	}
	want := []string{"PORT", "IVS_BUDGET_WAIT", "DATABASE_URL", "SUPABASE_URL"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("variables named by the errors = %v, want %v", names, want)
	}
}

func TestAuditRetention(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		value string
		want  time.Duration
	}{
		{"", 400 * 24 * time.Hour},
		{"0", 0},
		{"0d", 0},
		{"30d", 30 * 24 * time.Hour},
		{"720h", 720 * time.Hour},
	} {
		c, err := config.Load(env(map[string]string{"AUDIT_RETENTION": tt.value}))
		if err != nil || c.AuditRetention != tt.want {
			t.Errorf("AUDIT_RETENTION=%q: %v, %v; want %v", tt.value, c.AuditRetention, err, tt.want)
		}
	}
	for _, bad := range []string{"-1d", "1.5d", "d", "soon", "-5h", "99999999d"} {
		_, err := config.Load(env(map[string]string{"AUDIT_RETENTION": bad}))
		var ve *config.VarError
		if !errors.As(err, &ve) || ve.Name != "AUDIT_RETENTION" {
			t.Errorf("AUDIT_RETENTION=%q: error %v, want one naming AUDIT_RETENTION", bad, err)
		}
	}
	if got := printed(t, nil); !strings.Contains(got, "AUDIT_RETENTION=9600h0m0s\n") {
		t.Errorf("Print() lacks the default AUDIT_RETENTION=9600h0m0s:\n%s", got)
	}
}

// secretValues are valid values of every secret variable, each with a part
// that Print must never show.
var secretValues = map[string]struct{ value, hidden string }{
	"DATABASE_URL":               {"postgres://app:db-pa55word@db.example:5432/postgres", "db-pa55word"},
	"SUPABASE_JWT_SECRET":        {"jwt-secret-jwt-secret-jwt-secret-0123456789", "jwt-secret"},
	"AWS_SECRET_ACCESS_KEY":      {"aws-secret-value", "aws-secret-value"},
	"AWS_SESSION_TOKEN":          {"aws-session-token", "aws-session-token"},
	"METRICS_TOKEN":              {"metrics-token-0123456789", "metrics-token"},
	"IVS_EVENTS_TOKEN":           {"ivs-events-token-0123456789", "ivs-events-token"},
	"STREAM_KEY_ENCRYPTION_KEY":  {"c3RyZWFtLWtleS1lbmNyeXB0aW9uLWtleS0wMTIzNDU=", "c3RyZWFtLWtleS1lbmNyeXB0aW9uLWtleS0wMTIzNDU"},
	"STREAM_KEY_DECRYPTION_KEYS": {"old:b2xkLXN0cmVhbS1rZXktZW5jcnlwdGlvbi1rZXktMDE=", "b2xkLXN0cmVhbS1rZXktZW5jcnlwdGlvbi1rZXktMDE"},
}

// Every variable the table marks secret is redacted by Print; a new secret
// variable fails here until it has a value above.
func TestPrintRedactsEverySecretOfTheTable(t *testing.T) {
	t.Parallel()
	for _, v := range config.Vars() {
		s, ok := secretValues[v.Name]
		if ok != v.Secret {
			t.Errorf("%s: Secret is %v, but secretValues has it: %v", v.Name, v.Secret, ok)
			continue
		}
		if !ok {
			continue
		}
		vars := map[string]string{v.Name: s.value}
		if v.Name == "AWS_SECRET_ACCESS_KEY" {
			vars["AWS_ACCESS_KEY_ID"] = "AKIAEXAMPLE"
		}
		if v.Name == "STREAM_KEY_DECRYPTION_KEYS" {
			vars["STREAM_KEY_ENCRYPTION_KEY"] = secretValues["STREAM_KEY_ENCRYPTION_KEY"].value
		}
		got := printed(t, vars)
		if strings.Contains(got, s.hidden) {
			t.Errorf("Print() with %s set shows it:\n%s", v.Name, strings.ReplaceAll(got, s.hidden, "<the secret>"))
		}
		if !strings.Contains(got, v.Name+"=") {
			t.Errorf("Print() lacks %s:\n%s", v.Name, got)
		}
	}
}

// Print shows every variable of the table, once, in the table's order.
func TestPrintFollowsTheTable(t *testing.T) {
	t.Parallel()
	var names []string
	for l := range strings.Lines(printed(t, nil)) {
		name, _, _ := strings.Cut(l, "=")
		names = append(names, name)
	}
	var want []string
	for _, v := range config.Vars() {
		want = append(want, v.Name)
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("Print()'s variables (-table +printed):\n%s", diff)
	}
}

// The variables that say where and as whom the service reaches a
// dependency: doctor skips that dependency's check when one is wrong.
func TestReachVariables(t *testing.T) {
	t.Parallel()
	got := map[config.Group][]string{}
	for _, v := range config.Vars() {
		if v.Reach {
			got[v.Group] = append(got[v.Group], v.Name)
		}
	}
	want := map[config.Group][]string{
		config.GroupDatabase: {"DATABASE_URL"},
		config.GroupAuth:     {"SUPABASE_URL", "SUPABASE_JWT_ISSUER", "SUPABASE_JWKS_URL", "SUPABASE_JWT_SECRET"},
		config.GroupAWS:      {"AWS_REGION", "AWS_ENDPOINT_URL_IVS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Reach variables by group (-want +got):\n%s", diff)
	}
}

// A bad value of any number or duration variable is named, and the default
// is kept in its place.
func TestBadValuesKeepTheDefault(t *testing.T) {
	t.Parallel()
	defaults, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range config.Vars() {
		_, numErr := strconv.ParseFloat(v.Default, 64)
		_, durErr := time.ParseDuration(strings.TrimSuffix(v.Default, "d") + "h")
		if numErr != nil && durErr != nil || v.Name == "STREAM_KEY_ENCRYPTION_KEY_ID" {
			continue // not a number or a duration (a key id's default, 1, is a name)
		}
		c, err := config.Load(env(map[string]string{v.Name: "not-a-value"}))
		var ve *config.VarError
		if !errors.As(err, &ve) || ve.Name != v.Name || !strings.Contains(err.Error(), `"not-a-value"`) {
			t.Errorf("%s=not-a-value: error %v, want one naming %s and quoting the value", v.Name, err, v.Name)
		}
		if diff := cmp.Diff(defaults, c, cmp.Comparer(func(a, b config.Config) bool {
			var x, y strings.Builder
			_ = a.Print(&x)
			_ = b.Print(&y)
			return x.String() == y.String()
		})); diff != "" {
			t.Errorf("%s=not-a-value did not keep the default (-defaults +got):\n%s", v.Name, diff)
		}
	}
}

func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(map[string]string{"IVS_BUDGET_WAIT": "10s"}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.RequestTimeout(), 40*time.Second; got != want {
		t.Errorf("RequestTimeout() with IVS_BUDGET_WAIT=10s = %v, want %v", got, want)
	}
}

func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(map[string]string{"TRUSTED_PROXIES": " 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,::ffff:198.51.100.1, 203.0.113.9/24,,"}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	var got []string
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	// A single address is its own prefix, a mapped address its IPv4 one, and
	// host bits are masked off.
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "198.51.100.1/32", "203.0.113.0/24"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("TrustedProxies (-want +got):\n%s", diff)
	}
	if p := printed(t, map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.7"}); !strings.Contains(p, "TRUSTED_PROXIES=10.0.0.0/8,192.0.2.7\n") {
		t.Errorf("Print() does not show TRUSTED_PROXIES=10.0.0.0/8,192.0.2.7:\n%s", p)
	}
	if c, err := config.Load(env(nil)); err != nil || len(c.TrustedProxies) != 0 {
		t.Errorf("TRUSTED_PROXIES unset: %v, %v; want none trusted", c.TrustedProxies, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.internal", "10.0.0.1-10.0.0.9", "fe80::1%eth0", "::ffff:10.0.0.0/104", "10.0.0.0/8;192.0.2.7"} {
		_, err := config.Load(env(map[string]string{"TRUSTED_PROXIES": "192.0.2.1," + bad}))
		var ve *config.VarError
		if !errors.As(err, &ve) || ve.Name != "TRUSTED_PROXIES" || !strings.Contains(err.Error(), "TRUSTED_PROXIES") {
			t.Errorf("TRUSTED_PROXIES=192.0.2.1,%s: error %v, want one naming TRUSTED_PROXIES", bad, err)
		}
	}
}

func TestKeyStoreKeys(t *testing.T) {
	t.Parallel()
	const (
		current = "c3RyZWFtLWtleS1lbmNyeXB0aW9uLWtleS0wMTIzNDU="
		old     = "b2xkLXN0cmVhbS1rZXktZW5jcnlwdGlvbi1rZXktMDE" // URL-safe alphabet, no padding
	)
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := c.MasterKeys(); ok || err != nil || c.StreamKeyVerifyInterval != time.Hour || c.StreamKeyEncryptionKeyID != "1" {
		t.Errorf("defaults: MasterKeys() = %v, %v, verify interval %v, key id %q; want no key store, 1h, 1", ok, err, c.StreamKeyVerifyInterval, c.StreamKeyEncryptionKeyID)
	}
	c, err = config.Load(env(map[string]string{"STREAM_KEY_ENCRYPTION_KEY": current, "STREAM_KEY_ENCRYPTION_KEY_ID": "2026-12",
		"STREAM_KEY_DECRYPTION_KEYS": "2026-06:" + old + ", 2025-12:" + current, "STREAM_KEY_VERIFY_INTERVAL": "0"}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	cur, retiring, ok, err := c.MasterKeys()
	if err != nil || !ok || cur.ID != "2026-12" || len(retiring) != 2 || retiring[0].ID != "2026-06" || c.StreamKeyVerifyInterval != 0 {
		t.Fatalf("MasterKeys() = %v, %v, %v, %v; verify interval %v; want 2026-12 and two retiring, 0", cur, retiring, ok, err, c.StreamKeyVerifyInterval)
	}
	for _, tt := range []struct{ name, key, id, retiring, want string }{
		{"short key", "c2hvcnQ=", "", "", "STREAM_KEY_ENCRYPTION_KEY"},
		{"bad id", current, "no spaces", "", "STREAM_KEY_ENCRYPTION_KEY_ID"},
		{"retiring without a key", "", "", "old:" + old, "STREAM_KEY_DECRYPTION_KEYS"},
		{"retiring without an id", current, "", old, "STREAM_KEY_DECRYPTION_KEYS"},
		{"two keys named alike", current, "", "1:" + old, "STREAM_KEY_DECRYPTION_KEYS"},
	} {
		_, err := config.Load(env(map[string]string{"STREAM_KEY_ENCRYPTION_KEY": tt.key, "STREAM_KEY_ENCRYPTION_KEY_ID": tt.id,
			"STREAM_KEY_DECRYPTION_KEYS": tt.retiring}))
		var ve *config.VarError
		if !errors.As(err, &ve) || ve.Name != tt.want {
			t.Errorf("%s: Load() = %v, want an error naming %s", tt.name, err, tt.want)
		}
		if err != nil && (strings.Contains(err.Error(), old) || strings.Contains(err.Error(), strings.TrimRight(current, "="))) {
			t.Errorf("%s: the error quotes a master key", tt.name)
		}
	}
}

// The key store's KMS option: its key and endpoint load, and setting it
// with local master keys is a start-up error naming both.
func TestKMSKeyStore(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(map[string]string{"STREAM_KEY_KMS_KEY_ID": "alias/ivs-ingest", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.StreamKeyKMSKeyID != "alias/ivs-ingest" || c.AWSEndpointKMS != "http://127.0.0.1:4566" || !c.KeyStore() {
		t.Errorf("Load() = KMS key %q, endpoint %q, key store %v; want alias/ivs-ingest, AWS_ENDPOINT_URL's, true",
			c.StreamKeyKMSKeyID, c.AWSEndpointKMS, c.KeyStore())
	}
	if _, _, ok, _ := c.MasterKeys(); ok {
		t.Error("MasterKeys() with the KMS option = ok, want none: the data key comes from KMS")
	}
	c, err = config.Load(env(map[string]string{"STREAM_KEY_KMS_KEY_ID": "k", "AWS_ENDPOINT_URL": "http://a", "AWS_ENDPOINT_URL_KMS": "http://kms"}))
	if err != nil || c.AWSEndpointKMS != "http://kms" {
		t.Errorf("Load(AWS_ENDPOINT_URL_KMS) = %q, %v; want http://kms", c.AWSEndpointKMS, err)
	}
	master := "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="
	_, err = config.Load(env(map[string]string{"STREAM_KEY_ENCRYPTION_KEY": master, "STREAM_KEY_KMS_KEY_ID": "alias/ivs-ingest"}))
	var ve *config.VarError
	if !errors.As(err, &ve) || ve.Name != "STREAM_KEY_KMS_KEY_ID" || !strings.Contains(err.Error(), "STREAM_KEY_ENCRYPTION_KEY") {
		t.Errorf("Load(both) = %v; want an error naming STREAM_KEY_KMS_KEY_ID and STREAM_KEY_ENCRYPTION_KEY", err)
	}
	if err != nil && strings.Contains(err.Error(), strings.TrimRight(master, "=")) {
		t.Error("the error quotes the master key")
	}
}
