package secret_test

import (
	"strings"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw, want string
	}{
		{"https://abc.supabase.co", "https://abc.supabase.co"},
		{"https://abc.supabase.co/auth/v1/.well-known/jwks.json", "https://abc.supabase.co/auth/v1/.well-known/jwks.json"},
		{"http://127.0.0.1:4566/", "http://127.0.0.1:4566/"},
		{"https://user:TOPSECRET@abc.supabase.co/auth/v1", "https://[REDACTED]@abc.supabase.co/auth/v1"},
		{"https://TOPSECRET@abc.supabase.co", "https://[REDACTED]@abc.supabase.co"},
		{"https://abc.supabase.co/jwks.json?apikey=sb_secret_TOPSECRET", "https://abc.supabase.co/jwks.json?[REDACTED]"},
		{"https://abc.supabase.co/jwks.json#TOPSECRET", "https://abc.supabase.co/jwks.json#[REDACTED]"},
		{"http://user:pw@h:1/p?TOPSECRET#TOPSECRET", "http://[REDACTED]@h:1/p?[REDACTED]#[REDACTED]"},
		{"user:TOPSECRET@abc.supabase.co", "user:[REDACTED]"},
		{"abc.supabase.co/x?TOPSECRET", "abc.supabase.co/x?[REDACTED]"},
		{"https://user:TOPSECRET@host/%zz", "[unparsable URL]"},
		{"", ""},
	}
	for _, tt := range tests {
		got := secret.RedactURL(tt.raw)
		if got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.raw, got, tt.want)
		}
		if strings.Contains(got, "TOPSECRET") || strings.Contains(got, "pw") {
			t.Errorf("RedactURL(%q) = %q, which shows the secret", tt.raw, got)
		}
	}
}
