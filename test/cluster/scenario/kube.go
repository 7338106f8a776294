package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"

	"github.com/streamreplay/streamreplay/internal/results"
)

// RepoRoot is the repository root, seen from test/cluster.
const RepoRoot = "../.."

// Shipped manifests the scenarios start from.
const (
	SamplesManifest  = "config/samples/crm-cdc-samples.yaml"
	DemoManifest     = "config/sandbox/crm-cdc-demo.yaml"
	SlowDemoManifest = "config/sandbox/crm-cdc-demo-slow.yaml"
)

// waitTimeout bounds a wait for a phase: a 20 s run, its pods' start and its drain, on a
// busy 2-core machine.
const waitTimeout = 5 * time.Minute

// Kubectl runs the real kubectl in the backend's namespace.
func Kubectl(t *testing.T, b Cluster, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--namespace", b.Namespace()}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+b.Kubeconfig())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String() + stderr.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// MustKubectl is Kubectl that fails the test on an error.
func MustKubectl(t *testing.T, b Cluster, args ...string) string {
	t.Helper()
	out, err := Kubectl(t, b, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ApplySamples applies the shipped sample set.
func ApplySamples(t *testing.T, b Cluster) {
	t.Helper()
	// Server-side: the gzipped sample set is too big for client-side apply's annotation.
	MustKubectl(t, b, "apply", "--server-side", "-f", filepath.Join(RepoRoot, SamplesManifest))
}

// LoadTest is a shipped LoadTest manifest, renamed and pointed at the backend's Kafka,
// with edits; Apply writes and applies it.
func LoadTest(t *testing.T, shipped, name string, kafka Kafka, edit func(spec map[string]any)) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(RepoRoot, shipped))
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(data, &obj); err != nil {
		t.Fatalf("%s: %v", shipped, err)
	}
	obj["metadata"] = map[string]any{"name": name}
	spec, ok := obj["spec"].(map[string]any)
	if !ok {
		t.Fatalf("%s has no spec", shipped)
	}
	spec["kafka"].(map[string]any)["bootstrapServers"] = kafka.Bootstrap
	if edit != nil {
		edit(spec)
	}
	return obj
}

// RelaxedAckLatency replaces the demo's maxP99Latency (250ms) in the scenarios that need
// a Pass and test something else. On two shared cores that threshold measures the
// machine: with a second run, a manager restart or forged calls beside it, the demo's
// acknowledgement p99 measured 0.27 to 1.25 s, while `make demo` alone measures about
// 50 ms. Every other threshold stays.
const RelaxedAckLatency = "5s"

// PassingLoadTest is LoadTest with maxP99Latency at RelaxedAckLatency, then edit.
func PassingLoadTest(t *testing.T, shipped, name string, kafka Kafka, edit func(spec map[string]any)) map[string]any {
	t.Helper()
	return LoadTest(t, shipped, name, kafka, func(spec map[string]any) {
		spec["thresholds"].(map[string]any)["maxP99Latency"] = RelaxedAckLatency
		if edit != nil {
			edit(spec)
		}
	})
}

// Apply server-side applies an object given as a map.
func Apply(t *testing.T, b Cluster, obj map[string]any) {
	t.Helper()
	data, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := obj["metadata"].(map[string]any)
	path := filepath.Join(t.TempDir(), fmt.Sprintf("%v.yaml", meta["name"]))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	MustKubectl(t, b, "apply", "--server-side", "-f", path)
}

// WaitPhase waits until the LoadTest reaches phase.
func WaitPhase(t *testing.T, b Cluster, name, phase string) {
	t.Helper()
	WaitPhaseWithin(t, b, name, phase, waitTimeout)
}

// WaitPhaseWithin waits until the LoadTest reaches phase, failing at once when it ends in
// another, and with its status after timeout.
func WaitPhaseWithin(t *testing.T, b Cluster, name, phase string, timeout time.Duration) {
	t.Helper()
	var out string
	var err error
	if wait.PollUntilContextTimeout(context.Background(), time.Second, timeout, true, func(context.Context) (bool, error) {
		out, err = Kubectl(t, b, "get", "loadtest", name, "-o", "jsonpath={.status.phase}")
		if err == nil && out != phase && finalPhases[out] {
			t.Fatalf("LoadTest %s ended %s, want %s: %s", name, out, phase, JSONPath(t, b, name, "{.status.message}"))
		}
		return err == nil && out == phase, nil
	}) != nil {
		t.Fatalf("LoadTest %s did not reach %s within %s: phase %q (%v): %s", name, phase, timeout, out, err,
			JSONPath(t, b, name, "{.status.message}"))
	}
}

var finalPhases = map[string]bool{"Passed": true, "Failed": true, "Error": true, "Aborted": true}

// JSONPath reads fields of a LoadTest.
func JSONPath(t *testing.T, b Cluster, name, path string) string {
	t.Helper()
	return MustKubectl(t, b, "get", "loadtest", name, "-o", "jsonpath="+path)
}

// ResultsDocument reads the run's results.json from its ConfigMap.
func ResultsDocument(t *testing.T, b Cluster, name string) *results.Document {
	t.Helper()
	raw := MustKubectl(t, b, "get", "configmap", name+"-results", "-o", `jsonpath={.data.results\.json}`)
	var doc results.Document
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatalf("results.json of %s: %v\n%s", name, err, raw)
	}
	return &doc
}

// Pod is the part of a pod the scenarios read.
type Pod struct {
	Metadata struct {
		Name string `json:"name"`
		UID  string `json:"uid"`
	} `json:"metadata"`
	Status struct {
		Phase             string `json:"phase"`
		Reason            string `json:"reason"`
		ContainerStatuses []struct {
			Name        string `json:"name"`
			ContainerID string `json:"containerID"`
			State       struct {
				Terminated *struct {
					ExitCode int    `json:"exitCode"`
					Reason   string `json:"reason"`
					Message  string `json:"message"`
				} `json:"terminated"`
			} `json:"state"`
		} `json:"containerStatuses"`
	} `json:"status"`
}

// Pods lists the pods of a LoadTest.
func Pods(t *testing.T, b Cluster, loadTest string) []Pod {
	t.Helper()
	raw := MustKubectl(t, b, "get", "pods", "-l", "streamreplay.io/loadtest="+loadTest, "-o", "json")
	var list struct {
		Items []Pod `json:"items"`
	}
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		t.Fatalf("pods of %s: %v", loadTest, err)
	}
	return list.Items
}
