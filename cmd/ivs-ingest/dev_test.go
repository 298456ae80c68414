package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/demo"
	"github.com/ivs-ingest/ivs-ingest/internal/devauth"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// devRun is `ivs-ingest dev` running in the test.
type devRun struct {
	stdout, stderr *syncBuffer
	stop           context.CancelFunc
	done           chan struct{}
	err            error
	data           demo.Data
}

// startDev runs dev on a free port with dir as its data directory and waits
// until it answers. env supplies the environment ("" for unset).
func startDev(t *testing.T, dir string, env map[string]string, args ...string) *devRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &devRun{stdout: &syncBuffer{}, stderr: &syncBuffer{}, stop: cancel, done: make(chan struct{})}
	args = append([]string{"dev", "--port", "0", "--data", dir}, args...)
	begin := time.Now()
	go func() {
		defer close(d.done)
		d.err = run(ctx, args, func(k string) string { return env[k] }, d.stdout, d.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		<-d.done
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(d.stdout.String(), "is running at") {
		select {
		case <-d.done:
			t.Fatalf("dev exited: %v\n%s", d.err, d.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dev did not come up within 30s:\n%s", d.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("dev came up in %v", time.Since(begin))
	if data, found, err := demo.Load(dir); err != nil {
		t.Fatal(err)
	} else if found {
		d.data = data
	}
	return d
}

func (d *devRun) halt(t *testing.T) {
	t.Helper()
	d.stop()
	<-d.done
	if d.err != nil {
		t.Errorf("dev returned %v after SIGTERM, want nil", d.err)
	}
}

// ask requests show's ingest details as user.
func (d *devRun) ask(t *testing.T, token, showID, impersonate string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.data.BaseURL+"/functions/v1/get-ivs-ingest", strings.NewReader(`{"showId":"`+showID+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if impersonate != "" {
		req.Header.Set("X-Impersonate-Seller-Id", impersonate)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, m
}

func mustRole(t *testing.T, d demo.Data, role string) demo.User {
	t.Helper()
	u, ok := d.ByRole(role)
	if !ok {
		t.Fatalf("demo.json has no %s", role)
	}
	return u
}

func TestDevQuickStart(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	d := startDev(t, dir, nil)

	// demo.json: the documented shape, one user of each role.
	raw, err := os.ReadFile(filepath.Join(dir, demo.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var shape struct {
		BaseURL string `json:"baseUrl"`
		Users   []map[string]any
		Shows   []map[string]any
	}
	if err := json.Unmarshal(raw, &shape); err != nil {
		t.Fatal(err)
	}
	roles := map[string]bool{}
	for _, u := range shape.Users {
		if len(u) != 5 || u["name"] == nil || u["userId"] == nil || u["token"] == nil {
			t.Errorf("demo.json user has fields %v, want name, userId, role, sellerId, token", keys(u))
		}
		roles[u["role"].(string)] = true
		if (u["role"] == "admin" || u["role"] == "user") != (u["sellerId"] == nil) {
			t.Errorf("demo.json %s has sellerId %v; want null exactly for users who are not sellers", u["role"], u["sellerId"])
		}
	}
	for _, r := range []string{demo.RoleApprovedSeller, demo.RolePendingSeller, demo.RoleAdmin, demo.RoleUser} {
		if !roles[r] {
			t.Errorf("demo.json has no %s", r)
		}
	}
	if len(shape.Shows) != 3 || !strings.HasPrefix(shape.BaseURL, "http://127.0.0.1:") {
		t.Errorf("demo.json: %d shows, baseUrl %q; want 3 and a loopback URL", len(shape.Shows), shape.BaseURL)
	}

	approved := mustRole(t, d.data, demo.RoleApprovedSeller)
	pending := mustRole(t, d.data, demo.RolePendingSeller)
	admin := mustRole(t, d.data, demo.RoleAdmin)
	user := mustRole(t, d.data, demo.RoleUser)
	live, _ := d.data.ShowOf(*approved.SellerID, true)
	bare, _ := d.data.ShowOf(*approved.SellerID, false)
	pendingShow, _ := d.data.ShowOf(*pending.SellerID, true)

	// The banner's first curl, run as printed.
	var first string
	for _, line := range strings.Split(d.stdout.String(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "curl ") {
			first = strings.TrimSpace(line)
			break
		}
	}
	out, err := exec.Command("bash", "-c", first+" -w ' %{http_code}'").Output()
	if err != nil {
		t.Fatalf("running the banner's curl: %v", err)
	}
	if !strings.HasSuffix(string(out), " 200") || !strings.Contains(string(out), `"serverUrl":"rtmps://`) || !strings.Contains(string(out), ":443/app/") {
		t.Errorf("the banner's first curl answered %d bytes ending %q, want 200 with an rtmps://...:443/app/ serverUrl", len(out), string(out)[max(0, len(out)-4):])
	}

	status, body := d.ask(t, approved.Token, live.ID, "")
	key, _ := body["streamKey"].(string)
	if status != 200 || key == "" {
		t.Fatalf("approved seller = %d %v, want 200 with a key", status, body["error"])
	}
	if _, again := d.ask(t, approved.Token, live.ID, ""); again["streamKey"] != key {
		t.Error("the same request again returned another key")
	}
	for _, c := range []struct {
		what, token, show, impersonate string
		status                         int
		message                        string
	}{
		{"show without a channel", approved.Token, bare.ID, "", 400, "Show does not have IVS channel configured"},
		{"pending seller", pending.Token, pendingShow.ID, "", 403, "Seller not approved"},
		{"admin impersonating the pending seller", admin.Token, pendingShow.ID, *pending.SellerID, 200, ""},
		{"user who is not a seller", user.Token, live.ID, "", 403, "Seller profile not found"},
	} {
		status, body := d.ask(t, c.token, c.show, c.impersonate)
		if status != c.status || (c.message != "" && body["error"] != c.message) {
			t.Errorf("%s = %d %v, want %d %q", c.what, status, body["error"], c.status, c.message)
		}
	}

	// dev seals the keys it stores under a master key of its own, made on
	// first run, readable by its user alone, and kept across restarts.
	masterKey := filepath.Join(dir, masterKeyFile)
	fi, err := os.Stat(masterKey)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("dev's master key file: %v, mode %v; want it, 0600", err, fi)
	}
	before, _ := os.ReadFile(masterKey)

	// A restart keeps every key, and the users.
	d.halt(t)
	d2 := startDev(t, dir, nil)
	if after, _ := os.ReadFile(masterKey); !bytes.Equal(before, after) {
		t.Error("a restart of dev replaced its master key")
	}
	if again := mustRole(t, d2.data, demo.RoleApprovedSeller); again.UserID != approved.UserID {
		t.Fatalf("after a restart demo.json names another approved seller")
	}
	if _, body := d2.ask(t, mustRole(t, d2.data, demo.RoleApprovedSeller).Token, live.ID, ""); body["streamKey"] != key {
		t.Error("after a restart the approved seller got another key")
	}

	// ivs-ingest token mints more tokens for the running dev server.
	var tok strings.Builder
	if err := run(context.Background(), []string{"token", "--data", dir, "--user", strings.ToUpper(approved.UserID), "--ttl", "10m"},
		func(string) string { return "" }, &tok, io.Discard); err != nil {
		t.Fatalf("token: %v", err)
	}
	if status, body := d2.ask(t, strings.TrimSpace(tok.String()), live.ID, ""); status != 200 || body["streamKey"] != key {
		t.Errorf("request with a minted token = %d %v, want 200 and the key", status, body["error"])
	}
	tok.Reset()
	if err := run(context.Background(), []string{"token", "--data", dir, "--user", approved.UserID, "--anonymous"},
		func(string) string { return "" }, &tok, io.Discard); err != nil {
		t.Fatalf("token --anonymous: %v", err)
	}
	if status, _ := d2.ask(t, strings.TrimSpace(tok.String()), live.ID, ""); status != 401 {
		t.Errorf("request with an anonymous token = %d, want 401", status)
	}
}

func TestTokenRefusesWithoutDevData(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"token", "--data", filepath.Join(t.TempDir(), "none"), "--user", "0a000000-0000-4000-8000-000000000001"},
		func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "ivs-ingest dev") {
		t.Errorf("token without a dev data directory = %v, want an error saying to run `ivs-ingest dev`", err)
	}
	err = run(context.Background(), []string{"token", "--data", t.TempDir(), "--user", "nope"}, func(string) string { return "" }, io.Discard, io.Discard)
	if exitCode(err) != 2 {
		t.Errorf("token --user nope = %v, want a usage error", err)
	}
}

// dev on PostgreSQL: demo data only with --seed-demo and only into a
// database without sellers; with auth.sessions, the issuer's sessions exist
// so the sign-out check passes.
func TestDevOnPostgres(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Supabase: true, Unmigrated: true})
	vars := map[string]string{"DATABASE_URL": env.DatabaseURL}

	d := startDev(t, t.TempDir(), vars)
	if len(d.data.Users) != 0 || !strings.Contains(d.stdout.String(), "No demo data") {
		t.Errorf("dev on PostgreSQL without --seed-demo seeded %d users, want none and a banner saying so", len(d.data.Users))
	}
	// A fresh database (no sellers) is marked as a dev one, and the marker
	// is locked down like the service's other tables.
	if !queryBool(t, env.DatabaseURL, `SELECT EXISTS (SELECT 1 FROM ivs_ingest.dev_database)`) {
		t.Error("dev on a fresh database did not mark it as a dev database")
	}
	if !queryBool(t, env.DatabaseURL, `SELECT c.relrowsecurity AND NOT has_table_privilege('authenticated', c.oid, 'SELECT')
		AND NOT has_table_privilege('anon', c.oid, 'SELECT') FROM pg_class c WHERE c.oid = 'ivs_ingest.dev_database'::regclass`) {
		t.Error("ivs_ingest.dev_database is not locked down (row level security on, no grants to anon or authenticated)")
	}
	if strings.Contains(d.stderr.String(), "WARN") {
		t.Errorf("dev on a fresh database warned:\n%s", d.stderr.String())
	}
	if !strings.Contains(d.stdout.String(), "PostgreSQL from DATABASE_URL (real)") {
		t.Errorf("the banner does not say the store is real PostgreSQL:\n%s", d.stdout.String())
	}
	d.halt(t)

	dir := t.TempDir()
	d = startDev(t, dir, vars, "--seed-demo")
	approved := mustRole(t, d.data, demo.RoleApprovedSeller)
	live, _ := d.data.ShowOf(*approved.SellerID, true)
	if status, body := d.ask(t, approved.Token, live.ID, ""); status != 200 {
		t.Errorf("approved demo seller on PostgreSQL with auth.sessions = %d %v, want 200", status, body["error"])
	}
	var tok strings.Builder
	if err := run(context.Background(), []string{"token", "--data", dir, "--user", approved.UserID}, func(k string) string { return vars[k] }, &tok, io.Discard); err != nil {
		t.Fatalf("token: %v", err)
	}
	if status, body := d.ask(t, strings.TrimSpace(tok.String()), live.ID, ""); status != 200 {
		t.Errorf("minted token on PostgreSQL with auth.sessions = %d %v, want 200 (its session recorded)", status, body["error"])
	}
	d.halt(t)
}

// withPassword returns dbURL with a password (the test cluster trusts local
// connections, so any will do), and the password, which no output may show.
func withPassword(t *testing.T, dbURL string) (string, string) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if pw, ok := u.User.Password(); ok {
		return dbURL, pw
	}
	const pw = "dbPassword-DO-NOT-LEAK-4711"
	u.User = url.UserPassword(u.User.Username(), pw)
	return u.String(), pw
}

// queryBool runs a query answering one boolean on the database at dbURL.
func queryBool(t *testing.T, dbURL, sql string, args ...any) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var b bool
	if err := conn.QueryRow(ctx, sql, args...).Scan(&b); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return b
}

// A database that has sellers and no dev marker may be production: dev
// refuses it before writing anything, unless --allow-any-database, which
// warns and names the database but never its password.
func TestDevRefusesADatabaseNotMarkedAsDev(t *testing.T) {
	t.Parallel()
	// An existing Supabase app's database, never migrated by ivs-ingest.
	env := testenv.New(t, testenv.Options{Supabase: true, Unmigrated: true})
	pgtest.Exec(t, env.DatabaseURL, `
CREATE TABLE public.sellers (id uuid PRIMARY KEY, user_id uuid NOT NULL UNIQUE, status text NOT NULL);
INSERT INTO public.sellers VALUES (gen_random_uuid(), gen_random_uuid(), 'approved');`)
	dbURL, password := withPassword(t, env.DatabaseURL)
	vars := map[string]string{"DATABASE_URL": dbURL}
	target := postgres.Target(dbURL)

	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	dir := filepath.Join(t.TempDir(), "data")
	// Bounded, so that a dev that wrongly starts ends and fails the test.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run(ctx, []string{"dev", "--port", "0", "--data", dir, "--seed-demo"}, func(k string) string { return vars[k] }, stdout, stderr)
	if !errors.Is(err, errNotDevDatabase) || !strings.Contains(err.Error(), target) || !strings.Contains(err.Error(), "--allow-any-database") {
		t.Fatalf("dev on a database with sellers and no marker = %v, want an error naming %s and --allow-any-database", err, target)
	}
	if strings.Contains(err.Error()+stdout.String()+stderr.String(), password) {
		t.Error("dev's refusal shows the database password")
	}
	if queryBool(t, env.DatabaseURL, `SELECT to_regnamespace('ivs_ingest') IS NOT NULL OR to_regclass('public.shows') IS NOT NULL`) {
		t.Error("dev refused but migrated the database (schema ivs_ingest or public.shows exists)")
	}
	if queryBool(t, env.DatabaseURL, `SELECT EXISTS (SELECT 1 FROM auth.users) OR EXISTS (SELECT 1 FROM auth.sessions)
		OR (SELECT count(*) FROM public.sellers) <> 1`) {
		t.Error("dev refused but wrote users, sessions or sellers")
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("dev refused but created its data directory")
	}

	// --allow-any-database: it runs, says so loudly, and still seeds nothing
	// into a database that has sellers, nor marks it.
	d := startDev(t, dir, vars, "--seed-demo", "--allow-any-database")
	warn := ""
	for _, line := range strings.Split(d.stderr.String(), "\n") {
		if strings.HasPrefix(line, "WARN") {
			warn = line
		}
	}
	if !strings.Contains(warn, "--allow-any-database") || !strings.Contains(warn, target) {
		t.Errorf("dev --allow-any-database warned %q, want a WARN line naming %s", warn, target)
	}
	if len(d.data.Users) != 0 || queryBool(t, env.DatabaseURL, `SELECT (SELECT count(*) FROM public.sellers) <> 1`) {
		t.Errorf("--seed-demo seeded a database that has sellers")
	}
	if queryBool(t, env.DatabaseURL, `SELECT to_regclass('ivs_ingest.dev_database') IS NOT NULL`) {
		t.Error("dev --allow-any-database marked a database that has sellers as a dev one")
	}
	d.halt(t)
	if strings.Contains(d.stdout.String()+d.stderr.String(), password) {
		t.Error("dev --allow-any-database shows the database password")
	}
}

// token with DATABASE_URL records a session only in a database marked as a
// dev one (TestDevOnPostgres covers the marked case), or, with a warning,
// with --allow-any-database.
func TestTokenRefusesADatabaseNotMarkedAsDev(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Supabase: true})
	env.Seller(t, "approved")
	dbURL, password := withPassword(t, env.DatabaseURL)
	getenv := func(k string) string { return map[string]string{"DATABASE_URL": dbURL}[k] }
	target := postgres.Target(dbURL)
	dir := t.TempDir()
	if _, err := devauth.LoadOrCreate(dir, "http://127.0.0.1:8080"); err != nil {
		t.Fatal(err)
	}
	if err := demo.Save(dir, demo.Data{BaseURL: "http://127.0.0.1:8080"}); err != nil {
		t.Fatal(err)
	}
	const user = "0a000000-0000-4000-8000-0000000000aa"

	for _, withSellers := range []bool{true, false} {
		if !withSellers {
			// Not marked is enough to refuse: an empty production database too.
			pgtest.Exec(t, env.DatabaseURL, `DELETE FROM public.sellers`)
		}
		var stdout, stderr strings.Builder
		err := run(context.Background(), []string{"token", "--data", dir, "--user", user}, getenv, &stdout, &stderr)
		if !errors.Is(err, errNotDevDatabase) || !strings.Contains(err.Error(), target) || !strings.Contains(err.Error(), "--allow-any-database") {
			t.Fatalf("token on an unmarked database (sellers: %v) = %v, want an error naming %s and --allow-any-database", withSellers, err, target)
		}
		if stdout.Len() != 0 || strings.Contains(err.Error()+stderr.String(), password) {
			t.Errorf("token's refusal printed a token (%d bytes) or the database password", stdout.Len())
		}
		if queryBool(t, env.DatabaseURL, `SELECT EXISTS (SELECT 1 FROM auth.users WHERE id = $1)`, user) {
			t.Fatal("token refused but added the user to auth.users")
		}
	}

	var stdout, stderr strings.Builder
	if err := run(context.Background(), []string{"token", "--data", dir, "--user", user, "--allow-any-database"}, getenv, &stdout, &stderr); err != nil {
		t.Fatalf("token --allow-any-database: %v", err)
	}
	if w := stderr.String(); !strings.HasPrefix(w, "WARN") || !strings.Contains(w, target) || strings.Contains(w, password) {
		t.Errorf("token --allow-any-database wrote %q to stderr, want a WARN line naming %s without the password", w, target)
	}
	if strings.Count(stdout.String(), ".") != 2 {
		t.Errorf("token --allow-any-database printed %d bytes, want a JWT", stdout.Len())
	}
	if !queryBool(t, env.DatabaseURL, `SELECT EXISTS (SELECT 1 FROM auth.sessions WHERE user_id = $1)`, user) {
		t.Error("token --allow-any-database did not record the token's session")
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
