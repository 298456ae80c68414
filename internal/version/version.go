// Package version says which build of ivs-ingest is running.
package version

import "runtime/debug"

// tag is set at build time:
//
//	go build -ldflags "-X github.com/ivs-ingest/ivs-ingest/internal/version.tag=v1.2.3" ./cmd/ivs-ingest
var tag = ""

// String is the build's version: the linked-in tag, else the module version
// `go install` recorded, else "devel".
func String() string {
	if tag != "" {
		return tag
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
