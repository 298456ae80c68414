package config_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/config"
)

// JWT_LEEWAY and JWKS_REFRESH_INTERVAL: their defaults, their bounds, and
// a refusal that names the variable and the range.
func TestJWTTimingVariables(t *testing.T) {
	t.Parallel()
	base := map[string]string{"SUPABASE_URL": "https://abc.supabase.co"}
	with := func(k, v string) func(string) string {
		m := map[string]string{k: v}
		for k, v := range base {
			m[k] = v
		}
		return env(m)
	}

	c, err := config.Load(env(base))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.JWTLeeway != 5*time.Second || c.JWKSRefreshInterval != 10*time.Minute {
		t.Errorf("defaults: JWTLeeway %v, JWKSRefreshInterval %v; want 5s, 10m", c.JWTLeeway, c.JWKSRefreshInterval)
	}

	for _, tt := range []struct {
		name, value string
		want        time.Duration
	}{
		{"JWT_LEEWAY", "0", 0},
		{"JWT_LEEWAY", "30s", 30 * time.Second},
		{"JWT_LEEWAY", "5m", 5 * time.Minute},
		{"JWKS_REFRESH_INTERVAL", "1s", time.Second},
		{"JWKS_REFRESH_INTERVAL", "2m", 2 * time.Minute},
		{"JWKS_REFRESH_INTERVAL", "24h", 24 * time.Hour},
	} {
		c, err := config.Load(with(tt.name, tt.value))
		got := map[string]time.Duration{"JWT_LEEWAY": c.JWTLeeway, "JWKS_REFRESH_INTERVAL": c.JWKSRefreshInterval}[tt.name]
		if err != nil || got != tt.want {
			t.Errorf("Load(%s=%s) = %v, %v; want %v", tt.name, tt.value, got, err, tt.want)
		}
	}

	for _, tt := range []struct{ name, value, want string }{
		{"JWT_LEEWAY", "6m", `JWT_LEEWAY: "6m" is not a duration from 0 to 5m`},
		{"JWT_LEEWAY", "-1s", `JWT_LEEWAY: "-1s" is not a duration from 0 to 5m`},
		{"JWT_LEEWAY", "soon", `JWT_LEEWAY: "soon" is not a duration from 0 to 5m`},
		{"JWKS_REFRESH_INTERVAL", "0", `JWKS_REFRESH_INTERVAL: "0" is not a duration from 1s to 24h`},
		{"JWKS_REFRESH_INTERVAL", "500ms", `JWKS_REFRESH_INTERVAL: "500ms" is not a duration from 1s to 24h`},
		{"JWKS_REFRESH_INTERVAL", "25h", `JWKS_REFRESH_INTERVAL: "25h" is not a duration from 1s to 24h`},
	} {
		_, err := config.Load(with(tt.name, tt.value))
		if err == nil || err.Error() != tt.want {
			t.Errorf("Load(%s=%s) = %v, want %q", tt.name, tt.value, err, tt.want)
		}
	}

	var out strings.Builder
	c, _ = config.Load(with("JWT_LEEWAY", "0"))
	if err := c.Print(&out); err != nil || !strings.Contains(out.String(), "\nJWT_LEEWAY=0s\n") || !strings.Contains(out.String(), "\nJWKS_REFRESH_INTERVAL=10m0s\n") {
		t.Errorf("Print() with JWT_LEEWAY=0 = %v:\n%s\nwant lines JWT_LEEWAY=0s and JWKS_REFRESH_INTERVAL=10m0s", err, out.String())
	}
}

// JWT_CACHE_SIZE: its default, its bounds (0 turns the cache off).
func TestJWTCacheSize(t *testing.T) {
	t.Parallel()
	base := map[string]string{"SUPABASE_URL": "https://abc.supabase.co"}
	with := func(v string) func(string) string {
		return env(map[string]string{"SUPABASE_URL": base["SUPABASE_URL"], "JWT_CACHE_SIZE": v})
	}
	c, err := config.Load(env(base))
	if err != nil || c.JWTCacheSize != 10000 {
		t.Errorf("default JWTCacheSize = %d, %v; want 10000", c.JWTCacheSize, err)
	}
	for _, v := range []int{0, 1, 100000} {
		c, err := config.Load(with(strconv.Itoa(v)))
		if err != nil || c.JWTCacheSize != v {
			t.Errorf("Load(JWT_CACHE_SIZE=%d) = %d, %v", v, c.JWTCacheSize, err)
		}
	}
	for _, v := range []string{"-1", "100001", "lots"} {
		want := `JWT_CACHE_SIZE: "` + v + `" is not a whole number from 0 to 100000`
		if _, err := config.Load(with(v)); err == nil || err.Error() != want {
			t.Errorf("Load(JWT_CACHE_SIZE=%s) = %v, want %q", v, err, want)
		}
	}
}
