package main

import (
	"strings"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// TestDoctorPreparedStatements: doctor says whether statements are
// prepared and when to change it, as information that fails nothing; with
// DATABASE_PREPARED_STATEMENTS=true its database check still connects and
// passes over a direct connection.
func TestDoctorPreparedStatements(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Supabase: true})
	for _, tt := range []struct {
		value string
		want  string
	}{
		{"", "prepared statements off (DATABASE_PREPARED_STATEMENTS=false)"},
		{"true", "prepared statements on (DATABASE_PREPARED_STATEMENTS=true)"},
	} {
		out, err := runDoctor(t, env.Getenv(map[string]string{"DATABASE_PREPARED_STATEMENTS": tt.value}))
		if err != nil {
			t.Fatalf("doctor with DATABASE_PREPARED_STATEMENTS=%q = %v, want nil\n%s", tt.value, err, out)
		}
		lines := linesOf(out, "database")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "PASS  database  ") ||
			!strings.HasPrefix(lines[1], "INFO  database  "+tt.want) {
			t.Errorf("DATABASE_PREPARED_STATEMENTS=%q: database lines = %q, want a PASS then INFO %q…", tt.value, lines, tt.want)
		}
		for _, hint := range []string{"session-mode", "PgBouncer >= 1.21 with max_prepared_statements", "Supavisor in session mode"} {
			if !strings.Contains(lines[len(lines)-1], hint) {
				t.Errorf("DATABASE_PREPARED_STATEMENTS=%q: the INFO line lacks %q: %q", tt.value, hint, lines[len(lines)-1])
			}
		}
	}
}
