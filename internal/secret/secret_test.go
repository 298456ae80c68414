package secret_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

const value = "sk_us-east-1_abcdefghijkl_verysecretvalue"

func TestStringNeverFormatsItsValue(t *testing.T) {
	t.Parallel()
	s := secret.New(value)
	type wrapper struct{ Key secret.String }
	w := wrapper{Key: s}

	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("msg", "key", s, "wrapped", w)
	j, err := json.Marshal(w)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}

	outputs := map[string]string{
		"%v":    fmt.Sprintf("%v", s),
		"%s":    fmt.Sprintf("%s", s),
		"%q":    fmt.Sprintf("%q", s),
		"%#v":   fmt.Sprintf("%#v", s),
		"%+v":   fmt.Sprintf("%+v", w),
		"%#v w": fmt.Sprintf("%#v", w),
		"json":  string(j),
		"slog":  logged.String(),
		"error": fmt.Errorf("wrapped: %v", s).Error(),
	}
	for name, out := range outputs {
		if strings.Contains(out, value) || strings.Contains(out, "verysecret") {
			t.Errorf("%s formatting leaked the value: %s", name, out)
		}
		if !strings.Contains(out, "[REDACTED]") {
			t.Errorf("%s formatting = %q, want it to say [REDACTED]", name, out)
		}
	}
}

func TestRevealReturnsTheValue(t *testing.T) {
	t.Parallel()
	if got := secret.New(value).Reveal(); got != value {
		t.Errorf("Reveal() = %q, want the wrapped value", got)
	}
	if !secret.New("").IsZero() || secret.New("x").IsZero() {
		t.Error("IsZero disagrees with the wrapped value")
	}
}
