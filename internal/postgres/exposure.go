package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ShowsGuard is the state of the trigger zz_ivs_ingest_protect_columns,
// which keeps the Data API roles from writing the columns of public.shows
// that authorization trusts.
type ShowsGuard string

// The states of the trigger.
const (
	// GuardOn: a BEFORE INSERT OR UPDATE row trigger on public.shows
	// calls ivs_ingest.protect_show_columns() and fires in ordinary
	// sessions.
	GuardOn ShowsGuard = "on"
	// GuardDisabled: the trigger exists but does not fire (ALTER TABLE
	// ... DISABLE TRIGGER, or ENABLE REPLICA TRIGGER).
	GuardDisabled ShowsGuard = "disabled"
	// GuardMissing: no such trigger.
	GuardMissing ShowsGuard = "missing"
)

// A Write is one way a Data API role can change what authorization rests
// on: it holds the privilege and row level security lets it through.
type Write struct {
	Role    string // anon or authenticated
	Table   string // schema-qualified: public.sellers
	Column  string // "" when the write is of whole rows (user_roles)
	Command string // INSERT, UPDATE or DELETE
	// RLSOff: the table's row level security is off.
	RLSOff bool
	// RLSBypassed: the role is not subject to row level security (it owns
	// the table, or has BYPASSRLS or SUPERUSER).
	RLSBypassed bool
	// Policies are the permissive policies for the command (or ALL) that
	// apply to the role or to PUBLIC, by name. Empty when RLSOff or
	// RLSBypassed let the write through on their own.
	Policies []string
}

// Exposure is what Supabase's Data API roles could write of the data the
// authorization query trusts.
type Exposure struct {
	// Roles are the Data API roles the database has (anon, authenticated);
	// none on a database that is not a Supabase project's.
	Roles []string
	// Guard is the state of the trigger that protects public.shows.
	Guard ShowsGuard
	// Writes lists, role by role, each write of sellers.status,
	// sellers.user_id and user_roles the role can make, and of
	// shows.ivs_channel_arn, ivs_ingest_endpoint, ivs_stream_key_arn
	// (INSERT, UPDATE) and seller_id (UPDATE) when Guard is not GuardOn.
	Writes []Write
}

// dataAPIRoles are the roles PostgREST runs Supabase's Data API requests as.
var dataAPIRoles = []string{"anon", "authenticated"}

// guardSQL finds the trigger by its function, not its name: what matters is
// that the function runs before every row insert and update. tgtype's bits:
// 1 row, 2 before, 4 insert, 16 update. tgenabled 'O' fires in ordinary
// sessions and 'A' always; 'D' never and 'R' only in replication sessions.
const guardSQL = `
SELECT ARRAY(SELECT rolname::text FROM pg_roles WHERE rolname = ANY ($1::text[]) ORDER BY rolname),
  CASE
    WHEN bool_or(t.tgenabled IN ('O', 'A')) THEN 'on'
    WHEN count(t.oid) > 0 THEN 'disabled'
    ELSE 'missing'
  END
FROM (SELECT 1) one
LEFT JOIN pg_trigger t ON t.tgrelid = to_regclass('public.shows')
  AND t.tgfoid = to_regprocedure('ivs_ingest.protect_show_columns()')
  AND t.tgtype & 23 = 23`

// writesSQL lists the writes of the targets (one per table, column and
// command) that each Data API role can make. A role can make a write when
// it has the privilege (a table or column grant, through any role whose
// privileges it inherits) and either row level security does not apply to
// it or a permissive policy for the command or ALL names it, a role it is
// a member of, or PUBLIC (polroles {0}). $1 the roles, $2 whether the shows
// columns are targets.
const writesSQL = `
WITH target (n, tbl, col, cmd, polcmd) AS (VALUES
  (1, 'public.sellers', 'status', 'INSERT', 'a'),
  (2, 'public.sellers', 'status', 'UPDATE', 'w'),
  (3, 'public.sellers', 'user_id', 'INSERT', 'a'),
  (4, 'public.sellers', 'user_id', 'UPDATE', 'w'),
  (5, 'public.user_roles', NULL, 'INSERT', 'a'),
  (6, 'public.user_roles', NULL, 'UPDATE', 'w'),
  (7, 'public.user_roles', NULL, 'DELETE', 'd'),
  (8, 'public.shows', 'ivs_channel_arn', 'INSERT', 'a'),
  (9, 'public.shows', 'ivs_channel_arn', 'UPDATE', 'w'),
  (10, 'public.shows', 'ivs_ingest_endpoint', 'INSERT', 'a'),
  (11, 'public.shows', 'ivs_ingest_endpoint', 'UPDATE', 'w'),
  (12, 'public.shows', 'ivs_stream_key_arn', 'INSERT', 'a'),
  (13, 'public.shows', 'ivs_stream_key_arn', 'UPDATE', 'w'),
  (14, 'public.shows', 'seller_id', 'UPDATE', 'w')
),
w AS (
  SELECT r.rolname::text AS role, tg.n, tg.tbl, coalesce(tg.col, '') AS col, tg.cmd,
    NOT c.relrowsecurity AS rls_off,
    r.rolsuper OR r.rolbypassrls OR (pg_has_role(r.oid, c.relowner, 'USAGE') AND NOT c.relforcerowsecurity) AS bypassed,
    ARRAY(
      SELECT p.polname::text FROM pg_policy p
      WHERE p.polrelid = c.oid AND p.polpermissive AND p.polcmd IN (tg.polcmd::"char", '*')
        AND (0::oid = ANY (p.polroles) OR EXISTS (SELECT 1 FROM unnest(p.polroles) pr WHERE pg_has_role(r.oid, pr, 'MEMBER')))
      ORDER BY 1
    ) AS policies
  FROM target tg
  JOIN pg_class c ON c.oid = to_regclass(tg.tbl)
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = tg.col AND a.attnum > 0 AND NOT a.attisdropped
  CROSS JOIN pg_roles r
  WHERE r.rolname = ANY ($1::text[])
    AND (tg.tbl <> 'public.shows' OR $2)
    AND CASE
      WHEN tg.col IS NOT NULL THEN a.attnum IS NOT NULL AND has_column_privilege(r.oid, c.oid, a.attnum, tg.cmd)
      WHEN tg.cmd = 'DELETE' THEN has_table_privilege(r.oid, c.oid, 'DELETE')
      ELSE has_any_column_privilege(r.oid, c.oid, tg.cmd)
    END
)
SELECT role, tbl, col, cmd, rls_off, bypassed, CASE WHEN rls_off OR bypassed THEN '{}' ELSE policies END
FROM w
WHERE rls_off OR bypassed OR cardinality(policies) > 0
ORDER BY role, n`

// Exposure reads, from the catalogs, what the Data API roles could write of
// the data authorization rests on. It reads no table's rows.
func (db *DB) Exposure(ctx context.Context) (Exposure, error) {
	var e Exposure
	var guard string
	if err := db.pool.QueryRow(ctx, guardSQL, dataAPIRoles).Scan(&e.Roles, &guard); err != nil {
		return Exposure{}, fmt.Errorf("read the shows trigger: %w", err)
	}
	e.Guard = ShowsGuard(guard)
	if len(e.Roles) == 0 {
		return e, nil
	}
	rows, err := db.pool.Query(ctx, writesSQL, e.Roles, e.Guard != GuardOn)
	if err != nil {
		return Exposure{}, fmt.Errorf("read privileges and policies: %w", err)
	}
	e.Writes, err = pgx.AppendRows([]Write(nil), rows, func(r pgx.CollectableRow) (Write, error) {
		var w Write
		err := r.Scan(&w.Role, &w.Table, &w.Column, &w.Command, &w.RLSOff, &w.RLSBypassed, &w.Policies)
		if len(w.Policies) == 0 {
			w.Policies = nil
		}
		return w, err
	})
	if err != nil {
		return Exposure{}, fmt.Errorf("read privileges and policies: %w", err)
	}
	return e, nil
}

// SharedChannel is an IVS channel that shows of more than one seller name.
type SharedChannel struct {
	ARN     string
	Sellers int // distinct sellers whose shows name it
	Shows   int
}

// SharedChannels lists, by ARN, up to limit channels that shows of two or
// more sellers name (the authorization query refuses them), and how many
// there are in all. limit must be positive.
func (db *DB) SharedChannels(ctx context.Context, limit int) ([]SharedChannel, int, error) {
	rows, err := db.pool.Query(ctx, `
SELECT ivs_channel_arn, count(DISTINCT seller_id), count(*), count(*) OVER ()
FROM public.shows
WHERE ivs_channel_arn IS NOT NULL AND ivs_channel_arn <> ''
GROUP BY ivs_channel_arn
HAVING count(DISTINCT seller_id) > 1
ORDER BY ivs_channel_arn
LIMIT $1`, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("list shared channels: %w", err)
	}
	var total int
	channels, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SharedChannel, error) {
		var c SharedChannel
		err := r.Scan(&c.ARN, &c.Sellers, &c.Shows, &total)
		return c, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list shared channels: %w", err)
	}
	return channels, total, nil
}
