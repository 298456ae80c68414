package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/demo"
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

	// A restart keeps every key, and the users.
	d.halt(t)
	d2 := startDev(t, dir, nil)
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

	// A database with sellers of its own is never seeded.
	other := testenv.New(t, testenv.Options{})
	other.Seller(t, "approved")
	d = startDev(t, t.TempDir(), map[string]string{"DATABASE_URL": other.DatabaseURL}, "--seed-demo")
	if len(d.data.Users) != 0 {
		t.Errorf("--seed-demo seeded a database that has sellers")
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
