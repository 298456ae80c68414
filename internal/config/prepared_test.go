package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/config"
)

func TestDatabasePreparedStatements(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		value string
		want  bool
	}{
		{"", false},
		{"false", false},
		{"0", false},
		{"true", true},
		{" TRUE ", true},
		{"1", true},
	} {
		c, err := config.Load(env(map[string]string{"DATABASE_PREPARED_STATEMENTS": tt.value}))
		if err != nil || c.DatabasePreparedStatements != tt.want {
			t.Errorf("DATABASE_PREPARED_STATEMENTS=%q: %v, %v; want %v", tt.value, c.DatabasePreparedStatements, err, tt.want)
		}
	}
	for _, bad := range []string{"yes", "session", "on"} {
		c, err := config.Load(env(map[string]string{"DATABASE_PREPARED_STATEMENTS": bad}))
		var ve *config.VarError
		if !errors.As(err, &ve) || ve.Name != "DATABASE_PREPARED_STATEMENTS" {
			t.Errorf("DATABASE_PREPARED_STATEMENTS=%q: error %v, want one naming DATABASE_PREPARED_STATEMENTS", bad, err)
		}
		if c.DatabasePreparedStatements {
			t.Errorf("DATABASE_PREPARED_STATEMENTS=%q: true, want the default false", bad)
		}
	}
	for value, want := range map[string]string{"": "DATABASE_PREPARED_STATEMENTS=false\n", "true": "DATABASE_PREPARED_STATEMENTS=true\n"} {
		if got := printed(t, map[string]string{"DATABASE_PREPARED_STATEMENTS": value}); !strings.Contains(got, want) {
			t.Errorf("Print() with DATABASE_PREPARED_STATEMENTS=%q lacks %q:\n%s", value, want, got)
		}
	}
}
