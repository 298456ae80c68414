package version_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTagFromLinkerFlag builds the binary with the Dockerfile's -X flag and asks it
// its version: the -X path must name the variable, or the tag is silently
// lost.
func TestTagFromLinkerFlag(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "ivs-ingest")
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X github.com/ivs-ingest/ivs-ingest/internal/version.tag=v9.8.7-test",
		"github.com/ivs-ingest/ivs-ingest/cmd/ivs-ingest")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("ivs-ingest version: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != "v9.8.7-test" {
		t.Errorf("ivs-ingest version = %q, want the linked-in v9.8.7-test", got)
	}
}
