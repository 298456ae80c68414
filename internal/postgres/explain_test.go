package postgres_test

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
)

func TestExplain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// PostgreSQL answers: no such database (SQLSTATE 3D000), which the
	// operator fixes in DATABASE_URL.
	u, err := url.Parse(pgtest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/no_such_database_here"
	_, err = postgres.Open(ctx, u.String(), postgres.Options{MaxConns: 2})
	if err == nil {
		t.Fatal("Open on a database that does not exist succeeded")
	}
	cause, advice := postgres.Explain(err)
	if want := `PostgreSQL refused: database "no_such_database_here" does not exist (SQLSTATE 3D000)`; cause != want {
		t.Errorf("Explain(no such database) cause = %q, want %q", cause, want)
	}
	if want := "check DATABASE_URL's user, password and database name"; advice != want {
		t.Errorf("Explain(no such database) advice = %q, want %q", advice, want)
	}

	// Nothing answers: the cause is the connection, once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = postgres.Open(ctx, "postgres://app:db-pa55word@"+addr+"/postgres?sslmode=disable", postgres.Options{ConnectTimeout: 2 * time.Second})
	if err == nil {
		t.Fatal("Open on a closed port succeeded")
	}
	cause, advice = postgres.Explain(err)
	if !strings.HasPrefix(cause, "cannot connect: ") || !strings.Contains(cause, addr) || strings.Contains(cause, "db-pa55word") {
		t.Errorf("Explain(closed port) cause = %q, want \"cannot connect: \" naming %s and not the password", cause, addr)
	}
	if want := "check DATABASE_URL and that the database accepts connections from this host"; advice != want {
		t.Errorf("Explain(closed port) advice = %q, want %q", advice, want)
	}

	// Out of time: the deadline, with the same advice.
	cause, advice = postgres.Explain(context.DeadlineExceeded)
	if cause != context.DeadlineExceeded.Error() || !strings.HasPrefix(advice, "check DATABASE_URL and") {
		t.Errorf("Explain(deadline) = %q, %q; want the deadline and the connection advice", cause, advice)
	}
}

func TestTarget(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ raw, want string }{
		{"postgres://app:db-pa55word@db.example:6543/postgres?sslmode=require", "app@db.example:6543/postgres"},
		{"postgres://app@db.example/shop?password=db-pa55word", "app@db.example:5432/shop"},
		{"host=db.example port=5433 user=app password=db-pa55word dbname=shop", "app@db.example:5433/shop"},
		{"postgres://app:db-pa55word@db.example:badport/x", "DATABASE_URL"},
	} {
		if got := postgres.Target(tt.raw); got != tt.want {
			t.Errorf("Target(%q) = %q, want %q", strings.ReplaceAll(tt.raw, "db-pa55word", "<password>"), got, tt.want)
		}
	}
}
