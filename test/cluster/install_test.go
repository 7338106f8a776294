package cluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamreplay/streamreplay/test/cluster/scenario"
)

// installFileImage is the image dist/install.yaml carries (the Makefile's default IMG).
const installFileImage = "ghcr.io/streamreplay/streamreplay:dev"

// installedBy is how the operator is installed on the real node now: startRealNode
// installs it from config/default.
var installedBy = scenario.InstallKustomize

// Install reinstalls the operator by method, keeping its namespace (with its Pod Security
// label) and the CRD: the chart's crds/ and the install file bring the same CRD.
func (b *realNode) Install(t *testing.T, method scenario.InstallMethod) {
	t.Helper()
	if method == installedBy {
		return
	}
	b.uninstall(t, installedBy)
	installedBy = ""
	switch method {
	case scenario.InstallKustomize:
		if out, err := b.kubectl("apply", "--server-side", "-k", filepath.Join(scenario.RepoRoot, "test", "cluster", "config")); err != nil {
			t.Fatalf("installing the operator from config/default: %v: %s", err, out)
		}
	case scenario.InstallFile:
		data, err := os.ReadFile(filepath.Join(scenario.RepoRoot, "dist", "install.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		// The node's image, imported and never pulled (its tag is not latest: IfNotPresent).
		file := strings.ReplaceAll(string(data), installFileImage, operatorImage)
		if !strings.Contains(file, operatorImage) {
			t.Fatalf("dist/install.yaml does not name the image %s", installFileImage)
		}
		if out, err := b.kubectlStdin(file, "apply", "--server-side", "-f", "-"); err != nil {
			t.Fatalf("kubectl apply -f dist/install.yaml: %v: %s", err, out)
		}
	case scenario.InstallChart:
		repo, tag, _ := strings.Cut(operatorImage, ":")
		if out, err := b.helm(t, "install", "streamreplay", filepath.Join(scenario.RepoRoot, "dist", "chart"), "--namespace", managerNamespace,
			"--set", "image.repository="+repo, "--set", "image.tag="+tag, "--set", "image.pullPolicy=Never", "--wait", "--timeout=3m"); err != nil {
			t.Fatalf("helm install: %v: %s\n%s", err, out, b.describe(managerNamespace))
		}
	default:
		t.Fatalf("unknown install method %q", method)
	}
	installedBy = method
	if out, err := b.kubectl("rollout", "status", "-n", managerNamespace, "deployment/"+managerDeployment, "--timeout=3m"); err != nil {
		t.Fatalf("the manager installed by %s is not available: %v: %s\n%s", method, err, out, b.describe(managerNamespace))
	}
	t.Logf("operator installed by %s", method)
}

// uninstall removes what method installed but the namespace and the CRD (deleting the CRD
// would delete every LoadTest), and waits until the manager's pods are gone.
func (b *realNode) uninstall(t *testing.T, method scenario.InstallMethod) {
	t.Helper()
	var objects string
	switch method {
	case scenario.InstallChart:
		if out, err := b.helm(t, "uninstall", "streamreplay", "--namespace", managerNamespace, "--wait", "--timeout=3m"); err != nil {
			t.Fatalf("helm uninstall: %v: %s", err, out)
		}
		return
	case scenario.InstallFile:
		data, err := os.ReadFile(filepath.Join(scenario.RepoRoot, "dist", "install.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		objects = string(data)
	case scenario.InstallKustomize:
		out, err := b.kubectl("kustomize", filepath.Join(scenario.RepoRoot, "test", "cluster", "config"))
		if err != nil {
			t.Fatalf("kubectl kustomize test/cluster/config: %v: %s", err, out)
		}
		objects = out
	default:
		t.Fatalf("the operator's install method is unknown (%q): an earlier install failed", method)
	}
	var keep []string
	for _, doc := range strings.Split(objects, "\n---\n") {
		if !strings.Contains("\n"+doc, "\nkind: Namespace\n") && !strings.Contains("\n"+doc, "\nkind: CustomResourceDefinition\n") {
			keep = append(keep, doc)
		}
	}
	if out, err := b.kubectlStdin(strings.Join(keep, "\n---\n"), "delete", "-f", "-", "--ignore-not-found", "--cascade=foreground", "--timeout=3m"); err != nil {
		t.Fatalf("removing the operator installed by %s: %v: %s", method, err, out)
	}
}

func (b *realNode) helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(scenario.Helm(t), append(args, "--kubeconfig", b.kubeconfig)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestInstallFileNamesTheImageTheRealNodeReplaces: the real node's install-file scenario
// replaces the image dist/install.yaml names; it runs without a cluster.
func TestInstallFileNamesTheImageTheRealNodeReplaces(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(scenario.RepoRoot, "dist", "install.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"image: " + installFileImage, "name: STREAMREPLAY_POD_IMAGE\n          value: " + installFileImage} {
		if !strings.Contains(string(data), want) {
			t.Errorf("dist/install.yaml has no %q: the real node would run another image", want)
		}
	}
}
