package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// harness are the packages and modules of the test harness and the sandbox: the product
// binary (manager, worker, observer) must link none of them.
var (
	harnessPackages = []string{
		"sigs.k8s.io/controller-runtime/pkg/envtest",
		"sigs.k8s.io/controller-runtime/pkg/internal/testing",
		"github.com/twmb/franz-go",
		"github.com/streamreplay/streamreplay/internal/sandbox",
		"github.com/streamreplay/streamreplay/test/",
	}
	harnessModules = []string{
		"github.com/twmb/franz-go",
		"github.com/twmb/franz-go/pkg/kfake",
		"github.com/twmb/franz-go/pkg/kmsg",
		"github.com/yuin/gopher-lua",
		"sigs.k8s.io/cli-utils",
	}
)

func harnessPackage(pkg string) string {
	for _, h := range harnessPackages {
		if pkg == h || strings.HasPrefix(pkg, strings.TrimSuffix(h, "/")+"/") || strings.HasSuffix(h, "/") && strings.HasPrefix(pkg, h) {
			return h
		}
	}
	return ""
}

// TestProductBinaryLeavesOutTheTestHarness builds the product binary (the Dockerfile
// builds the same package) and reads what it links: its modules (`go version -m`) and
// the packages of its symbols (`go tool nm`). No module or package of the test harness
// (envtest, kfake, the pod runner, the example pipeline, the sandbox) may be among them;
// the sandbox binary, which needs them, is the positive control of the package check.
func TestProductBinaryLeavesOutTheTestHarness(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "streamreplay")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	modules := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) >= 2 && (f[0] == "dep" || f[0] == "=>") {
			modules[f[1]] = true
		}
	}
	for _, m := range []string{"sigs.k8s.io/controller-runtime", "github.com/segmentio/kafka-go"} {
		if !modules[m] {
			t.Fatalf("go version -m does not list %s: the module check reads nothing (%d modules)", m, len(modules))
		}
	}
	for _, m := range harnessModules {
		if modules[m] {
			t.Errorf("the product binary links module %s, of the test harness", m)
		}
	}

	nm, err := exec.Command("go", "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	linked := map[string]bool{}
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(nm))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		sym := f[len(f)-1]
		for _, want := range []string{"github.com/streamreplay/streamreplay/internal/worker.", "github.com/streamreplay/streamreplay/internal/observer.", "github.com/streamreplay/streamreplay/internal/operator."} {
			if strings.HasPrefix(sym, want) {
				seen[want]++
			}
		}
		if h := harnessPackage(strings.TrimPrefix(strings.TrimPrefix(sym, "go:itab."), "type:")); h != "" && !linked[h] {
			linked[h] = true
			t.Errorf("the product binary links %s (symbol %s)", h, sym)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("go tool nm shows symbols of %v only: the package check reads nothing", seen)
	}

	// The check would see them: the sandbox binary's packages hold every one.
	deps, err := exec.Command("go", "list", "-deps", "./cmd/streamreplay-sandbox").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	found := map[string]bool{}
	for pkg := range strings.Lines(string(deps)) {
		if h := harnessPackage(strings.TrimSpace(pkg)); h != "" {
			found[h] = true
		}
	}
	for _, h := range harnessPackages {
		if !found[h] && h != "github.com/streamreplay/streamreplay/test/" {
			t.Errorf("the sandbox's packages do not include %s: the check would not see it", h)
		}
	}
}
