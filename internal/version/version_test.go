package version_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/streamreplay/streamreplay/internal/version"
)

// TestVersionFlagPrintsTheStampedVersion builds the manager and the kubectl plugin as
// `make release` does (the version and commit stamped with -ldflags -X) and checks that
// --version prints them.
func TestVersionFlagPrintsTheStampedVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	const stamped, commit = "v9.8.7-test.1", "0123abcd"
	ldflags := "-X github.com/streamreplay/streamreplay/internal/version.Version=" + stamped +
		" -X github.com/streamreplay/streamreplay/internal/version.Commit=" + commit
	dir := t.TempDir()
	for _, tc := range []struct {
		pkg, bin, program string
		args              []string
	}{
		{"../..", "streamreplay", "streamreplay", []string{"--version"}},
		{"../..", "streamreplay", "streamreplay", []string{"version"}},
		{"../../cmd/kubectl-streamreplay", "kubectl-streamreplay", "kubectl-streamreplay", []string{"--version"}},
	} {
		bin := filepath.Join(dir, tc.bin)
		build := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, tc.pkg)
		build.Env = append(build.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", tc.pkg, err, out)
		}
		out, err := exec.Command(bin, tc.args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", tc.bin, tc.args, err, out)
		}
		want := tc.program + " " + stamped + " (commit " + commit + ", " + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")"
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("%s %s printed %q, want %q", tc.bin, tc.args, got, want)
		}
	}
}

func TestStringWithoutStamp(t *testing.T) {
	got := version.String("streamreplay")
	if !strings.HasPrefix(got, "streamreplay dev (commit unknown, go") {
		t.Errorf("String() = %q, want the dev version and an unknown commit", got)
	}
}
