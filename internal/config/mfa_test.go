package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/config"
)

func TestRequireMFA(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		value string
		want  bool
	}{
		{"", false},
		{"false", false},
		{"FALSE", false},
		{"0", false},
		{"true", true},
		{" True ", true},
		{"1", true},
	} {
		c, err := config.Load(env(map[string]string{"REQUIRE_MFA": tt.value}))
		if err != nil || c.RequireMFA != tt.want {
			t.Errorf("REQUIRE_MFA=%q: %v, %v; want %v", tt.value, c.RequireMFA, err, tt.want)
		}
	}
	for _, bad := range []string{"yes", "on", "aal2"} {
		c, err := config.Load(env(map[string]string{"REQUIRE_MFA": bad}))
		var ve *config.VarError
		if !errors.As(err, &ve) || ve.Name != "REQUIRE_MFA" {
			t.Errorf("REQUIRE_MFA=%q: error %v, want one naming REQUIRE_MFA", bad, err)
		}
		if c.RequireMFA {
			t.Errorf("REQUIRE_MFA=%q: RequireMFA = true, want the default false", bad)
		}
	}
	if got := printed(t, map[string]string{"REQUIRE_MFA": "true"}); !strings.Contains(got, "REQUIRE_MFA=true\n") {
		t.Errorf("Print() lacks REQUIRE_MFA=true:\n%s", got)
	}
}
