package app_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ivs-ingest/ivs-ingest/internal/app"
	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/ivs"
	"github.com/ivs-ingest/ivs-ingest/internal/smemu"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// The values the secrets hold; none may appear in an error or a printout.
const (
	smDatabaseURL = "postgres://app:sm-DO-NOT-LEAK@db.example:5432/postgres"
	smJWTSecret   = "jwt-secret-from-secrets-manager-DO-NOT-LEAK-0123"
	smJSON        = `{"database_url":"` + smDatabaseURL + `","jwt_secret":"` + smJWTSecret + `"}`
)

// secretsWorld is a Secrets Manager emulator, served, with the environment
// that points the real client at it (AWS_ENDPOINT_URL_SECRETS_MANAGER and
// the credentials it accepts).
type secretsWorld struct {
	emu  *smemu.Emulator
	env  map[string]string
	json smemu.Secret // smJSON
	text smemu.Secret // smJWTSecret, a plain string
}

func newSecretsWorld(t *testing.T) *secretsWorld {
	t.Helper()
	emu, err := smemu.New(smemu.Config{Region: "eu-west-1", AccessKeyID: testenv.AccessKeyID, SecretAccessKey: testenv.SecretAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	w := &secretsWorld{emu: emu, env: map[string]string{
		"AWS_ACCESS_KEY_ID":                testenv.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":            testenv.SecretAccessKey,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": srv.URL,
	}}
	if w.json, err = emu.CreateSecret("ivs-ingest/prod", smJSON); err != nil {
		t.Fatal(err)
	}
	if w.text, err = emu.CreateSecret("ivs-ingest/jwt", smJWTSecret); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *secretsWorld) getenv(vars map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return w.env[k]
	}
}

// wantSecretError fails t unless err is a *config.VarError for name whose
// text says each of parts and quotes no secret.
func wantSecretError(t *testing.T, what string, err error, name string, parts ...string) {
	t.Helper()
	var ve *config.VarError
	if !errors.As(err, &ve) || ve.Name != name {
		t.Errorf("%s: error %v, want a *config.VarError for %s", what, err, name)
		return
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not say %q", what, err, p)
		}
	}
	if strings.Contains(err.Error(), "DO-NOT-LEAK") || strings.Contains(err.Error(), testenv.SecretAccessKey) {
		t.Errorf("%s: the error quotes a secret", what)
	}
}

// The real SDK client reads the secrets from the emulator: a plain string,
// fields of a JSON secret (one call however many variables name it), and
// the region taken from the ARN (the emulator answers only eu-west-1's
// signature, and AWS_REGION says us-east-1).
func TestLoadConfigFromSecretsManager(t *testing.T) {
	t.Parallel()
	w := newSecretsWorld(t)
	cfg, err := app.LoadConfig(context.Background(), w.getenv(map[string]string{
		"AWS_REGION":                     "us-east-1",
		"DATABASE_URL_SECRET_ARN":        w.json.ARN + "#database_url",
		"METRICS_TOKEN_SECRET_ARN":       w.json.ARN + "#jwt_secret",
		"SUPABASE_JWT_SECRET_SECRET_ARN": w.text.ARN,
	}))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if cfg.DatabaseURL.Reveal() != smDatabaseURL || cfg.MetricsToken.Reveal() != smJWTSecret || cfg.JWTSecret.Reveal() != smJWTSecret {
		t.Error("the configuration does not hold the secrets' values")
	}
	if got := w.emu.Succeeded("GetSecretValue"); got != 2 || w.emu.Calls("GetSecretValue") != 2 {
		t.Errorf("GetSecretValue calls = %d (%d succeeded), want 2: one per secret", w.emu.Calls("GetSecretValue"), got)
	}
	want := config.Origin{Kind: config.OriginSecretsManager, Var: "DATABASE_URL_SECRET_ARN", Ref: w.json.ARN + "#database_url", Read: true}
	if got := cfg.Origin("DATABASE_URL"); got != want {
		t.Errorf("Origin(DATABASE_URL) = %+v, want %+v", got, want)
	}
}

// SecretBinary is taken as UTF-8 text, and refused when it is not.
func TestLoadConfigBinarySecret(t *testing.T) {
	t.Parallel()
	w := newSecretsWorld(t)
	text, err := w.emu.CreateBinarySecret("ivs-ingest/bin", []byte(smJWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := w.emu.CreateBinarySecret("ivs-ingest/raw", []byte{0xff, 0xfe, 'D', 'O', '-', 'N', 'O', 'T', '-', 'L', 'E', 'A', 'K'})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := app.LoadConfig(context.Background(), w.getenv(map[string]string{"SUPABASE_JWT_SECRET_SECRET_ARN": text.ARN}))
	if err != nil || cfg.JWTSecret.Reveal() != smJWTSecret {
		t.Errorf("a UTF-8 SecretBinary: %v, want it as the value", err)
	}
	_, err = app.LoadConfig(context.Background(), w.getenv(map[string]string{"SUPABASE_JWT_SECRET_SECRET_ARN": raw.ARN}))
	wantSecretError(t, "binary", err, "SUPABASE_JWT_SECRET", "SUPABASE_JWT_SECRET_SECRET_ARN", raw.ARN, "not UTF-8 text")
}

func TestLoadConfigSecretErrors(t *testing.T) {
	t.Parallel()
	w := newSecretsWorld(t)
	unknown := strings.Replace(w.json.ARN, "ivs-ingest/prod", "ivs-ingest/gone", 1)
	for _, tt := range []struct {
		name  string
		value string
		deny  bool
		parts []string
	}{
		{"missing field", w.json.ARN + "#password", false, []string{w.json.ARN, `has no field "password"`}},
		{"not JSON", w.text.ARN + "#database_url", false, []string{w.text.ARN, "does not hold a JSON object"}},
		{"unknown secret", unknown, false, []string{unknown, "no such secret", "ResourceNotFoundException"}},
		{"access denied", w.json.ARN + "#database_url", true, []string{w.json.ARN, "AccessDeniedException", "secretsmanager:GetSecretValue"}},
	} {
		if tt.deny {
			w.emu.Fail("GetSecretValue", "AccessDeniedException")
		}
		_, err := app.LoadConfig(context.Background(), w.getenv(map[string]string{"DATABASE_URL_SECRET_ARN": tt.value}))
		w.emu.ClearFailures()
		wantSecretError(t, tt.name, err, "DATABASE_URL", append([]string{"DATABASE_URL_SECRET_ARN"}, tt.parts...)...)
	}
}

// A Secrets Manager that does not answer fails the load within the
// timeout, naming the variable.
func TestLoadConfigSecretTimeout(t *testing.T) {
	t.Parallel()
	w := newSecretsWorld(t)
	w.emu.SetLatency(time.Minute)
	getenv := w.getenv(map[string]string{"DATABASE_URL_SECRET_ARN": w.json.ARN + "#database_url"})
	done := make(chan error, 1)
	go func() {
		_, err := config.LoadFrom(context.Background(), getenv, app.SecretSources(getenv, 300*time.Millisecond))
		done <- err
	}()
	select {
	case err := <-done:
		wantSecretError(t, "timeout", err, "DATABASE_URL", "DATABASE_URL_SECRET_ARN", "did not answer within 300ms")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("timeout: %v does not wrap context.DeadlineExceeded", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("LoadFrom did not give up on a Secrets Manager that does not answer")
	}
}

// A file is read once, its one trailing newline trimmed, through the same
// LoadConfig.
func TestLoadConfigFromFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "database_url")
	if err := os.WriteFile(path, []byte(smDatabaseURL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL_FILE": path}
	cfg, err := app.LoadConfig(context.Background(), func(k string) string { return env[k] })
	if err != nil || cfg.DatabaseURL.Reveal() != smDatabaseURL {
		t.Fatalf("DATABASE_URL_FILE: %v, want the file's URL", err)
	}
	env["DATABASE_URL"] = smDatabaseURL
	_, err = app.LoadConfig(context.Background(), func(k string) string { return env[k] })
	wantSecretError(t, "both", err, "DATABASE_URL", "DATABASE_URL_FILE", "set only one")
}

// The policy grants SecretActions on each secret named, once, without its
// #field.
func TestIAMPolicyGrantsTheSecrets(t *testing.T) {
	t.Parallel()
	w := newSecretsWorld(t)
	cfg, err := app.LoadConfig(context.Background(), w.getenv(map[string]string{
		"AWS_REGION":                     "eu-west-1",
		"DATABASE_URL_SECRET_ARN":        w.json.ARN + "#database_url",
		"METRICS_TOKEN_SECRET_ARN":       w.json.ARN + "#jwt_secret",
		"SUPABASE_JWT_SECRET_SECRET_ARN": w.text.ARN,
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := app.Policy{Version: "2012-10-17", Statement: []app.PolicyStatement{{
		Effect:   "Allow",
		Action:   ivs.ResourceActions(false),
		Resource: []string{"arn:aws:ivs:eu-west-1:*:channel/*", "arn:aws:ivs:eu-west-1:*:stream-key/*"},
	}, {
		Effect:   "Allow",
		Action:   ivs.Actions(ivs.NeedStreamStatus),
		Resource: []string{"*"},
	}, {
		Effect:   "Allow",
		Action:   []string{"secretsmanager:GetSecretValue"},
		Resource: []string{w.json.ARN, w.text.ARN},
	}}}
	if diff := cmp.Diff(want, app.IAMPolicy(cfg)); diff != "" {
		t.Errorf("IAMPolicy(secrets by ARN) (-want +got):\n%s", diff)
	}
}
