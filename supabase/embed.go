// Package supabase embeds the database migrations in the binary. The same
// files are applied by `ivs-ingest migrate` and by the Supabase CLI
// (`supabase db push`), so each is a whole, idempotent, up-only SQL file.
package supabase

import "embed"

// Migrations holds supabase/migrations/*.sql, named YYYYMMDDHHMMSS_name.sql.
//
//go:embed migrations/*.sql
var Migrations embed.FS
