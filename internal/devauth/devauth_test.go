package devauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/auth"
	"github.com/ivs-ingest/ivs-ingest/internal/devauth"
)

const user = "0a000000-0000-4000-8000-000000000001"

// serve publishes the issuer's JWKS as the dev server does and returns a
// real verifier trusting it.
func serve(t *testing.T, dir string) (*devauth.Issuer, *auth.Verifier) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	iss, err := devauth.LoadOrCreate(dir, srv.URL)
	if err != nil {
		t.Fatalf("LoadOrCreate: %v", err)
	}
	mux.Handle(devauth.JWKSPath, iss.JWKSHandler())
	v, err := auth.New(context.Background(), auth.Config{Issuer: srv.URL + "/auth/v1", JWKSURL: srv.URL + devauth.JWKSPath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return iss, v
}

func TestTokensVerifyLikeSupabases(t *testing.T) {
	t.Parallel()
	iss, v := serve(t, t.TempDir())
	tok, err := iss.Token(user, "0b000000-0000-4000-8000-000000000001", devauth.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(context.Background(), tok)
	if err != nil || c.UserID != user || c.SessionID != "0b000000-0000-4000-8000-000000000001" {
		t.Errorf("Verify(dev token) = %+v, %v; want the user and session", c, err)
	}
	anon, err := iss.Token(user, "", devauth.TokenOptions{Anonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), anon); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("Verify(anonymous dev token) = %v, want ErrInvalidToken", err)
	}
}

func TestKeyPersists(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := devauth.Load(dir, "http://x"); !errors.Is(err, devauth.ErrNoKey) {
		t.Fatalf("Load(empty dir) = %v, want ErrNoKey", err)
	}
	first, err := devauth.LoadOrCreate(dir, "http://x")
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, devauth.KeyFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, mode %v; want 0600", err, info.Mode().Perm())
	}
	again, err := devauth.Load(dir, "http://x")
	if err != nil {
		t.Fatal(err)
	}
	if string(first.JWKS()) != string(again.JWKS()) {
		t.Error("a second Load published another key: tokens would not survive a restart")
	}
	if err := os.WriteFile(filepath.Join(dir, devauth.KeyFile), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := devauth.Load(dir, "http://x"); err == nil {
		t.Error("Load accepted a junk key file")
	}
}
