package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"

	"github.com/ivs-ingest/ivs-ingest/internal/app"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// runDoctor runs `ivs-ingest doctor` with args and returns its standard
// output and result.
func runDoctor(t *testing.T, getenv func(string) string, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	err := run(context.Background(), append([]string{"doctor", "--timeout", "5s"}, args...), getenv, &out, io.Discard)
	return out.String(), err
}

// linesOf returns the report's lines for check.
func linesOf(out, check string) []string {
	var lines []string
	for l := range strings.Lines(out) {
		f := strings.Fields(l)
		if len(f) >= 2 && f[1] == check {
			lines = append(lines, strings.TrimSuffix(l, "\n"))
		}
	}
	return lines
}

// wantLine fails the test unless check has exactly the one line want.
func wantLine(t *testing.T, out, check, want string) {
	t.Helper()
	if got := linesOf(out, check); len(got) != 1 || got[0] != want {
		t.Errorf("doctor's %s lines = %q,\nwant [%q]\nfull output:\n%s", check, got, want, out)
	}
}

// wantFailed fails the test unless err is doctor's failure (exit 1) naming
// exactly the checks in failed.
func wantFailed(t *testing.T, err error, failed string) {
	t.Helper()
	if !errors.Is(err, errDoctorFailed) || exitCode(err) != 1 || !strings.HasSuffix(err.Error(), ": "+failed) {
		t.Errorf("doctor = %v, want errDoctorFailed (exit 1) naming %q", err, failed)
	}
}

// wantNoSecrets fails the test if out carries one of the secrets.
func wantNoSecrets(t *testing.T, out string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("doctor's output carries a secret (%d bytes):\n%s", len(s), strings.ReplaceAll(out, s, "<the secret>"))
		}
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestDoctorHealthy(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Supabase: true})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	getenv := env.Getenv(nil)

	out, err := runDoctor(t, getenv, "--show", show.ID)
	if err != nil {
		t.Fatalf("doctor on a healthy setup = %v, want nil\n%s", err, out)
	}
	// The config check's INFO lines say where each secret came from.
	wantConfig := []string{
		"PASS  config    every variable serve needs is set and valid",
		"INFO  config    DATABASE_URL from the environment",
		"INFO  config    SUPABASE_JWT_SECRET from the environment",
	}
	if got := linesOf(out, "config"); strings.Join(got, "\n") != strings.Join(wantConfig, "\n") {
		t.Errorf("doctor's config lines = %q,\nwant %q", got, wantConfig)
	}
	// No key store: a fact to act on, not a failure.
	wantLine(t, out, "keys", "INFO  keys      "+app.NoKeyStore)
	wantDatabase := []string{
		fmt.Sprintf("PASS  database  %s reachable, schema %d (this binary's)", postgres.Target(env.DatabaseURL), postgres.SchemaVersion),
		"INFO  database  " + preparedStatementsLine(false),
	}
	if got := linesOf(out, "database"); strings.Join(got, "\n") != strings.Join(wantDatabase, "\n") {
		t.Errorf("doctor's database lines = %q,\nwant %q", got, wantDatabase)
	}
	wantLine(t, out, "columns", "PASS  columns   anon and authenticated cannot write sellers.status, sellers.user_id or user_roles, and trigger zz_ivs_ingest_protect_columns keeps them from shows' ivs_* and seller_id columns")
	wantLine(t, out, "shared", "PASS  shared    no IVS channel is named by shows of two different sellers")
	wantLine(t, out, "jwks", "PASS  jwks      GET "+env.Issuer.JWKSURL()+": 2 usable keys; the legacy HS256 secret is set too")
	wantLine(t, out, "aws", "PASS  aws       credentials from static keys (AWS_ACCESS_KEY_ID), access key ending TEST, region us-east-1, IVS endpoint "+env.EmulatorURL)
	wantLine(t, out, "channel", fmt.Sprintf("PASS  channel   show %s: GetChannel %s readable, ingest endpoint %s", show.ID, show.ChannelARN, show.Channel.IngestEndpoint))
	if n := env.Emulator.Succeeded("GetChannel"); n != 1 {
		t.Errorf("GetChannel succeeded %d times at the emulator, want 1 (the doctor's own call)", n)
	}
	for _, want := range []string{
		"INFO  iam       get-ivs-ingest and provision need ivs:GetChannel, ivs:ListStreamKeys, ivs:GetStreamKey, ivs:CreateStreamKey",
		"INFO  iam       rotate-ivs-stream-key and revoke-ivs-stream-key also need ivs:DeleteStreamKey, ivs:StopStream",
		"INFO  iam       key expiry is off (STREAM_KEY_MAX_AGE unset), so ivs:GetStream is not needed",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("doctor's output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAIL") || !strings.Contains(out, "no check failed") {
		t.Errorf("healthy doctor output has a FAIL or lacks the all-clear:\n%s", out)
	}
	wantNoSecrets(t, out, testenv.SecretAccessKey, env.Issuer.HS256Secret())

	// With a key store.
	out, err = runDoctor(t, env.Getenv(map[string]string{"STREAM_KEY_ENCRYPTION_KEY": testMasterKey, "STREAM_KEY_ENCRYPTION_KEY_ID": "2026-12"}), "--show", show.ID)
	if err != nil {
		t.Fatalf("doctor with a key store = %v\n%s", err, out)
	}
	wantLine(t, out, "keys", `PASS  keys      key store: new values sealed under master key "2026-12", 0 retiring key(s) still open`)
	wantNoSecrets(t, out, testMasterKey)

	// Key expiry on: ivs:GetStream is listed, and --policy prints it.
	out, err = runDoctor(t, env.Getenv(map[string]string{"STREAM_KEY_MAX_AGE": "720h"}), "--policy", "--json")
	if err != nil {
		t.Fatalf("doctor --json = %v\n%s", err, out)
	}
	var doc struct {
		OK     bool
		Checks []checkLine
		Policy struct{ Statement []struct{ Action []string } }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("doctor --json printed %q: %v", out, err)
	}
	// Two statements: the channels' and keys' actions, and ListStreams on "*".
	if !doc.OK || len(doc.Policy.Statement) != 2 || !slices.Contains(doc.Policy.Statement[0].Action, "ivs:GetStream") ||
		!slices.Equal(doc.Policy.Statement[1].Action, []string{"ivs:ListStreams"}) {
		t.Errorf("doctor --json with STREAM_KEY_MAX_AGE = ok %v, policy %+v; want ok, ivs:GetStream in the first statement and ivs:ListStreams alone in the second", doc.OK, doc.Policy)
	}
	if len(doc.Checks) == 0 || doc.Checks[len(doc.Checks)-1].Check != "iam" {
		t.Errorf("doctor --json checks = %+v, want them ending with the iam lines", doc.Checks)
	}
}

func TestDoctorDatabaseDown(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	addr := closedPort(t)
	getenv := env.Getenv(map[string]string{"DATABASE_URL": "postgres://ivs:secretpw@" + addr + "/app?connect_timeout=2"})

	out, err := runDoctor(t, getenv, "--show", testenv.NewID(t))
	wantFailed(t, err, "database")
	wantLine(t, out, "database", "FAIL  database  ivs@"+addr+"/app: cannot connect: dial tcp "+addr+": connect: connection refused: check DATABASE_URL and that the database accepts connections from this host")
	// The checks that do not need the database still run; the one that
	// does is skipped.
	for _, check := range []string{"config", "jwks", "aws"} {
		l := linesOf(out, check)
		if check == "config" {
			// Less the lines saying where the secrets came from.
			l = slices.DeleteFunc(l, func(s string) bool { return strings.HasPrefix(s, "INFO  config    ") })
		}
		if len(l) != 1 || !strings.HasPrefix(l[0], "PASS") {
			t.Errorf("%s lines with the database down = %q, want one PASS", check, l)
		}
	}
	wantLine(t, out, "channel", "SKIP  channel   skipped: needs database")
	wantLine(t, out, "columns", "SKIP  columns   skipped: needs database")
	wantLine(t, out, "shared", "SKIP  shared    skipped: needs database")
	wantNoSecrets(t, out, "secretpw", testenv.SecretAccessKey)
}

func TestDoctorAndServeRefuseAnOldSchema(t *testing.T) {
	t.Parallel()
	const older = 20261125120000 // the first migration's version
	unmigrated := testenv.New(t, testenv.Options{Unmigrated: true})
	rolledBack := testenv.New(t, testenv.Options{})
	pgtest.Exec(t, rolledBack.DatabaseURL, fmt.Sprintf(`UPDATE ivs_ingest.schema_version SET version = %d`, older))

	for _, tt := range []struct {
		name    string
		env     *testenv.Env
		version int64
	}{
		{"unmigrated", unmigrated, 0},
		{"rolled back", rolledBack, older},
	} {
		need := fmt.Sprintf("database schema is at version %d, this binary needs %d: run `ivs-ingest migrate` first", tt.version, postgres.SchemaVersion)
		out, err := runDoctor(t, tt.env.Getenv(nil), "--show", testenv.NewID(t))
		wantFailed(t, err, "database")
		wantLine(t, out, "database", "FAIL  database  "+postgres.Target(tt.env.DatabaseURL)+" reachable, but "+need)
		wantLine(t, out, "channel", "SKIP  channel   skipped: needs database")

		err = run(context.Background(), []string{"serve"}, tt.env.Getenv(nil), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), need) {
			t.Errorf("%s: serve = %v, want a refusal saying %q", tt.name, err, need)
		}
	}
}

func TestDoctorJWKS(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	noSecret := map[string]string{"SUPABASE_JWT_SECRET": ""}

	env.Issuer.SetDown(true)
	out, err := runDoctor(t, env.Getenv(noSecret))
	wantFailed(t, err, "jwks")
	wantLine(t, out, "jwks", "FAIL  jwks      GET "+env.Issuer.JWKSURL()+": status 503: check SUPABASE_URL (or SUPABASE_JWKS_URL) and that the auth server is reachable from this host")

	// Down, but the legacy secret verifies HS256 tokens: a warning only.
	out, err = runDoctor(t, env.Getenv(nil))
	if err != nil {
		t.Errorf("doctor with the JWKS down and the legacy secret set = %v, want nil\n%s", err, out)
	}
	wantLine(t, out, "jwks", "WARN  jwks      GET "+env.Issuer.JWKSURL()+": status 503: only HS256 tokens (SUPABASE_JWT_SECRET) will verify; ES256 and RS256 tokens get 503 until it answers")
	wantNoSecrets(t, out, env.Issuer.HS256Secret())
	env.Issuer.SetDown(false)

	env.Issuer.SetSlow(true)
	out, err = runDoctor(t, env.Getenv(noSecret), "--timeout", "500ms")
	wantFailed(t, err, "jwks")
	wantLine(t, out, "jwks", "FAIL  jwks      GET "+env.Issuer.JWKSURL()+": no answer within 500ms (--timeout): check SUPABASE_URL (or SUPABASE_JWKS_URL) and that the auth server is reachable from this host")
	env.Issuer.SetSlow(false)

	// Keys the verifier would refuse (symmetric, short RSA) do not count.
	env.Issuer.SetJWKS([]byte(`{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"},{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}`))
	out, err = runDoctor(t, env.Getenv(noSecret))
	wantFailed(t, err, "jwks")
	wantLine(t, out, "jwks", "FAIL  jwks      GET "+env.Issuer.JWKSURL()+": no usable keys (2 skipped: not a P-256 or 2048-bit RSA signature key with a kid), and SUPABASE_JWT_SECRET is unset: no token can be verified; check SUPABASE_JWKS_URL or set the legacy secret")
	out, err = runDoctor(t, env.Getenv(nil))
	if err != nil {
		t.Errorf("doctor with an empty JWKS and the legacy secret = %v, want nil\n%s", err, out)
	}
	wantLine(t, out, "jwks", "PASS  jwks      GET "+env.Issuer.JWKSURL()+": no usable keys (2 skipped: not a P-256 or 2048-bit RSA signature key with a kid); the legacy HS256 secret (SUPABASE_JWT_SECRET) is set, so HS256 tokens only")
	env.Issuer.SetJWKS(nil)

	// Nothing listening; the URL's credentials and query are not shown.
	addr := closedPort(t)
	out, err = runDoctor(t, env.Getenv(map[string]string{"SUPABASE_JWT_SECRET": "", "SUPABASE_JWKS_URL": "http://user:jwkspw@" + addr + "/jwks.json?apikey=sb_secret_x"}))
	wantFailed(t, err, "jwks")
	wantLine(t, out, "jwks", "FAIL  jwks      GET http://[REDACTED]@"+addr+"/jwks.json?[REDACTED]: dial tcp "+addr+": connect: connection refused: check SUPABASE_URL (or SUPABASE_JWKS_URL) and that the auth server is reachable from this host")
	wantNoSecrets(t, out, "jwkspw", "sb_secret_x")
	if l := linesOf(out, "database"); len(l) == 0 || !strings.HasPrefix(l[0], "PASS") {
		t.Errorf("database lines with the JWKS down = %q, want a PASS", l)
	}
}

func TestDoctorAWS(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	getChannel := fmt.Sprintf("FAIL  channel   show %s: GetChannel %s: ", show.ID, show.ChannelARN)

	const wrongSecret = "wrongSecretAccessKey/0123456789abcdefghij"
	out, err := runDoctor(t, env.Getenv(map[string]string{"AWS_SECRET_ACCESS_KEY": wrongSecret}), "--show", show.ID)
	wantFailed(t, err, "channel")
	// The credentials resolve; AWS refuses their signature.
	wantLine(t, out, "aws", "PASS  aws       credentials from static keys (AWS_ACCESS_KEY_ID), access key ending TEST, region us-east-1, IVS endpoint "+env.EmulatorURL)
	wantLine(t, out, "channel", getChannel+"AWS refused the request signature (InvalidSignatureException): AWS_SECRET_ACCESS_KEY is not the secret of the access key ending TEST; fix it")
	wantNoSecrets(t, out, wrongSecret, testenv.SecretAccessKey)

	out, err = runDoctor(t, env.Getenv(map[string]string{"AWS_ACCESS_KEY_ID": "AKIAUNKNOWNUNKNOWN00"}), "--show", show.ID)
	wantFailed(t, err, "channel")
	wantLine(t, out, "channel", getChannel+"AWS does not know the access key ending WN00 or its session token (UnrecognizedClientException): the key was deleted or mistyped, or the session token is wrong")

	env.Emulator.Fail("GetChannel", "AccessDeniedException")
	out, err = runDoctor(t, env.Getenv(nil), "--show", show.ID)
	wantFailed(t, err, "channel")
	wantLine(t, out, "channel", getChannel+"the credentials may not call ivs:GetChannel on this channel (AccessDeniedException): attach the policy that `ivs-ingest doctor --policy` prints")
	env.Emulator.ClearFailures()

	// An endpoint's user info and query are not shown, neither when it
	// answers nor in the SDK's error when it cannot be reached.
	const endpointSecrets = "ivsuser:ivspw@"
	withSecrets := func(base string) string {
		return strings.Replace(base, "://", "://"+endpointSecrets, 1) + "/?apikey=sb_secret_TOPSECRET"
	}
	out, err = runDoctor(t, env.Getenv(map[string]string{"AWS_ENDPOINT_URL_IVS": withSecrets(env.EmulatorURL)}), "--show", show.ID)
	if err != nil {
		t.Errorf("doctor with credentials and a query in the IVS endpoint = %v, want nil\n%s", err, out)
	}
	wantLine(t, out, "aws", "PASS  aws       credentials from static keys (AWS_ACCESS_KEY_ID), access key ending TEST, region us-east-1, IVS endpoint "+
		strings.Replace(env.EmulatorURL, "://", "://[REDACTED]@", 1)+"/?[REDACTED]")
	wantNoSecrets(t, out, endpointSecrets, "ivspw", "TOPSECRET")
	out, err = runDoctor(t, env.Getenv(map[string]string{"AWS_ENDPOINT_URL_IVS": withSecrets("http://" + closedPort(t))}), "--show", show.ID)
	wantFailed(t, err, "channel")
	if l := linesOf(out, "channel"); len(l) != 1 || !strings.Contains(l[0], "connection refused") {
		t.Errorf("channel lines with the IVS endpoint down = %q, want one saying connection refused", l)
	}
	wantNoSecrets(t, out, endpointSecrets, "ivspw", "TOPSECRET")

	if _, err := env.IVS.DeleteChannel(context.Background(), &ivs.DeleteChannelInput{Arn: aws.String(show.ChannelARN)}); err != nil {
		t.Fatal(err)
	}
	out, err = runDoctor(t, env.Getenv(nil), "--show", show.ID)
	wantFailed(t, err, "channel")
	wantLine(t, out, "channel", getChannel+"no such channel in region us-east-1 (ResourceNotFoundException): the show's ivs_channel_arn names a deleted channel, or one in another account or region (AWS_REGION)")
}

func TestDoctorShow(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	owner := env.Seller(t, "approved")
	bare := env.Show(t, owner, false)
	unknown := testenv.NewID(t)

	out, err := runDoctor(t, env.Getenv(nil), "--show", unknown)
	wantFailed(t, err, "channel")
	wantLine(t, out, "channel", "FAIL  channel   show "+unknown+" not found in public.shows: check the id")

	out, err = runDoctor(t, env.Getenv(nil), "--show", bare.ID)
	wantFailed(t, err, "channel")
	wantLine(t, out, "channel", "FAIL  channel   show "+bare.ID+" has no IVS channel (public.shows.ivs_channel_arn is empty): attach one")

	// Without --show the channel is not checked, and that is no failure.
	out, err = runDoctor(t, env.Getenv(nil))
	if err != nil {
		t.Errorf("doctor without --show = %v, want nil\n%s", err, out)
	}
	wantLine(t, out, "channel", "SKIP  channel   not checked: give --show <uuid> to read a show's channel with GetChannel, which proves AWS accepts the credentials")
	if n := env.Emulator.Calls("GetChannel"); n != 0 {
		t.Errorf("GetChannel called %d times for shows without a channel or without --show, want 0", n)
	}

	for _, args := range [][]string{{"--show", "not-a-uuid"}, {"--timeout", "0s"}, {"extra"}} {
		if _, err := runDoctor(t, env.Getenv(nil), args...); !errors.Is(err, errUsage) || exitCode(err) != 2 {
			t.Errorf("doctor %q = %v, want a usage error (exit 2)", args, err)
		}
	}
}

// TestDoctorConfigIncomplete needs no database: each configuration error is
// a FAIL line naming its variable, and the checks that need a wrong variable
// are skipped rather than run on it.
func TestDoctorConfigIncomplete(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"SUPABASE_URL":      "abc.supabase.co",
		"AWS_ACCESS_KEY_ID": "AKIAONLYTHEKEYID0000",
	}
	out, err := runDoctor(t, func(k string) string { return env[k] }, "--show", testenv.NewID(t))
	wantFailed(t, err, "config")
	wantConfig := []string{
		`FAIL  config    SUPABASE_URL: "abc.supabase.co" is not an http(s) URL`,
		`FAIL  config    AWS_SECRET_ACCESS_KEY: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together`,
		`FAIL  config    DATABASE_URL is required (or DATABASE_URL_FILE, DATABASE_URL_SECRET_ARN): a PostgreSQL URL such as postgres://user:password@host:5432/postgres`,
	}
	if got := linesOf(out, "config"); strings.Join(got, "\n") != strings.Join(wantConfig, "\n") {
		t.Errorf("config lines = %q,\nwant %q", got, wantConfig)
	}
	wantLine(t, out, "database", "SKIP  database  skipped: needs a valid DATABASE_URL")
	wantLine(t, out, "jwks", "SKIP  jwks      skipped: needs a valid SUPABASE_URL")
	wantLine(t, out, "aws", "SKIP  aws       skipped: needs a valid AWS_SECRET_ACCESS_KEY")
	wantLine(t, out, "channel", "SKIP  channel   skipped: needs database and aws")
}

// TestDoctorNoAWSCredentials empties the SDK's default chain, which reads
// the process environment: not parallel, for t.Setenv.
func TestDoctorNoAWSCredentials(t *testing.T) {
	for k, v := range map[string]string{
		"AWS_EC2_METADATA_DISABLED":              "true",
		"AWS_CONFIG_FILE":                        t.TempDir() + "/none",
		"AWS_SHARED_CREDENTIALS_FILE":            t.TempDir() + "/none",
		"AWS_PROFILE":                            "",
		"AWS_ACCESS_KEY_ID":                      "",
		"AWS_SECRET_ACCESS_KEY":                  "",
		"AWS_SESSION_TOKEN":                      "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
	} {
		t.Setenv(k, v)
	}
	env := map[string]string{
		"DATABASE_URL": "postgres://ivs@" + closedPort(t) + "/app",
		"SUPABASE_URL": "http://" + closedPort(t),
	}
	out, err := runDoctor(t, func(k string) string { return env[k] })
	if !errors.Is(err, errDoctorFailed) {
		t.Errorf("doctor without AWS credentials = %v, want errDoctorFailed", err)
	}
	aws := linesOf(out, "aws")
	prefix := "FAIL  aws       no AWS credentials: "
	suffix := ": set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give the process a profile, web identity, container or instance role"
	if len(aws) != 1 || !strings.HasPrefix(aws[0], prefix) || !strings.HasSuffix(aws[0], suffix) {
		t.Errorf("aws lines = %q, want one %q...%q", aws, prefix, suffix)
	}
}

// A connection that works but a role that lacks a privilege: the line says
// what PostgreSQL needs, not to check that the database is reachable.
func TestDoctorDatabaseRoleCannotReadSessions(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Supabase: true})
	role := "doctor_noread_" + strings.ReplaceAll(testenv.NewID(t)[:8], "-", "")
	pgtest.Exec(t, env.DatabaseURL, `CREATE ROLE `+role+` LOGIN; GRANT USAGE ON SCHEMA auth TO `+role)
	t.Cleanup(func() { pgtest.Exec(t, env.DatabaseURL, `DROP OWNED BY `+role+`; DROP ROLE `+role) })
	asRole := strings.Replace(env.DatabaseURL, "postgres://postgres@", "postgres://"+role+"@", 1)
	if asRole == env.DatabaseURL {
		t.Fatalf("test database URL does not name the postgres user: cannot switch roles")
	}

	out, err := runDoctor(t, env.Getenv(map[string]string{"DATABASE_URL": asRole}))
	wantFailed(t, err, "database")
	lines := linesOf(out, "database")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "FAIL  database  ") || !strings.Contains(lines[0], "GRANT SELECT ON auth.sessions") {
		t.Fatalf("doctor's database lines = %q, want one FAIL naming GRANT SELECT ON auth.sessions", lines)
	}
	if strings.Contains(lines[0], "accepts connections") {
		t.Errorf("doctor's database line blames the connection for a missing privilege: %q", lines[0])
	}
}

// supabaseAppEnv is an Env whose database is a Supabase project with a
// typical app (default grants, row level security, sellers editing their
// own shows) that `ivs-ingest migrate` then migrated.
func supabaseAppEnv(t *testing.T) *testenv.Env {
	t.Helper()
	env := testenv.New(t, testenv.Options{Supabase: true, Unmigrated: true})
	pgtest.Exec(t, env.DatabaseURL, pgtest.SupabaseApp)
	if err := run(context.Background(), []string{"migrate"}, env.Getenv(nil), io.Discard, io.Discard); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return env
}

// The columns check: FAIL when anon or authenticated can write what
// authorization rests on, naming role, command, column and what lets it.
func TestDoctorColumns(t *testing.T) {
	t.Parallel()
	const trigger = "zz_ivs_ingest_protect_columns"
	pass := "PASS  columns   anon and authenticated cannot write sellers.status, sellers.user_id or user_roles, and trigger " + trigger +
		" keeps them from shows' ivs_* and seller_id columns"
	tests := []struct {
		name   string
		change string
		want   []string // the columns lines
	}{
		{"stock Supabase app", "", []string{pass}},
		{"a policy letting sellers update their profile",
			`CREATE POLICY "sellers edit their profile" ON public.sellers FOR UPDATE TO authenticated USING (user_id = auth.uid())`,
			[]string{
				`FAIL  columns   authenticated can UPDATE public.sellers.status (RLS policy "sellers edit their profile"): revoke the privilege or narrow the policy`,
				`FAIL  columns   authenticated can UPDATE public.sellers.user_id (RLS policy "sellers edit their profile"): revoke the privilege or narrow the policy`,
			}},
		{"trigger disabled, with the app's shows policy",
			`ALTER TABLE public.shows DISABLE TRIGGER ` + trigger + `; DROP POLICY "sellers add their shows" ON public.shows`,
			[]string{
				`FAIL  columns   authenticated can UPDATE public.shows.ivs_channel_arn (RLS policy "sellers edit their shows"; trigger ` + trigger + ` disabled): ALTER TABLE public.shows ENABLE TRIGGER ` + trigger,
				`FAIL  columns   authenticated can UPDATE public.shows.ivs_ingest_endpoint (RLS policy "sellers edit their shows"; trigger ` + trigger + ` disabled): ALTER TABLE public.shows ENABLE TRIGGER ` + trigger,
				`FAIL  columns   authenticated can UPDATE public.shows.ivs_stream_key_arn (RLS policy "sellers edit their shows"; trigger ` + trigger + ` disabled): ALTER TABLE public.shows ENABLE TRIGGER ` + trigger,
				`FAIL  columns   authenticated can UPDATE public.shows.seller_id (RLS policy "sellers edit their shows"; trigger ` + trigger + ` disabled): ALTER TABLE public.shows ENABLE TRIGGER ` + trigger,
			}},
		{"trigger dropped, no policy lets the API write shows",
			`DROP TRIGGER ` + trigger + ` ON public.shows; DROP POLICY "sellers add their shows" ON public.shows; DROP POLICY "sellers edit their shows" ON public.shows`,
			[]string{"WARN  columns   anon and authenticated cannot write sellers.status, sellers.user_id, user_roles or shows' ivs_* and seller_id columns, " +
				"but trigger " + trigger + " on public.shows is missing, so only the app's grants and policies keep them from the shows columns: " +
				"re-create it by applying supabase/migrations/20261206100000_protect_show_columns.sql again"}},
		{"row level security off on user_roles", `ALTER TABLE public.user_roles DISABLE ROW LEVEL SECURITY; REVOKE ALL ON public.user_roles FROM anon`,
			[]string{
				`FAIL  columns   authenticated can INSERT public.user_roles (row level security off): revoke the privilege or enable row level security`,
				`FAIL  columns   authenticated can UPDATE public.user_roles (row level security off): revoke the privilege or enable row level security`,
				`FAIL  columns   authenticated can DELETE public.user_roles (row level security off): revoke the privilege or enable row level security`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := supabaseAppEnv(t)
			if tt.change != "" {
				pgtest.Exec(t, env.DatabaseURL, tt.change)
			}
			out, err := runDoctor(t, env.Getenv(nil))
			if got := linesOf(out, "columns"); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("columns lines = %q,\nwant %q\nfull output:\n%s", got, tt.want, out)
			}
			if strings.HasPrefix(tt.want[0], "FAIL") {
				wantFailed(t, err, "columns")
			} else if err != nil {
				t.Errorf("doctor = %v, want nil\n%s", err, out)
			}
		})
	}
}

// Channels named by shows of two sellers each get a WARN line (the service
// answers 403 for them), up to ten, then a count; a warning is no failure.
func TestDoctorSharedChannels(t *testing.T) {
	t.Parallel()
	env := supabaseAppEnv(t)
	out, err := runDoctor(t, env.Getenv(nil))
	if err != nil {
		t.Fatalf("doctor = %v\n%s", err, out)
	}
	wantLine(t, out, "shared", "PASS  shared    no IVS channel is named by shows of two different sellers")

	a, b := env.Seller(t, "approved"), env.Seller(t, "pending")
	const arn = "arn:aws:ivs:us-east-1:123456789012:channel/"
	pgtest.Exec(t, env.DatabaseURL, `
INSERT INTO public.shows (seller_id, ivs_channel_arn) VALUES ($1, $3 || 'aaaa'), ($1, $3 || 'aaaa'), ($2, $3 || 'aaaa'), ($2, $3 || 'bbbb')`,
		a.SellerID, b.SellerID, arn)
	out, err = runDoctor(t, env.Getenv(nil))
	if err != nil {
		t.Fatalf("doctor with a shared channel = %v, want nil (a warning)\n%s", err, out)
	}
	wantLine(t, out, "shared", `WARN  shared    channel `+arn+`aaaa is named by shows of 2 sellers (3 shows): get, rotate and revoke answer 403 "Channel is shared with another seller's show" until one seller's shows name it`)

	for i := range 11 {
		pgtest.Exec(t, env.DatabaseURL, `INSERT INTO public.shows (seller_id, ivs_channel_arn) VALUES ($1, $3), ($2, $3)`,
			a.SellerID, b.SellerID, fmt.Sprintf("%sz%03d", arn, i))
	}
	out, _ = runDoctor(t, env.Getenv(nil))
	lines := linesOf(out, "shared")
	if len(lines) != 11 || !strings.HasSuffix(lines[9], arn+"z008 is named by shows of 2 sellers (2 shows): get, rotate and revoke answer 403 \"Channel is shared with another seller's show\" until one seller's shows name it") ||
		lines[10] != "WARN  shared    and 2 more such channels (12 in all): SELECT ivs_channel_arn FROM public.shows WHERE ivs_channel_arn <> '' GROUP BY 1 HAVING count(DISTINCT seller_id) > 1" {
		t.Errorf("shared lines with 12 shared channels = %q, want 10 channels and a line counting 2 more", lines)
	}
}
