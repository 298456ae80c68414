package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/ivsemu"
)

// createDatabase creates an empty database on the cluster at adminURL, which
// must be on this machine, and returns its URL and a function that drops it.
func createDatabase(ctx context.Context, adminURL string) (dbURL string, drop func(), err error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, errors.New("database URL: not a valid URL")
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", nil, fmt.Errorf("database URL: host %q is not on this machine; the bench only runs against a local cluster", u.Hostname())
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	name := "ivs_bench_" + hex.EncodeToString(b)
	if err := execSQL(ctx, adminURL, "CREATE DATABASE "+name); err != nil {
		return "", nil, err
	}
	drop = func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = execSQL(dctx, adminURL, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// execSQL runs sql on its own connection.
func execSQL(ctx context.Context, dbURL, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connect to database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	return nil
}

// supabaseSchema is the part of a Supabase project the service reads:
// with auth.sessions present, the authorization query also checks that the
// caller has not signed out, as it does in production.
const supabaseSchema = `
DO $$ BEGIN
  CREATE ROLE anon NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
DO $$ BEGIN
  CREATE ROLE authenticated NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
CREATE SCHEMA auth;
CREATE TABLE auth.users (id uuid PRIMARY KEY);
CREATE TABLE auth.sessions (id uuid PRIMARY KEY, user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE);
`

// seller is one seeded approved seller, its signed-in session and its show.
type seller struct {
	userID, sessionID, sellerID, showID string
	channel                             ivsemu.Channel
	// keyless is true for a first-fetch show: its channel's key was deleted,
	// so the service's first request creates one. (The shows of the first
	// fetch with the channel stored start with a key, which the bench has
	// the service read, then revoke.)
	keyless bool
	token   string
}

// seedGroup is a number of sellers to seed, with or without a key on their
// channels.
type seedGroup struct {
	n       int
	keyless bool
}

// seedSellers creates, for each group, its approved sellers, each signed in
// with one show on a new emulator channel, with SQL straight into the tables
// the service reads (as internal/postgres/seed.go and internal/testenv do).
// The shows of a keyless group get a channel without a key, deleted through
// the AWS SDK as an operator would. It returns the sellers group by group.
func seedSellers(ctx context.Context, dbURL string, emu *ivsemu.Emulator, client *ivs.Client, groups []seedGroup) ([][]seller, error) {
	total := 0
	for _, g := range groups {
		total += g.n
	}
	all := make([]seller, total)
	byGroup := make([][]seller, len(groups))
	var users, sessions, sellerIDs, showIDs, channelARNs []string
	i := 0
	for gi, g := range groups {
		byGroup[gi] = all[i : i+g.n : i+g.n]
		for range g.n {
			s := &all[i]
			s.userID, s.sessionID, s.sellerID, s.showID = newUUID(), newUUID(), newUUID(), newUUID()
			s.keyless = g.keyless
			ch, err := emu.CreateChannel(fmt.Sprintf("bench-show-%d", i))
			if err != nil {
				return nil, err
			}
			if s.keyless {
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := client.DeleteStreamKey(cctx, &ivs.DeleteStreamKeyInput{Arn: aws.String(ch.StreamKey.ARN)})
				cancel()
				if err != nil {
					return nil, fmt.Errorf("DeleteStreamKey: %w", err)
				}
				ch.StreamKey = ivsemu.StreamKey{}
			}
			s.channel = ch
			users, sessions = append(users, s.userID), append(sessions, s.sessionID)
			sellerIDs, showIDs, channelARNs = append(sellerIDs, s.sellerID), append(showIDs, s.showID), append(channelARNs, ch.ARN)
			i++
		}
	}

	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// Text arrays cast in SQL, so pgx needs no UUID codec for strings.
	stmts := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO auth.users (id) SELECT unnest($1::text[])::uuid`, []any{users}},
		{`INSERT INTO auth.sessions (id, user_id) SELECT s::uuid, u::uuid FROM unnest($1::text[], $2::text[]) AS t (s, u)`, []any{sessions, users}},
		{`INSERT INTO public.sellers (id, user_id, status) SELECT s::uuid, u::uuid, 'approved' FROM unnest($1::text[], $2::text[]) AS t (s, u)`, []any{sellerIDs, users}},
		{`INSERT INTO public.shows (id, seller_id, ivs_channel_arn) SELECT sh::uuid, se::uuid, c FROM unnest($1::text[], $2::text[], $3::text[]) AS t (sh, se, c)`, []any{showIDs, sellerIDs, channelARNs}},
		{`ANALYZE`, nil},
	}
	for _, st := range stmts {
		if _, err := conn.Exec(ctx, st.sql, st.args...); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
	}
	return byGroup, nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
