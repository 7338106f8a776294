package scenario

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// InstallMethod is how the operator is installed on a backend that runs it in the cluster.
type InstallMethod string

// The install methods the README documents.
const (
	// InstallKustomize is config/default (through test/cluster/config): what the backend starts with.
	InstallKustomize InstallMethod = "kustomize"
	// InstallFile is `kubectl apply --server-side -f dist/install.yaml`.
	InstallFile InstallMethod = "install-file"
	// InstallChart is `helm install streamreplay dist/chart`.
	InstallChart InstallMethod = "helm-chart"
)

// Installer is a backend that can install the operator by each method (the real node).
type Installer interface {
	// Install removes the operator installed by the current method, but for its namespace
	// and the CRD, and installs it by method, with the backend's image and the names of
	// config/default; it returns once the manager's Deployment is available.
	Install(t *testing.T, method InstallMethod)
}

var (
	helmOnce sync.Once
	helmPath string
	helmErr  string
)

// Helm is the helm CLI that hack/helm.sh builds once from the module hack/helm pins.
func Helm(t *testing.T) string {
	t.Helper()
	helmOnce.Do(func() {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command("bash", filepath.Join(RepoRoot, "hack", "helm.sh"))
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			helmErr = "hack/helm.sh: " + err.Error() + ": " + stderr.String()
			return
		}
		helmPath = strings.TrimSpace(stdout.String())
	})
	if helmErr != "" {
		t.Fatal(helmErr)
	}
	return helmPath
}

// passUnderInstallMethods: a run passes with the operator installed from dist/install.yaml
// and from the Helm chart, as it does from config/default (PassWithExactAccounting); the
// operator is back to config/default afterwards.
func passUnderInstallMethods(t *testing.T, b Backend) {
	in, ok := b.(Installer)
	if !ok || !b.Models(ManagerInCluster) {
		t.Skipf("the %s backend runs the operator in its own process: nothing to install (test/config applies the chart and the install file to envtest)", b.Name())
	}
	t.Cleanup(func() { in.Install(t, InstallKustomize) })
	for _, m := range []InstallMethod{InstallFile, InstallChart} {
		t.Run(string(m), func(t *testing.T) {
			in.Install(t, m)
			// The LoadTest of an earlier run under the same name goes first.
			MustKubectl(t, b, "delete", "loadtests", "--all", "--wait", "--timeout=3m")
			passWithExactAccounting(t, b)
		})
	}
}
