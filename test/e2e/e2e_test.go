// Package e2e drives the whole system the way users do: real kubectl against the
// sandbox's API server, the operator, pods run as local processes of the project's binary,
// an embedded Kafka and the example pipeline.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/zapr"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/internal/runheaders"
	"github.com/streamreplay/streamreplay/internal/samples"
	"github.com/streamreplay/streamreplay/internal/sandbox"
	"github.com/streamreplay/streamreplay/internal/sandbox/pipeline"
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

// kubectl runs the real kubectl against the sandbox's API server.
func kubectl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--namespace", sandbox.Namespace}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+sbx.Kubeconfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

func mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectl(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
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

func applySamples(t *testing.T) {
	t.Helper()
	// Server-side: the gzipped sample set is too big for client-side apply's annotation.
	mustKubectl(t, "apply", "--server-side", "-f", filepath.Join(repoRoot, sandbox.SamplesManifest))
}

func waitPhase(t *testing.T, name, phase string) {
	t.Helper()
	if _, err := kubectl(t, "wait", "--for=jsonpath={.status.phase}="+phase, "loadtest/"+name, "--timeout=4m"); err != nil {
		t.Fatalf("LoadTest %s did not reach %s: phase %q, message %q", name, phase,
			jsonpath(t, name, "{.status.phase}"), jsonpath(t, name, "{.status.message}"))
	}
}

func jsonpath(t *testing.T, name, path string) string {
	t.Helper()
	return mustKubectl(t, "get", "loadtest", name, "-o", "jsonpath="+path)
}

func resultsDocument(t *testing.T, name string) *results.Document {
	t.Helper()
	raw := mustKubectl(t, "get", "configmap", name+"-results", "-o", `jsonpath={.data.results\.json}`)
	var doc results.Document
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatalf("results.json of %s: %v\n%s", name, err, raw)
	}
	return &doc
}

func TestDemoPassesWithExactCounts(t *testing.T) {
	const name = "crm-cdc-demo"
	applySamples(t)
	mustKubectl(t, "apply", "--server-side", "-f", filepath.Join(repoRoot, sandbox.DemoManifest))
	waitPhase(t, name, "Passed")

	table := mustKubectl(t, "get", "loadtests", name)
	for _, column := range []string{"PHASE", "VERDICT", "TARGET", "ACHIEVED", "P99", "DLQ", "AGE", "Passed", "Pass", "1000"} {
		if !strings.Contains(table, column) {
			t.Errorf("kubectl get loadtests does not show %q:\n%s", column, table)
		}
	}
	if got := jsonpath(t, name, "{.status.verdict}"); got != "Pass" {
		t.Errorf("verdict %q", got)
	}

	doc := resultsDocument(t, name)
	runID := jsonpath(t, name, "{.metadata.uid}")
	if doc.RunID != runID {
		t.Fatalf("results of run %s, want %s", doc.RunID, runID)
	}
	if doc.Totals.Failed != 0 || doc.Totals.Acked != doc.Totals.Sent || doc.Totals.Acked == 0 {
		t.Errorf("totals %+v: every record sent should be acknowledged", doc.Totals)
	}

	// Records of this run in the input topic equal the acknowledged count.
	inTopic := countRunRecords(t, "crm.cdc", runID)
	if inTopic != doc.Totals.Acked {
		t.Errorf("%d records of this run in the input topic, %d acknowledged", inTopic, doc.Totals.Acked)
	}

	// The DLQ count equals the malformed records replayed: compute which records each
	// worker sent (its shard, looped) and which of them the pipeline cannot process.
	wantDLQ := malformedSent(t, doc)
	if doc.DLQ == nil || doc.DLQ.Records != wantDLQ {
		t.Errorf("observer counted %+v dead letters, want %d malformed records replayed", doc.DLQ, wantDLQ)
	}
	// Delivered plus dead-lettered equals sent.
	if doc.EndToEnd == nil || doc.DLQ == nil || doc.EndToEnd.Delivered+doc.DLQ.Records != doc.Totals.Sent {
		t.Errorf("delivered %+v + dead-lettered %+v != sent %d", doc.EndToEnd, doc.DLQ, doc.Totals.Sent)
	}
	if doc.EndToEnd != nil && (doc.EndToEnd.Duplicates != 0 || doc.EndToEnd.Loss != 0) {
		t.Errorf("end to end %+v: want no duplicates and no loss", doc.EndToEnd)
	}
	if doc.Lag == nil || !doc.Lag.Drained {
		t.Errorf("lag %+v: the pipeline keeps up, so its lag should drain", doc.Lag)
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
	mustKubectl(t, "apply", "--server-side", "-f", manifest(t, sandbox.DemoManifest, "crm-cdc-demo", name))
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

// countRunRecords counts the records of a run in a topic, by their run-id header.
func countRunRecords(t *testing.T, topic, runID string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", sbx.Brokers[0])
	if err != nil {
		t.Fatal(err)
	}
	partitions, err := conn.ReadPartitions(topic)
	_ = conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, p := range partitions {
		leader, err := kafka.DialLeader(ctx, "tcp", sbx.Brokers[0], topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		last, err := leader.ReadLastOffset()
		_ = leader.Close()
		if err != nil {
			t.Fatal(err)
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: sbx.Brokers, Topic: topic, Partition: p.ID, MaxWait: 100 * time.Millisecond})
		for offset := int64(0); offset < last; offset++ {
			msg, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("reading %s/%d: %v", topic, p.ID, err)
			}
			offset = msg.Offset
			for _, h := range msg.Headers {
				if h.Key == runheaders.RunID && string(h.Value) == runID {
					n++
				}
			}
		}
		_ = r.Close()
	}
	return n
}

// malformedSent counts the records the workers sent that the example pipeline cannot
// process: each worker sends the first `sent` records of its shard, looping.
func malformedSent(t *testing.T, doc *results.Document) int64 {
	t.Helper()
	set := loadShippedSamples(t)
	var malformed int64
	for _, w := range doc.Workers {
		shard := samples.Shard(set.Records, len(doc.Workers), w.Index)
		bad := make([]bool, len(shard))
		for i, r := range shard {
			if r.Value != nil {
				_, err := pipeline.Transform(r.Value, time.Now())
				bad[i] = err != nil
			}
		}
		for i := range w.Sent {
			if bad[i%int64(len(shard))] {
				malformed++
			}
		}
	}
	return malformed
}
