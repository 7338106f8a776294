// Package e2e drives the whole system the way users do: real kubectl against the
// sandbox's API server, the operator, pods run as local processes of the project's binary,
// an embedded Kafka and the example pipeline.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/internal/sandbox"
	"github.com/streamreplay/streamreplay/test/cluster/scenario"
)

var sbx *sandbox.Sandbox

// sandboxLog is the sandbox's own log file (operator, pod runner, pipelines), which the
// secrets test scans.
var sandboxLog string

const repoRoot = "../.."

func TestMain(m *testing.M) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run `make test-e2e`, which builds the envtest binaries and sets it")
		os.Exit(1)
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	work, err := os.MkdirTemp("", "streamreplay-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(work) }()
	binary := filepath.Join(work, "streamreplay")
	build := exec.Command("go", "build", "-o", binary, repoRoot)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building the binary: %v\n", err)
		return 1
	}
	sandboxLog = filepath.Join(work, "sandbox.log")
	logFile, err := os.Create(sandboxLog)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = logFile.Close() }()
	log := zapr.NewLogger(zap.New(zapcoreFor(logFile)))
	ctrl.SetLogger(log)

	ctx := context.Background()
	sbx, err = sandbox.Start(ctx, sandbox.Options{RepoRoot: repoRoot, Binary: binary, WorkDir: work, Log: log})
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the sandbox: %v\n", err)
		return 1
	}
	code := m.Run()
	sbx.Stop()
	if code != 0 {
		dumpLog(sandboxLog)
	}
	return code
}

// cluster is the sandbox as the scenarios' kubectl helpers see it.
type cluster struct{}

func (cluster) Kubeconfig() string { return sbx.Kubeconfig }
func (cluster) Namespace() string  { return sandbox.Namespace }

// kubectl runs the real kubectl against the sandbox's API server.
func kubectl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return scenario.Kubectl(t, cluster{}, args...)
}

func mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	return scenario.MustKubectl(t, cluster{}, args...)
}

// manifest writes a copy of a shipped LoadTest manifest with another name, so that each
// test runs its own LoadTest.
func manifest(t *testing.T, shipped, from, to string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, shipped))
	if err != nil {
		t.Fatal(err)
	}
	renamed := strings.Replace(string(data), "name: "+from+"\n", "name: "+to+"\n", 1)
	if renamed == string(data) && from != to {
		t.Fatalf("%s has no metadata.name %s", shipped, from)
	}
	path := filepath.Join(t.TempDir(), to+".yaml")
	if err := os.WriteFile(path, []byte(renamed), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// editedManifest writes a copy of a shipped manifest renamed to name, with the edits
// given (old, new pairs); an edit that finds nothing to change fails the test.
func editedManifest(t *testing.T, shipped, from, name string, edits ...string) string {
	t.Helper()
	data, err := os.ReadFile(manifest(t, shipped, from, name))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for i := 0; i < len(edits); i += 2 {
		if !strings.Contains(text, edits[i]) {
			t.Fatalf("%s has no %q to change", shipped, edits[i])
		}
		text = strings.Replace(text, edits[i], edits[i+1], 1)
	}
	out := filepath.Join(t.TempDir(), name+"-edited.yaml")
	if err := os.WriteFile(out, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// relaxedAckLatency are the edits that put the demo's maxP99Latency at
// scenario.RelaxedAckLatency (see there why).
var relaxedAckLatency = []string{"maxP99Latency: 250ms\n", "maxP99Latency: " + scenario.RelaxedAckLatency + "\n"}

// passingDemo is the demo manifest renamed to name, with relaxedAckLatency.
func passingDemo(t *testing.T, name string) string {
	t.Helper()
	return editedManifest(t, sandbox.DemoManifest, "crm-cdc-demo", name, relaxedAckLatency...)
}

func applySamples(t *testing.T) {
	t.Helper()
	scenario.ApplySamples(t, cluster{})
}

// waitPhase waits until the LoadTest reaches phase, failing at once when it ends in another.
func waitPhase(t *testing.T, name, phase string) {
	t.Helper()
	scenario.WaitPhaseWithin(t, cluster{}, name, phase, 4*time.Minute)
}

func jsonpath(t *testing.T, name, path string) string {
	t.Helper()
	return scenario.JSONPath(t, cluster{}, name, path)
}

func resultsDocument(t *testing.T, name string) *results.Document {
	t.Helper()
	return scenario.ResultsDocument(t, cluster{}, name)
}

func TestDemoPassesWithExactCounts(t *testing.T) {
	const name = "crm-cdc-demo"
	applySamples(t)
	mustKubectl(t, "apply", "--server-side", "-f", passingDemo(t, name))
	waitPhase(t, name, "Passed")

	scenario.CheckExactAccounting(t, cluster{}, scenario.Kafka{Bootstrap: sbx.Brokers, Dial: sbx.Brokers}, name)
	// Every pod's series was collected over the control port, and its intervals sum to
	// the totals from the termination messages.
	doc := resultsDocument(t, name)
	if doc.Series == nil || len(doc.Series.Missing) > 0 || len(doc.Series.Points) == 0 {
		t.Errorf("series %+v: want every pod's collected", doc.Series)
	} else if err := doc.Reconcile(); err != nil {
		t.Errorf("the series does not reconcile with the totals: %v", err)
	}
}

func TestSlowPipelineFailsNamingThresholds(t *testing.T) {
	const name = "crm-cdc-demo-slow"
	applySamples(t)
	mustKubectl(t, "apply", "--server-side", "-f", filepath.Join(repoRoot, sandbox.SlowDemoManifest))
	waitPhase(t, name, "Failed")

	message := jsonpath(t, name, "{.status.message}")
	for _, want := range []string{"maxConsumerLag: measured", "limit 5000", "maxEndToEndP99Latency: measured"} {
		if !strings.Contains(message, want) {
			t.Errorf("message %q does not contain %q", message, want)
		}
	}
	if got := jsonpath(t, name, "{.status.verdict}"); got != "Fail" {
		t.Errorf("verdict %q, want Fail", got)
	}
	if stalled := jsonpath(t, name, `{.status.conditions[?(@.type=="Stalled")].status}`); stalled != "True" {
		t.Errorf("Stalled condition %q, want True", stalled)
	}
}

func TestKilledWorkerEndsInError(t *testing.T) {
	const name = "crm-cdc-killed"
	applySamples(t)
	mustKubectl(t, "apply", "--server-side", "-f", manifest(t, sandbox.DemoManifest, "crm-cdc-demo", name))
	waitPhase(t, name, "Running")
	time.Sleep(3 * time.Second)

	if err := sbx.Runner().KillProcess(sandbox.Namespace, name+"-worker-1", syscall.SIGKILL); err != nil {
		t.Fatalf("killing the worker: %v", err)
	}
	waitPhase(t, name, "Error")
	message := jsonpath(t, name, "{.status.message}")
	if !strings.Contains(message, "pod "+name+"-worker-1") {
		t.Errorf("message %q does not name the killed pod", message)
	}
	if got := jsonpath(t, name, "{.status.verdict}"); got != "Inconclusive" {
		t.Errorf("verdict %q, want Inconclusive", got)
	}
}

func TestManagerRestartMidRunKeepsTheVerdict(t *testing.T) {
	const name = "crm-cdc-restart"
	applySamples(t)
	mustKubectl(t, "apply", "--server-side", "-f", passingDemo(t, name))
	waitPhase(t, name, "Running")
	start := jsonpath(t, name, "{.status.startTime}")
	pods := mustKubectl(t, "get", "pods", "-l", "streamreplay.io/loadtest="+name, "-o", "jsonpath={.items[*].metadata.uid}")

	if err := sbx.StopManager(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	if err := sbx.StartManager(); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, name, "Passed")

	if got := jsonpath(t, name, "{.status.startTime}"); got != start {
		t.Errorf("start time changed across the restart: %s, then %s", start, got)
	}
	if got := mustKubectl(t, "get", "pods", "-l", "streamreplay.io/loadtest="+name, "-o", "jsonpath={.items[*].metadata.uid}"); got != pods {
		t.Errorf("pods changed across the restart: %q, then %q", pods, got)
	}
}

func TestInvalidManifestIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	bad := `apiVersion: streamreplay.io/v1alpha1
kind: LoadTest
metadata: {name: bad-thresholds}
spec:
  targetRate: 100
  duration: 10s
  sampleSet: {configMapRef: {name: crm-cdc-samples, key: samples.jsonl.gz}}
  kafka: {bootstrapServers: ["127.0.0.1:39092"]}
  target: {topic: crm.cdc}
  thresholds: {maxConsumerLag: 10}
`
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := kubectl(t, "apply", "-f", path)
	if err == nil {
		t.Fatalf("kubectl apply accepted an invalid LoadTest:\n%s", out)
	}
	if !strings.Contains(out, "thresholds.maxConsumerLag needs pipeline.consumerGroup") {
		t.Errorf("kubectl apply's message does not say what is wrong:\n%s", out)
	}
}
