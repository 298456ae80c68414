package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/smemu"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// secretsEnv is a test's world with its DATABASE_URL in the Secrets Manager
// emulator (a field of a JSON secret, read by the real SDK client through
// AWS_ENDPOINT_URL_SECRETS_MANAGER) and its JWT secret in a file, neither
// in the environment.
type secretsEnv struct {
	env       *testenv.Env
	emu       *smemu.Emulator
	secret    smemu.Secret
	jwtFile   string
	overrides map[string]string
}

func newSecretsEnv(t *testing.T) *secretsEnv {
	t.Helper()
	env := testenv.New(t, testenv.Options{})
	emu, err := smemu.New(smemu.Config{Region: "eu-west-1", AccessKeyID: testenv.AccessKeyID, SecretAccessKey: testenv.SecretAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	// The test cluster trusts local connections, so the password is never
	// asked for: it is there to be looked for in every output.
	u, err := url.Parse(env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), dbPassword)
	value, _ := json.Marshal(map[string]string{"database_url": u.String(), "other": "x"})
	sec, err := emu.CreateSecret("ivs-ingest/test", string(value))
	if err != nil {
		t.Fatal(err)
	}
	jwtFile := filepath.Join(t.TempDir(), "jwt_secret")
	if err := os.WriteFile(jwtFile, []byte(env.Issuer.HS256Secret()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &secretsEnv{env: env, emu: emu, secret: sec, jwtFile: jwtFile, overrides: map[string]string{
		"DATABASE_URL":                     "",
		"DATABASE_URL_SECRET_ARN":          sec.ARN + "#database_url",
		"SUPABASE_JWT_SECRET":              "",
		"SUPABASE_JWT_SECRET_FILE":         jwtFile,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": srv.URL,
	}}
}

// getenv is the world's environment with more overrides.
func (s *secretsEnv) getenv(more map[string]string) func(string) string {
	all := map[string]string{}
	for k, v := range s.overrides {
		all[k] = v
	}
	for k, v := range more {
		all[k] = v
	}
	return s.env.Getenv(all)
}

// dbPassword is the password of the database URL kept in Secrets Manager.
const dbPassword = "sm-db-pa55-DO-NOT-LEAK"

// secrets are the values no output may carry: the database password, the
// JWT secret, the AWS secret key.
func (s *secretsEnv) secrets() []string {
	return []string{dbPassword, s.env.Issuer.HS256Secret(), testenv.SecretAccessKey}
}

// serve, --print-config and doctor read the secrets from the emulator and
// the file, say where each came from, and show no value.
func TestSecretsFromFileAndSecretsManager(t *testing.T) {
	t.Parallel()
	s := newSecretsEnv(t)
	getenv := s.getenv(nil)

	var out bytes.Buffer
	if err := run(context.Background(), []string{"serve", "--print-config"}, getenv, &out, io.Discard); err != nil {
		t.Fatalf("serve --print-config = %v", err)
	}
	for _, want := range []string{
		"  # from Secrets Manager " + s.secret.ARN + "#database_url (DATABASE_URL_SECRET_ARN)\n",
		"SUPABASE_JWT_SECRET=[REDACTED]  # from file " + s.jwtFile + " (SUPABASE_JWT_SECRET_FILE)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("serve --print-config lacks %q:\n%s", want, out.String())
		}
	}
	wantNoSecrets(t, out.String(), s.secrets()...)

	report, err := runDoctor(t, getenv)
	if err != nil {
		t.Fatalf("doctor = %v\n%s", err, report)
	}
	for _, want := range []string{
		"INFO  config    DATABASE_URL from Secrets Manager " + s.secret.ARN + "#database_url (DATABASE_URL_SECRET_ARN)",
		"INFO  config    SUPABASE_JWT_SECRET from file " + s.jwtFile + " (SUPABASE_JWT_SECRET_FILE)",
		"INFO  iam       the secrets given as _SECRET_ARN need secretsmanager:GetSecretValue on " + s.secret.ARN + " ",
		"PASS  database",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("doctor's report lacks %q:\n%s", want, report)
		}
	}
	wantNoSecrets(t, report, s.secrets()...)
	policy, err := runDoctor(t, getenv, "--json")
	if err != nil || !strings.Contains(policy, `"secretsmanager:GetSecretValue"`) || !strings.Contains(policy, `"`+s.secret.ARN+`"`) {
		t.Errorf("doctor --json = %v; its policy does not grant secretsmanager:GetSecretValue on the secret:\n%s", err, policy)
	}

	// serve itself starts over the secrets read, and reads the secret
	// once.
	s.emu.ResetCounts()
	srv := serve(t, getenv)
	srv.stop()
	if err := srv.wait(t); err != nil {
		t.Errorf("serve = %v", err)
	}
	if n := s.emu.Calls("GetSecretValue"); n != 1 {
		t.Errorf("serve called GetSecretValue %d times, want 1", n)
	}
	wantNoSecrets(t, srv.stderr.String(), s.secrets()...)
}

// A variable given two ways, a secret that cannot be read: serve,
// --print-config and doctor exit non-zero, naming the variable and the
// source, never the value.
func TestSecretErrorsStopEveryCommand(t *testing.T) {
	t.Parallel()
	s := newSecretsEnv(t)
	unknown := strings.Replace(s.secret.ARN, "ivs-ingest/test", "ivs-ingest/gone", 1)
	for _, tt := range []struct {
		name  string
		env   map[string]string
		parts []string
	}{
		{"both", map[string]string{"DATABASE_URL": "postgres://app:" + dbPassword + "@db.example/postgres"},
			[]string{"DATABASE_URL: given 2 ways, by DATABASE_URL and DATABASE_URL_SECRET_ARN: set only one"}},
		{"missing file", map[string]string{"SUPABASE_JWT_SECRET_FILE": s.jwtFile + ".gone"},
			[]string{"SUPABASE_JWT_SECRET_FILE: cannot read the file", s.jwtFile + ".gone"}},
		{"unknown secret", map[string]string{"DATABASE_URL_SECRET_ARN": unknown},
			[]string{"DATABASE_URL_SECRET_ARN: " + unknown, "no such secret"}},
		{"missing field", map[string]string{"DATABASE_URL_SECRET_ARN": s.secret.ARN + "#password"},
			[]string{"DATABASE_URL_SECRET_ARN", `has no field "password"`}},
	} {
		getenv := s.getenv(tt.env)
		for _, args := range [][]string{{"serve"}, {"serve", "--print-config"}, {"migrate"}, {"doctor", "--timeout", "5s"}} {
			var out, errOut bytes.Buffer
			err := run(context.Background(), args, getenv, &out, &errOut)
			what := tt.name + ": " + strings.Join(args, " ")
			if err == nil || exitCode(err) != 1 {
				t.Errorf("%s = %v, want exit 1", what, err)
				continue
			}
			text := err.Error() + out.String() + errOut.String()
			for _, p := range tt.parts {
				if !strings.Contains(text, p) {
					t.Errorf("%s: output and error do not say %q:\n%s", what, p, text)
				}
			}
			for _, secret := range s.secrets() {
				if strings.Contains(text, secret) {
					t.Errorf("%s: the output or error carries a secret", what)
				}
			}
		}
	}
	// doctor skips the database check it cannot run, rather than failing
	// it a second time.
	report, err := runDoctor(t, s.getenv(map[string]string{"DATABASE_URL_SECRET_ARN": unknown}))
	wantFailed(t, err, "config")
	wantLine(t, report, "database", "SKIP  database  skipped: needs a valid DATABASE_URL")
}
