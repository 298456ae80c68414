// Package pgtest gives tests their own PostgreSQL databases on the cluster
// named by TEST_DATABASE_URL, which `make test` (scripts/with-postgres)
// starts and exports.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the variable holding the admin URL of the test cluster.
const EnvVar = "TEST_DATABASE_URL"

// AdminURL returns the test cluster's URL, failing the test when it is not
// set: a database test that silently skips would hide failures.
func AdminURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvVar)
	if u == "" {
		t.Fatalf("%s is not set: run the tests with `make test`, which starts a throwaway PostgreSQL", EnvVar)
	}
	return u
}

// NewDatabase creates an empty database for the test and returns its URL.
// The database is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := AdminURL(t)
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("rand: %v", err)
	}
	name := "test_" + hex.EncodeToString(b)
	Exec(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() {
		Exec(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvVar, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Exec runs SQL statements on the database at dbURL, failing the test on error.
func Exec(t testing.TB, dbURL, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect to test database: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("exec %q: %v", firstLine(sql), err)
	}
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i] + " ..."
		}
	}
	return s
}
