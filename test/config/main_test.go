// Package config tests what config/ ships for installing and watching streamreplay:
//
//   - the Argo CD health check (config/argocd), run with gopher-lua the way Argo CD runs it,
//     over Argo CD's test layout (health_test.yaml and testdata/);
//   - what kstatus (Flux, cli-utils) computes for LoadTests in every phase, on fixtures and
//     on LoadTests driven through their phases by the real controller;
//   - `kubectl kustomize config/default`: the manager's security context, probes, flags,
//     least-privilege RBAC that matches the controller's kubebuilder:rbac markers, and a
//     server-side dry-run of every rendered object (and of config/samples and
//     config/network-policy) against a real API server (envtest).
//
// Run it with `make test`, or:
//
//	KUBEBUILDER_ASSETS=$(bash hack/envtest-binaries.sh) go test ./test/config/ -count=1
package config

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	"github.com/streamreplay/streamreplay/internal/operator"
)

// The API server is started by the first test that needs it and shared by the others.
var (
	envOnce   sync.Once
	env       *envtest.Environment
	envConfig *rest.Config
	envClient client.Client
	errEnv    error
)

func TestMain(m *testing.M) {
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	code := m.Run()
	if env != nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping envtest: %v\n", err)
		}
	}
	os.Exit(code)
}

// apiServer gives the shared envtest API server, with the LoadTest CRD installed.
func apiServer(t *testing.T) (*rest.Config, client.Client) {
	t.Helper()
	envOnce.Do(func() {
		if os.Getenv("KUBEBUILDER_ASSETS") == "" {
			errEnv = errors.New("KUBEBUILDER_ASSETS is not set: run `make test`, or export KUBEBUILDER_ASSETS=$(bash hack/envtest-binaries.sh)")
			return
		}
		env = &envtest.Environment{
			CRDDirectoryPaths:     []string{repoPath("config", "crd", "bases")},
			ErrorIfCRDPathMissing: true,
			// A busy 2-core machine may need more than envtest's default 20s.
			ControlPlaneStartTimeout: 2 * time.Minute,
			ControlPlaneStopTimeout:  time.Minute,
		}
		envConfig, errEnv = env.Start()
		if errEnv != nil {
			errEnv = fmt.Errorf("starting envtest: %w", errEnv)
			return
		}
		envClient, errEnv = client.New(envConfig, client.Options{Scheme: operator.NewScheme()})
	})
	if errEnv != nil {
		t.Fatal(errEnv)
	}
	return envConfig, envClient
}

// repoPath is a path in the repository, from this package's folder.
func repoPath(elem ...string) string {
	return filepath.Join(append([]string{"..", ".."}, elem...)...)
}

// kubectl finds kubectl: on PATH, else the one next to the envtest binaries.
func kubectl(t *testing.T) string {
	t.Helper()
	if path, err := exec.LookPath("kubectl"); err == nil {
		return path
	}
	if assets := os.Getenv("KUBEBUILDER_ASSETS"); assets != "" {
		path := filepath.Join(assets, "kubectl")
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	t.Fatal("kubectl not found on PATH nor in KUBEBUILDER_ASSETS; it renders the kustomizations (`kubectl kustomize`)")
	return ""
}

// runKubectl runs kubectl and returns its standard output; a failure shows standard error.
func runKubectl(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(kubectl(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

// kustomize renders a kustomization folder with `kubectl kustomize`.
func kustomize(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := decodeObjects(runKubectl(t, "kustomize", dir))
	if err != nil {
		t.Fatalf("decoding the output of `kubectl kustomize %s`: %v", dir, err)
	}
	if len(objs) == 0 {
		t.Fatalf("`kubectl kustomize %s` rendered no objects", dir)
	}
	return objs
}

// decodeObjects reads a stream of YAML documents; integers become int64, as when read from
// an API server.
func decodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		data, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		var obj map[string]any
		if err := utiljson.Unmarshal(data, &obj); err != nil {
			return nil, err
		}
		if len(obj) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: obj})
	}
}

// readObject reads a file holding one object.
func readObject(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeObjects(data)
	if err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	if len(objs) != 1 {
		t.Fatalf("%s holds %d objects, want 1", path, len(objs))
	}
	return objs[0]
}

var namespaceSeq atomic.Int32

// createNamespace creates a namespace of its own for a test.
func createNamespace(ctx context.Context, t *testing.T, c client.Client, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, namespaceSeq.Add(1))
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	return name
}

// describe names an object in failure messages: Kind namespace/name.
func describe(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", obj.GetKind(), ns, obj.GetName())
	}
	return fmt.Sprintf("%s %s", obj.GetKind(), obj.GetName())
}
