package config_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/config"
)

const (
	jwtSecret  = "jwt-secret-from-a-file-DO-NOT-LEAK-0123456789"
	secretARN  = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:ivs-ingest-AbCdEf"
	otherARN   = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:other-XyZ123"
	dbURL      = "postgres://app:sm-pa55word@db.example:5432/postgres"
	jsonSecret = `{"database_url":"` + dbURL + `","jwt_secret":"` + jwtSecret + `","port":5432,"empty":""}`
)

// file writes content to a file of the test's own and returns its path.
func file(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// secretsManager is a Sources.SecretValue over fixed secrets, counting its
// calls by ARN. (The real client against the emulator is internal/app's
// test; here the subject is what Load does with a value.)
type secretsManager struct {
	values map[string]string
	calls  map[string]int
}

func (s *secretsManager) value(_ context.Context, ref config.SecretRef) (string, error) {
	if s.calls == nil {
		s.calls = map[string]int{}
	}
	s.calls[ref.ARN]++
	v, ok := s.values[ref.ARN]
	if !ok {
		return "", errors.New("no such secret")
	}
	return v, nil
}

func sources(sm *secretsManager) config.Sources {
	return config.Sources{ReadFile: os.ReadFile, SecretValue: sm.value}
}

func loadFrom(vars map[string]string, sm *secretsManager) (config.Config, error) {
	if sm == nil {
		sm = &secretsManager{}
	}
	return config.LoadFrom(context.Background(), env(vars), sources(sm))
}

// wantVarError fails t unless err has a *config.VarError for name whose text
// contains every part and no secret.
func wantVarError(t *testing.T, what string, err error, name string, parts ...string) {
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
	for _, s := range []string{"DO-NOT-LEAK", "sm-pa55word", "pa55"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("%s: error quotes a secret: %q", what, strings.ReplaceAll(err.Error(), s, "<secret>"))
		}
	}
}

// The secret variables that take _FILE and _SECRET_ARN: every secret of the
// table but the AWS credentials, which the SDK's chain reads.
func TestSourcedVariables(t *testing.T) {
	t.Parallel()
	var got []string
	for _, v := range config.Vars() {
		if v.Sourced() {
			got = append(got, v.Name)
			if !v.Secret {
				t.Errorf("%s is Sourced but not Secret", v.Name)
			}
		} else if v.Secret && v.Group != config.GroupAWS {
			t.Errorf("secret %s is not Sourced", v.Name)
		}
	}
	for _, want := range []string{"DATABASE_URL", "SUPABASE_JWT_SECRET", "METRICS_TOKEN"} {
		if !slices.Contains(got, want) {
			t.Errorf("Sourced variables %v lack %s", got, want)
		}
	}
	for _, aws := range []string{"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		if slices.Contains(got, aws) {
			t.Errorf("Sourced variables %v include %s, which the SDK's credential chain reads", got, aws)
		}
	}
}

func TestSecretFromFile(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ content, want string }{
		{jwtSecret + "\n", jwtSecret},                    // the trailing newline echo and editors leave
		{jwtSecret + "\r\n", jwtSecret},                  // written on Windows
		{jwtSecret, jwtSecret},                           // none
		{jwtSecret + "\n\n", jwtSecret + "\n"},           // only one is trimmed
		{" " + jwtSecret + " \n", " " + jwtSecret + " "}, // spaces are the value's
	} {
		path := file(t, tt.content)
		c, err := loadFrom(map[string]string{"SUPABASE_JWT_SECRET_FILE": path}, nil)
		if err != nil {
			t.Fatalf("SUPABASE_JWT_SECRET_FILE: %v", err)
		}
		if got := c.JWTSecret.Reveal(); got != tt.want {
			t.Errorf("file %q: JWTSecret = %q, want %q", tt.content, got, tt.want)
		}
		want := config.Origin{Kind: config.OriginFile, Var: "SUPABASE_JWT_SECRET_FILE", Ref: path, Read: true}
		if got := c.Origin("SUPABASE_JWT_SECRET"); got != want {
			t.Errorf("Origin = %+v, want %+v", got, want)
		}
	}
	// DATABASE_URL from a file satisfies serve's requirement.
	c, err := loadFrom(map[string]string{"DATABASE_URL_FILE": file(t, dbURL+"\n"), "SUPABASE_URL": "https://abc.supabase.co"}, nil)
	if err != nil || c.DatabaseURL.Reveal() != dbURL || c.RequireServe() != nil {
		t.Errorf("DATABASE_URL_FILE: %v, RequireServe() = %v; want the URL and no error", err, c.RequireServe())
	}
}

func TestSecretFileErrors(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := loadFrom(map[string]string{"DATABASE_URL_FILE": missing}, nil)
	wantVarError(t, "missing file", err, "DATABASE_URL", "DATABASE_URL_FILE", missing)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v does not wrap fs.ErrNotExist", err)
	}
	empty := file(t, "\n")
	_, err = loadFrom(map[string]string{"METRICS_TOKEN_FILE": empty}, nil)
	wantVarError(t, "empty file", err, "METRICS_TOKEN", "METRICS_TOKEN_FILE", empty, "is empty")
	big := file(t, strings.Repeat("x", config.MaxSecretFileBytes+1))
	_, err = loadFrom(map[string]string{"METRICS_TOKEN_FILE": big}, nil)
	wantVarError(t, "large file", err, "METRICS_TOKEN", "METRICS_TOKEN_FILE", "larger than 64 KiB")
	// The value's own rules still apply, and say where it came from.
	short := file(t, "short-DO-NOT-LEAK\n")
	_, err = loadFrom(map[string]string{"SUPABASE_JWT_SECRET_FILE": short}, nil)
	wantVarError(t, "short secret", err, "SUPABASE_JWT_SECRET", "SUPABASE_JWT_SECRET (from SUPABASE_JWT_SECRET_FILE): is 17 bytes long")
}

func TestSecretFromSecretsManager(t *testing.T) {
	t.Parallel()
	sm := &secretsManager{values: map[string]string{secretARN: jsonSecret, otherARN: jwtSecret}}
	c, err := loadFrom(map[string]string{
		"DATABASE_URL_SECRET_ARN":        secretARN + "#database_url",
		"METRICS_TOKEN_SECRET_ARN":       " " + secretARN + "#jwt_secret ",
		"SUPABASE_JWT_SECRET_SECRET_ARN": otherARN,
	}, sm)
	if err != nil {
		t.Fatalf("LoadFrom: %v", err)
	}
	if c.DatabaseURL.Reveal() != dbURL || c.MetricsToken.Reveal() != jwtSecret || c.JWTSecret.Reveal() != jwtSecret {
		t.Error("the values are not the secrets' fields, or the plain secret's whole value")
	}
	if sm.calls[secretARN] != 1 || sm.calls[otherARN] != 1 {
		t.Errorf("Secrets Manager calls = %v, want one per secret however many variables name it", sm.calls)
	}
	want := config.Origin{Kind: config.OriginSecretsManager, Var: "DATABASE_URL_SECRET_ARN", Ref: secretARN + "#database_url", Read: true}
	if got := c.Origin("DATABASE_URL"); got != want {
		t.Errorf("Origin(DATABASE_URL) = %+v, want %+v", got, want)
	}
}

func TestSecretsManagerErrors(t *testing.T) {
	t.Parallel()
	sm := &secretsManager{values: map[string]string{secretARN: jsonSecret, otherARN: "not-json-DO-NOT-LEAK"}}
	for _, tt := range []struct {
		value string
		parts []string
	}{
		{secretARN + "#password", []string{"DATABASE_URL_SECRET_ARN", secretARN, `has no field "password"`}},
		{secretARN + "#port", []string{"DATABASE_URL_SECRET_ARN", `field "port" of ` + secretARN + " is not a JSON string"}},
		{secretARN + "#empty", []string{"DATABASE_URL_SECRET_ARN", secretARN + "#empty is empty"}},
		{otherARN + "#database_url", []string{"DATABASE_URL_SECRET_ARN", otherARN, `does not hold a JSON object, so it has no field "database_url"`}},
		{strings.Replace(secretARN, "ivs-ingest", "unknown", 1), []string{"DATABASE_URL_SECRET_ARN", "secret:unknown-AbCdEf", "no such secret"}},
		{"ivs-ingest", []string{"DATABASE_URL_SECRET_ARN", `"ivs-ingest" is not a Secrets Manager secret ARN`}},
		{"arn:aws:kms:eu-west-1:111122223333:key/x", []string{"DATABASE_URL_SECRET_ARN", "is not a Secrets Manager secret ARN"}},
		{secretARN + "#", []string{"DATABASE_URL_SECRET_ARN", "names no field"}},
	} {
		c, err := loadFrom(map[string]string{"DATABASE_URL_SECRET_ARN": tt.value, "SUPABASE_URL": "https://abc.supabase.co"}, sm)
		wantVarError(t, tt.value, err, "DATABASE_URL", tt.parts...)
		// One error, not a second "DATABASE_URL is required" on top.
		if err := c.RequireServe(); err != nil && strings.Contains(err.Error(), "is required") {
			t.Errorf("%s: RequireServe() = %v, want no second error for DATABASE_URL", tt.value, err)
		}
	}
}

// Two sources for one variable are refused, naming the variables and never
// a value, whichever two they are.
func TestTwoSourcesAreAnError(t *testing.T) {
	t.Parallel()
	path := file(t, jwtSecret)
	sm := &secretsManager{values: map[string]string{otherARN: jwtSecret}}
	for _, vars := range []map[string]string{
		{"SUPABASE_JWT_SECRET": jwtSecret, "SUPABASE_JWT_SECRET_FILE": path},
		{"SUPABASE_JWT_SECRET_FILE": path, "SUPABASE_JWT_SECRET_SECRET_ARN": otherARN},
		{"SUPABASE_JWT_SECRET": jwtSecret, "SUPABASE_JWT_SECRET_SECRET_ARN": otherARN},
	} {
		var names []string
		for k := range vars {
			names = append(names, k)
		}
		_, err := loadFrom(vars, sm)
		wantVarError(t, strings.Join(names, "+"), err, "SUPABASE_JWT_SECRET", append(names, "set only one")...)
		// The plain Load refuses it too: it is a configuration error
		// whatever reads it.
		_, err = config.Load(env(vars))
		wantVarError(t, strings.Join(names, "+")+" (Load)", err, "SUPABASE_JWT_SECRET", names...)
	}
	if sm.calls[otherARN] != 0 {
		t.Errorf("Secrets Manager was asked %d times for a variable given twice, want 0", sm.calls[otherARN])
	}
}

// Load reads no file and asks no secret store: the reference is recorded,
// unread, and RequireDatabase says so rather than "required".
func TestLoadReadsNoSecret(t *testing.T) {
	t.Parallel()
	path := file(t, dbURL)
	c, err := config.Load(env(map[string]string{"DATABASE_URL_FILE": path, "METRICS_TOKEN_SECRET_ARN": secretARN}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !c.DatabaseURL.IsZero() || !c.MetricsToken.IsZero() {
		t.Error("Load read a secret")
	}
	if o := c.Origin("DATABASE_URL"); o.Kind != config.OriginFile || o.Read || o.Ref != path {
		t.Errorf("Origin(DATABASE_URL) = %+v, want the file, unread", o)
	}
	wantVarError(t, "RequireDatabase", c.RequireDatabase(), "DATABASE_URL", "DATABASE_URL_FILE was not read")
	_, err = config.Load(env(map[string]string{"METRICS_TOKEN_SECRET_ARN": "not-an-arn"}))
	wantVarError(t, "Load with a bad ARN", err, "METRICS_TOKEN", "METRICS_TOKEN_SECRET_ARN", "is not a Secrets Manager secret ARN")
}

// Print says where each secret came from, and still shows no value.
func TestPrintShowsOrigins(t *testing.T) {
	t.Parallel()
	path := file(t, jwtSecret+"\n")
	c, err := loadFrom(map[string]string{
		"DATABASE_URL_SECRET_ARN":  secretARN + "#database_url",
		"SUPABASE_JWT_SECRET_FILE": path,
		"METRICS_TOKEN":            "metrics-token-DO-NOT-LEAK",
	}, &secretsManager{values: map[string]string{secretARN: jsonSecret}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := c.Print(&b); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{
		"DATABASE_URL=postgres://app:xxxxx@db.example:5432/postgres  # from Secrets Manager " + secretARN + "#database_url (DATABASE_URL_SECRET_ARN)\n",
		"SUPABASE_JWT_SECRET=[REDACTED]  # from file " + path + " (SUPABASE_JWT_SECRET_FILE)\n",
		"METRICS_TOKEN=[REDACTED]  # from the environment\n",
		"AWS_SECRET_ACCESS_KEY=\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Print() lacks %q:\n%s", want, got)
		}
	}
	for _, s := range []string{"DO-NOT-LEAK", "sm-pa55word"} {
		if strings.Contains(got, s) {
			t.Errorf("Print() shows a secret:\n%s", strings.ReplaceAll(got, s, "<secret>"))
		}
	}
}

func TestParseSecretRef(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want config.SecretRef
	}{
		{secretARN, config.SecretRef{ARN: secretARN, Region: "eu-west-1"}},
		{secretARN + "#database_url", config.SecretRef{ARN: secretARN, Region: "eu-west-1", Field: "database_url"}},
		{"arn:aws-cn:secretsmanager:cn-north-1:111122223333:secret:a/b_c+d=e.f@g-h", config.SecretRef{ARN: "arn:aws-cn:secretsmanager:cn-north-1:111122223333:secret:a/b_c+d=e.f@g-h", Region: "cn-north-1"}},
		{"arn:aws-us-gov:secretsmanager:us-gov-west-1:111122223333:secret:x#a#b", config.SecretRef{ARN: "arn:aws-us-gov:secretsmanager:us-gov-west-1:111122223333:secret:x", Region: "us-gov-west-1", Field: "a#b"}},
	} {
		got, err := config.ParseSecretRef(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseSecretRef(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("ParseSecretRef(%q).String() = %q", tt.in, got.String())
		}
	}
	for _, bad := range []string{"", "ivs-ingest", "arn:aws:secretsmanager:eu-west-1:1111:secret:x", "arn:aws:secretsmanager:eu-west-1:111122223333:secret:",
		"arn:aws:secretsmanager::111122223333:secret:x", "arn:aws:ssm:eu-west-1:111122223333:parameter/x", secretARN + "#"} {
		if got, err := config.ParseSecretRef(bad); err == nil {
			t.Errorf("ParseSecretRef(%q) = %+v, want an error", bad, got)
		}
	}
}
