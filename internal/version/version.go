// Package version is the release of the streamreplay binaries, stamped at link time by
// `make release`:
//
//	-ldflags "-X github.com/streamreplay/streamreplay/internal/version.Version=v1.2.3
//	          -X github.com/streamreplay/streamreplay/internal/version.Commit=abc1234"
package version

import (
	"fmt"
	"runtime"
)

// Version is the release; "dev" for a binary built without make release.
var Version = "dev"

// Commit is the git commit the release was built from; empty when not stamped.
var Commit = ""

// String is the line `--version` prints: program, version, commit, Go version and platform.
func String(program string) string {
	commit := Commit
	if commit == "" {
		commit = "unknown"
	}
	return fmt.Sprintf("%s %s (commit %s, %s, %s/%s)", program, Version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
