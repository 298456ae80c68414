package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/auth/authtest"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// The issuer check against the auth server's OpenID discovery document:
// PASS when it publishes the issuer tokens must carry, FAIL naming both
// when it publishes another (the SUPABASE_JWT_ISSUER without
// /auth/v1), and an INFO line that leaves the exit status alone when no
// document is served.
func TestDoctorIssuer(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	iss := env.Issuer
	discovery := iss.URL() + authtest.DiscoveryPath

	out, err := runDoctor(t, env.Getenv(nil))
	if err != nil {
		t.Errorf("doctor with the issuer the auth server publishes = %v, want nil\n%s", err, out)
	}
	wantLine(t, out, "issuer", `PASS  issuer    GET `+discovery+`: the auth server publishes issuer "`+iss.IssuerURL()+`", the one tokens must carry`)

	// The mistake: SUPABASE_JWT_ISSUER without /auth/v1. The
	// document is not under that issuer, but under SUPABASE_URL/auth/v1.
	out, err = runDoctor(t, env.Getenv(map[string]string{"SUPABASE_JWT_ISSUER": iss.URL()}))
	wantFailed(t, err, "issuer")
	wantLine(t, out, "issuer", `FAIL  issuer    GET `+discovery+`: the auth server publishes issuer "`+iss.IssuerURL()+`", but tokens must carry "`+iss.URL()+
		`" (SUPABASE_JWT_ISSUER), so every token it issues is refused (401, issuer mismatch): unset SUPABASE_JWT_ISSUER: its default is that`)
	if l := linesOf(out, "jwks"); len(l) != 1 || !strings.HasPrefix(l[0], "PASS") {
		t.Errorf("jwks lines with a wrong issuer = %q, want one PASS: the key set is fine", l)
	}

	// A self-hosted server whose own issuer differs from the default.
	iss.SetDiscoveryIssuer("https://auth.example.com/auth/v1")
	out, err = runDoctor(t, env.Getenv(nil))
	wantFailed(t, err, "issuer")
	wantLine(t, out, "issuer", `FAIL  issuer    GET `+discovery+`: the auth server publishes issuer "https://auth.example.com/auth/v1", but tokens must carry "`+iss.IssuerURL()+
		`" (the default, ${SUPABASE_URL}/auth/v1), so every token it issues is refused (401, issuer mismatch): set SUPABASE_JWT_ISSUER=https://auth.example.com/auth/v1`)

	// No discovery document: information, and doctor still passes.
	iss.SetDiscoveryIssuer("")
	out, err = runDoctor(t, env.Getenv(nil))
	if err != nil {
		t.Errorf("doctor with no discovery document = %v, want nil (an INFO line only)\n%s", err, out)
	}
	wantLine(t, out, "issuer", `INFO  issuer    issuer "`+iss.IssuerURL()+`" (the default, ${SUPABASE_URL}/auth/v1) could not be checked: no OpenID discovery document (GET `+
		discovery+`: no OpenID discovery document: status 404); make sure it is the iss claim of your tokens`)
	if !strings.Contains(out, "no check failed") {
		t.Errorf("doctor with no discovery document lacks the all-clear:\n%s", out)
	}
	iss.SetDiscoveryIssuer(iss.IssuerURL())
}

// A self-hosted auth server behind its own JWKS URL: its discovery document
// is looked for beside the JWKS too, the URL's apikey kept for the request
// and redacted in the report; a document elsewhere that is not one (HTML)
// does not count.
func TestDoctorIssuerBesideASelfHostedJWKS(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	const apikey = "sb_secret_DOCTORKEY"
	var gotKey string
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/auth/v1/.well-known/openid-configuration":
			gotKey = r.URL.Query().Get("apikey")
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"issuer":"`+env.Issuer.IssuerURL()+`","jwks_uri":"x"}`)
		case "/auth/v1/.well-known/jwks.json":
			_, _ = w.Write(env.Issuer.JWKS(t))
		default:
			_, _ = io.WriteString(w, "<html>gateway</html>")
		}
	}))
	t.Cleanup(gateway.Close)
	env.Issuer.SetDiscoveryIssuer("") // the issuer's own server publishes none

	out, err := runDoctor(t, env.Getenv(map[string]string{
		"SUPABASE_JWKS_URL": gateway.URL + "/auth/v1/.well-known/jwks.json?apikey=" + apikey,
	}))
	if err != nil {
		t.Errorf("doctor = %v, want nil\n%s", err, out)
	}
	wantLine(t, out, "issuer", `PASS  issuer    GET `+gateway.URL+`/auth/v1/.well-known/openid-configuration?[REDACTED]: the auth server publishes issuer "`+
		env.Issuer.IssuerURL()+`", the one tokens must carry`)
	if gotKey != apikey {
		t.Errorf("the discovery request carried apikey %q, want the JWKS URL's", gotKey)
	}
	wantNoSecrets(t, out, apikey)
}

// The role Supabase Auth's own setup gives postgres: SELECT on auth.sessions
// but no USAGE on schema auth. doctor's database line and serve's refusal
// both name the grant, not PostgreSQL's "permission denied for schema auth"
// alone.
func TestDoctorAndServeNameTheMissingSchemaGrant(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Supabase: true})
	role := "doctor_nousage_" + strings.ReplaceAll(testenv.NewID(t)[:8], "-", "")
	pgtest.Exec(t, env.DatabaseURL, `CREATE ROLE `+role+` LOGIN;`+pgtest.SupabaseAuthGrants(role))
	t.Cleanup(func() { pgtest.Exec(t, env.DatabaseURL, `DROP OWNED BY `+role+`; DROP ROLE `+role) })
	asRole := strings.Replace(env.DatabaseURL, "postgres://postgres@", "postgres://"+role+"@", 1)
	if asRole == env.DatabaseURL {
		t.Fatalf("test database URL does not name the postgres user: cannot switch roles")
	}
	const grant = "GRANT USAGE ON SCHEMA auth TO "

	out, err := runDoctor(t, env.Getenv(map[string]string{"DATABASE_URL": asRole}))
	wantFailed(t, err, "database")
	lines := linesOf(out, "database")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "FAIL  database  ") || !strings.HasSuffix(lines[0], grant+role) ||
		strings.Contains(lines[0], "GRANT SELECT") {
		t.Errorf("doctor's database lines = %q, want one FAIL ending %q", lines, grant+role)
	}

	// Bounded: a serve that did not refuse would serve until its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = run(ctx, []string{"serve"}, env.Getenv(map[string]string{"DATABASE_URL": asRole, "PORT": "0"}), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `USAGE on schema auth ("permission denied for schema auth")`) || !strings.HasSuffix(err.Error(), grant+role) {
		t.Errorf("serve as a role without USAGE on auth = %v, want a refusal naming %q", err, grant+role)
	}
}
