package config

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// installFile is what `make build-installer` writes; `make verify` keeps it up to date.
const installFile = "install.yaml"

// defaultImage is the Makefile's default IMG, which the committed install file carries.
const defaultImage = "ghcr.io/streamreplay/streamreplay:dev"

func readInstallFile(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(repoPath("dist", installFile))
	if err != nil {
		t.Fatalf("%v (run `make build-installer`)", err)
	}
	objs, err := decodeObjects(data)
	if err != nil {
		t.Fatalf("decoding dist/%s: %v", installFile, err)
	}
	return objs
}

// TestInstallFileIsConfigDefault: dist/install.yaml holds what `make deploy` installs, the
// CRD included, with a real image for the manager and for the pods it creates.
func TestInstallFileIsConfigDefault(t *testing.T) {
	objs := readInstallFile(t)
	var got, want []string
	for _, o := range objs {
		got = append(got, describe(o))
	}
	for _, o := range renderDefault(t).objs {
		want = append(want, describe(o))
	}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dist/%s and config/default differ (-config/default +install file); run `make build-installer`:\n%s", installFile, diff)
	}
	if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "CustomResourceDefinition") }) {
		t.Errorf("dist/%s has no CRD: %v", installFile, got)
	}
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			c := c.(map[string]any)
			if c["name"] != "manager" {
				continue
			}
			if c["image"] != defaultImage {
				t.Errorf("the manager's image is %v, want %s", c["image"], defaultImage)
			}
			env, _ := c["env"].([]any)
			if !slices.ContainsFunc(env, func(e any) bool {
				m := e.(map[string]any)
				return m["name"] == "STREAMREPLAY_POD_IMAGE" && m["value"] == defaultImage
			}) {
				t.Errorf("the manager's STREAMREPLAY_POD_IMAGE is not %s: %v", defaultImage, env)
			}
		}
	}
}

// TestInstallFileAppliesWithKubectl applies dist/install.yaml with kubectl, as the README
// says, to a real API server, twice (an upgrade with the same file changes nothing), and
// finds every object stored.
func TestInstallFileAppliesWithKubectl(t *testing.T) {
	_, c := apiServer(t)
	user, err := env.AddUser(envtest.User{Name: "installer", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	file := repoPath("dist", installFile)
	for range 2 {
		out := runKubectl(t, "--kubeconfig", path, "apply", "--server-side", "-f", file)
		t.Logf("kubectl apply:\n%s", out)
	}
	runKubectl(t, "--kubeconfig", path, "wait", "--for=condition=Established", "--timeout=60s", "crd/loadtests.streamreplay.io")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, want := range readInstallFile(t) {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(want.GroupVersionKind())
		if err := c.Get(ctx, client.ObjectKeyFromObject(want), live); err != nil {
			t.Errorf("%s is not on the API server after kubectl apply: %v", describe(want), err)
			continue
		}
		var managers []string
		for _, f := range live.GetManagedFields() {
			managers = append(managers, f.Manager+"/"+string(f.Operation))
		}
		if !slices.Contains(managers, "kubectl/Apply") {
			t.Errorf("%s was not applied by kubectl (field managers %v)", describe(want), managers)
		}
	}
}
