package scenario

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go/sasl/scram"
	"sigs.k8s.io/yaml"

	"github.com/streamreplay/streamreplay/internal/results"
)

// Scenario is one end-to-end scenario.
type Scenario struct {
	Name string
	// Alongside scenarios run next to the others: they wait long (for a deadline) and load
	// the machine little.
	Alongside bool
	Run       func(t *testing.T, b Backend)
}

// All are the scenarios, in the order they run.
var All = []Scenario{
	{Name: "PassWithExactAccounting", Run: passWithExactAccounting},
	{Name: "SlowPipelineFailsNamingThresholds", Run: slowPipelineFails},
	{Name: "KilledWorkerContainerEndsInError", Run: killedWorkerContainer},
	{Name: "DeletedWorkerPodEndsInError", Run: deletedWorkerPod},
	{Name: "ManagerPodDeletedMidRunKeepsTheVerdict", Run: managerRestart},
	{Name: "StopEndsAbortedWithPartialResults", Run: stopAborted},
	{Name: "LargestReportPassesWhole", Run: largestReport},
	{Name: "SASLCredentialsFromSecretFiles", Run: saslFromSecretFiles},
	{Name: "OverrunPodEndedByActiveDeadline", Alongside: true, Run: overrunDeadline},
	{Name: "DeletedLoadTestGarbageCollectsPods", Run: deletedLoadTest},
	{Name: "NamespaceEnforcesRestricted", Run: restrictedNamespace},
	{Name: "ManagerHasExactlyConfigRBAC", Run: managerRBAC},
}

// RunAll runs every scenario on b: the Alongside ones next to the others, which run in turn.
func RunAll(t *testing.T, b Backend) {
	t.Run("alongside", func(t *testing.T) {
		t.Parallel()
		for _, s := range All {
			if s.Alongside {
				t.Run(s.Name, func(t *testing.T) { t.Parallel(); timed(t, b, s) })
			}
		}
	})
	t.Run("in-turn", func(t *testing.T) {
		t.Parallel()
		for _, s := range All {
			if !s.Alongside {
				t.Run(s.Name, func(t *testing.T) { timed(t, b, s) })
			}
		}
	})
}

func timed(t *testing.T, b Backend, s Scenario) {
	begin := time.Now()
	t.Cleanup(func() {
		outcome := "PASS"
		switch {
		case t.Failed():
			outcome = "FAIL"
		case t.Skipped():
			outcome = "SKIP"
		}
		fmt.Printf("scenario %-40s %-8s %s in %s\n", s.Name, b.Name(), outcome, time.Since(begin).Round(100*time.Millisecond))
	})
	s.Run(t, b)
}

// waitStarted waits until every pod accepted the start, then until the start time has
// passed by lead, so that the workers have been sending for that long.
func waitStarted(t *testing.T, b Backend, name string, lead time.Duration) {
	t.Helper()
	MustKubectl(t, b, "wait", "--for=condition=Started", "loadtest/"+name, "--timeout=5m")
	raw := JSONPath(t, b, name, "{.status.startTime}")
	start, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		t.Fatalf("status.startTime %q: %v", raw, err)
	}
	time.Sleep(time.Until(start.Add(lead)))
}

func passWithExactAccounting(t *testing.T, b Backend) {
	const name = "crm-cdc-pass"
	k := b.Kafka()
	ApplySamples(t, b)
	Apply(t, b, LoadTest(t, DemoManifest, name, k, nil))
	WaitPhase(t, b, name, "Passed")

	table := MustKubectl(t, b, "get", "loadtests", name)
	for _, column := range []string{"PHASE", "VERDICT", "TARGET", "ACHIEVED", "P99", "DLQ", "AGE", "Passed", "Pass", "1000"} {
		if !strings.Contains(table, column) {
			t.Errorf("kubectl get loadtests does not show %q:\n%s", column, table)
		}
	}
	if got := JSONPath(t, b, name, "{.status.verdict}"); got != "Pass" {
		t.Errorf("verdict %q", got)
	}
	doc := ResultsDocument(t, b, name)
	runID := JSONPath(t, b, name, "{.metadata.uid}")
	if doc.RunID != runID {
		t.Fatalf("results of run %s, want %s", doc.RunID, runID)
	}
	if doc.Totals.Failed != 0 || doc.Totals.Acked != doc.Totals.Sent || doc.Totals.Acked == 0 {
		t.Errorf("totals %+v: every record sent should be acknowledged", doc.Totals)
	}
	if inTopic := CountRunRecords(t, k, nil, "crm.cdc", runID); inTopic != doc.Totals.Acked {
		t.Errorf("%d records of this run in the input topic, %d acknowledged", inTopic, doc.Totals.Acked)
	}
	wantDLQ := MalformedSent(t, doc)
	if doc.DLQ == nil || doc.DLQ.Records != wantDLQ {
		t.Errorf("observer counted %+v dead letters, want %d malformed records replayed", doc.DLQ, wantDLQ)
	}
	if doc.EndToEnd == nil || doc.DLQ == nil || doc.EndToEnd.Delivered+doc.DLQ.Records != doc.Totals.Sent {
		t.Errorf("delivered %+v + dead-lettered %+v != sent %d", doc.EndToEnd, doc.DLQ, doc.Totals.Sent)
	}
	if doc.EndToEnd != nil && (doc.EndToEnd.Duplicates != 0 || doc.EndToEnd.Loss != 0) {
		t.Errorf("end to end %+v: want no duplicates and no loss", doc.EndToEnd)
	}
	if doc.Lag == nil || !doc.Lag.Drained {
		t.Errorf("lag %+v: the pipeline keeps up, so its lag should drain", doc.Lag)
	}
	t.Logf("%s: sent %d, acknowledged %d, dead letters %d, delivered %d", name, doc.Totals.Sent, doc.Totals.Acked, wantDLQ, doc.EndToEnd.Delivered)
	checkTerminationMessages(t, b, name, runID)
}

// checkTerminationMessages compares each pod's termination message, as the API server
// has it from the kubelet, with what the container wrote (its log's "Finished" line has
// the size) and decodes it. It returns the largest report.
func checkTerminationMessages(t *testing.T, b Backend, name, runID string) *results.Report {
	t.Helper()
	var largest *results.Report
	largestSize := 0
	pods := Pods(t, b, name)
	if len(pods) == 0 {
		t.Fatalf("no pods of %s left to read termination messages from", name)
	}
	for _, p := range pods {
		msg := containerTerminated(t, p, "replay")
		if msg == nil {
			t.Errorf("pod %s: container replay has not terminated", p.Metadata.Name)
			continue
		}
		written := finishedMessageBytes(b.Logs(t, p.Metadata.Name, "replay"))
		if written != len(msg.Message) {
			t.Errorf("pod %s: termination message of %d bytes, the container wrote %d", p.Metadata.Name, len(msg.Message), written)
		}
		report, err := results.Decode([]byte(msg.Message))
		if err != nil {
			t.Errorf("pod %s: termination message does not decode: %v", p.Metadata.Name, err)
			continue
		}
		if report.RunID != runID || report.Pod != p.Metadata.Name {
			t.Errorf("pod %s: report of pod %s, run %s; want run %s", p.Metadata.Name, report.Pod, report.RunID, runID)
		}
		t.Logf("pod %s: termination message %d bytes, degraded %v", p.Metadata.Name, len(msg.Message), report.Degraded)
		if len(msg.Message) > largestSize {
			largest, largestSize = report, len(msg.Message)
		}
	}
	return largest
}

type terminated struct {
	ExitCode int
	Reason   string
	Message  string
}

func containerTerminated(t *testing.T, p Pod, container string) *terminated {
	t.Helper()
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == container && cs.State.Terminated != nil {
			return &terminated{cs.State.Terminated.ExitCode, cs.State.Terminated.Reason, cs.State.Terminated.Message}
		}
	}
	return nil
}

var messageBytes = regexp.MustCompile(`"msg":"Finished".*"messageBytes":(\d+)`)

// finishedMessageBytes is the size of the termination message a pod logged it wrote; -1
// when the log has no such line.
func finishedMessageBytes(log string) int {
	m := messageBytes.FindStringSubmatch(log)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func slowPipelineFails(t *testing.T, b Backend) {
	const name = "crm-cdc-slow"
	ApplySamples(t, b)
	Apply(t, b, LoadTest(t, SlowDemoManifest, name, b.Kafka(), nil))
	WaitPhase(t, b, name, "Failed")
	message := JSONPath(t, b, name, "{.status.message}")
	for _, want := range []string{"maxConsumerLag: measured", "limit 5000", "maxEndToEndP99Latency: measured"} {
		if !strings.Contains(message, want) {
			t.Errorf("message %q does not contain %q", message, want)
		}
	}
	if got := JSONPath(t, b, name, "{.status.verdict}"); got != "Fail" {
		t.Errorf("verdict %q, want Fail", got)
	}
	if stalled := JSONPath(t, b, name, `{.status.conditions[?(@.type=="Stalled")].status}`); stalled != "True" {
		t.Errorf("Stalled condition %q, want True", stalled)
	}
}

func killedWorkerContainer(t *testing.T, b Backend) {
	const name = "crm-cdc-killed"
	ApplySamples(t, b)
	Apply(t, b, LoadTest(t, DemoManifest, name, b.Kafka(), nil))
	waitStarted(t, b, name, 2*time.Second)
	b.Signal(t, name+"-worker-1", "replay", syscall.SIGKILL)
	WaitPhase(t, b, name, "Error")
	message := JSONPath(t, b, name, "{.status.message}")
	// The kubelet reports a container killed by SIGKILL as exit code 137 (128 + 9).
	for _, want := range []string{"pod " + name + "-worker-1", "exit code 137"} {
		if !strings.Contains(message, want) {
			t.Errorf("message %q does not contain %q", message, want)
		}
	}
	if got := JSONPath(t, b, name, "{.status.verdict}"); got != "Inconclusive" {
		t.Errorf("verdict %q, want Inconclusive", got)
	}
	t.Logf("%s: %s", name, message)
}

func deletedWorkerPod(t *testing.T, b Backend) {
	const name = "crm-cdc-deleted-pod"
	ApplySamples(t, b)
	Apply(t, b, LoadTest(t, DemoManifest, name, b.Kafka(), nil))
	waitStarted(t, b, name, 2*time.Second)
	MustKubectl(t, b, "delete", "pod", name+"-worker-0", "--wait=false")
	WaitPhase(t, b, name, "Error")
	message := JSONPath(t, b, name, "{.status.message}")
	if !strings.Contains(message, "pod "+name+"-worker-0") {
		t.Errorf("message %q does not name the deleted pod", message)
	}
	if got := JSONPath(t, b, name, "{.status.verdict}"); got != "Inconclusive" {
		t.Errorf("verdict %q, want Inconclusive", got)
	}
	t.Logf("%s: %s", name, message)
}

func managerRestart(t *testing.T, b Backend) {
	const name = "crm-cdc-restart"
	ApplySamples(t, b)
	Apply(t, b, LoadTest(t, DemoManifest, name, b.Kafka(), nil))
	waitStarted(t, b, name, 0)
	start := JSONPath(t, b, name, "{.status.startTime}")
	pods := MustKubectl(t, b, "get", "pods", "-l", "streamreplay.io/loadtest="+name, "-o", "jsonpath={.items[*].metadata.uid}")
	b.RestartManager(t)
	WaitPhase(t, b, name, "Passed")
	if got := JSONPath(t, b, name, "{.status.startTime}"); got != start {
		t.Errorf("start time changed across the restart: %s, then %s", start, got)
	}
	if got := MustKubectl(t, b, "get", "pods", "-l", "streamreplay.io/loadtest="+name, "-o", "jsonpath={.items[*].metadata.uid}"); got != pods {
		t.Errorf("pods changed across the restart: %q, then %q", pods, got)
	}
}

func stopAborted(t *testing.T, b Backend) {
	const name = "crm-cdc-stop"
	ApplySamples(t, b)
	Apply(t, b, LoadTest(t, DemoManifest, name, b.Kafka(), nil))
	waitStarted(t, b, name, 3*time.Second)
	MustKubectl(t, b, "patch", "loadtest", name, "--type=merge", "-p", `{"spec":{"stop":true}}`)
	WaitPhase(t, b, name, "Aborted")
	if got := JSONPath(t, b, name, "{.status.verdict}"); got != "Inconclusive" {
		t.Errorf("verdict %q, want Inconclusive", got)
	}
	if got := JSONPath(t, b, name, `{.status.conditions[?(@.type=="Stopping")].status}`); got != "True" {
		t.Errorf("Stopping condition %q, want True", got)
	}
	doc := ResultsDocument(t, b, name)
	// The demo schedules 1,000 records/s for 20 s: partial results have fewer, but some.
	if !doc.Stopped || doc.Totals.Sent == 0 || doc.Totals.Sent >= 20000 || doc.Totals.Acked != doc.Totals.Sent {
		t.Errorf("results %+v (stopped %v): want partial results of a stopped run, every record sent acknowledged", doc.Totals, doc.Stopped)
	}
	for _, w := range doc.Workers {
		if !w.Stopped {
			t.Errorf("worker %s did not report that it stopped early", w.Pod)
		}
	}
	if inTopic := CountRunRecords(t, b.Kafka(), nil, "crm.cdc", doc.RunID); inTopic != doc.Totals.Acked {
		t.Errorf("%d records of this run in the input topic, %d acknowledged", inTopic, doc.Totals.Acked)
	}
	t.Logf("%s: stopped after %d of 20000 records", name, doc.Totals.Sent)
}

// largestReport makes the observer's report larger than a termination message holds: it
// classifies dead letters by their offset in the input topic, so each is a class of its
// own, with its example. The report must come through the kubelet whole (4096 bytes at
// most, reduced by Encode, never cut) and still add up.
func largestReport(t *testing.T, b Backend) {
	const name = "crm-cdc-largest"
	ApplySamples(t, b)
	Apply(t, b, LoadTest(t, DemoManifest, name, b.Kafka(), func(spec map[string]any) {
		spec["deadLetterQueue"].(map[string]any)["classifyHeader"] = "__connect.errors.offset"
	}))
	WaitPhase(t, b, name, "Passed")
	runID := JSONPath(t, b, name, "{.metadata.uid}")
	largest := checkTerminationMessages(t, b, name, runID)
	if largest == nil {
		return
	}
	encoded, err := largest.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if largest.Role != results.RoleObserver || len(largest.Degraded) == 0 || len(encoded) < results.MaxMessageBytes*3/4 {
		t.Errorf("largest report: %s's, %d bytes, degraded %v: want the observer's, reduced to fit %d bytes",
			largest.Pod, len(encoded), largest.Degraded, results.MaxMessageBytes)
	}
	doc := ResultsDocument(t, b, name)
	if doc.DLQ == nil || doc.DLQ.Records != MalformedSent(t, doc) {
		t.Errorf("dead letters %+v, want %d: reducing the report must not change a count", doc.DLQ, MalformedSent(t, doc))
	}
	var classes int64
	if doc.DLQ != nil {
		for _, c := range doc.DLQ.Classes {
			classes += c.Count
		}
		if classes+doc.DLQ.OmittedRecords != doc.DLQ.Records {
			t.Errorf("dead-letter classes (%d) and omitted records (%d) add up to %d, not the %d records",
				classes, doc.DLQ.OmittedRecords, classes+doc.DLQ.OmittedRecords, doc.DLQ.Records)
		}
	}
}

const (
	saslUser   = "streamreplay-e2e"
	saslTopic  = "secure.cdc"
	saslVolume = "kafka-sasl"
)

// saslFromSecretFiles runs a LoadTest against a Kafka that requires SCRAM-SHA-512, with
// the credentials in a Secret the worker reads as files, and one with a wrong password.
func saslFromSecretFiles(t *testing.T, b Backend) {
	const name, wrongName = "crm-cdc-sasl", "crm-cdc-sasl-wrong"
	password, wrongPassword := randomPassword(t), randomPassword(t)
	k := b.SASLKafka(t, saslUser, password, saslTopic)
	ApplySamples(t, b)
	createSASLSecret(t, b, "kafka-user", password)
	createSASLSecret(t, b, "kafka-user-wrong", wrongPassword)
	Apply(t, b, saslLoadTest(name, "kafka-user", k))
	Apply(t, b, saslLoadTest(wrongName, "kafka-user-wrong", k))

	// While the worker runs: who it runs as, and the mounted password file.
	MustKubectl(t, b, "wait", "--for=jsonpath={.status.phase}=Running", "loadtest/"+name, "--timeout=5m")
	p := b.Process(t, name+"-worker-0", "replay", saslVolume, "password")
	if string(p.FileBytes) != password {
		t.Errorf("the mounted password file does not hold the Secret's password")
	}
	if p.FileMode != 0o440 {
		t.Errorf("the mounted password file has mode %#o, want 0440", p.FileMode)
	}
	if b.Models(PodUsers) {
		if p.UID != 65532 || p.GID != 65532 || p.FileGID != 65532 || p.FileUID != 0 {
			t.Errorf("process %d:%d reads a file of %d:%d; want 65532:65532 reading root:65532 (fsGroup)", p.UID, p.GID, p.FileUID, p.FileGID)
		}
	} else if p.UID != os.Getuid() || p.FileUID != os.Getuid() {
		t.Errorf("the pod runner (PodUsers not modelled) should run the pod as its own user %d and own the file; got process %d, file %d",
			os.Getuid(), p.UID, p.FileUID)
	}
	t.Logf("worker process %d:%d groups %v; password file mode %#o owner %d:%d", p.UID, p.GID, p.Groups, p.FileMode, p.FileUID, p.FileGID)

	WaitPhase(t, b, name, "Passed")
	WaitPhase(t, b, wrongName, "Error")
	doc := ResultsDocument(t, b, name)
	mechanism, err := scram.Mechanism(scram.SHA512, saslUser, password)
	if err != nil {
		t.Fatal(err)
	}
	if got := CountRunRecords(t, k, mechanism, saslTopic, doc.RunID); doc.Totals.Acked == 0 || got != doc.Totals.Acked {
		t.Errorf("%d records of the run in %s, %d acknowledged (want equal, not 0)", got, saslTopic, doc.Totals.Acked)
	}
	message := JSONPath(t, b, wrongName, "{.status.message}")
	if !strings.Contains(message, "authentication failed") {
		t.Errorf("the message of %s does not say authentication failed: %q", wrongName, redact(message, password, wrongPassword))
	}
	// Where a user or another tenant could read it, no password may be.
	for what, text := range map[string]string{
		"the LoadTests":   MustKubectl(t, b, "get", "loadtests", name, wrongName, "-o", "json"),
		"the pods":        MustKubectl(t, b, "get", "pods", "-l", "streamreplay.io/loadtest in ("+name+","+wrongName+")", "-o", "json"),
		"the events":      MustKubectl(t, b, "get", "events", "-o", "json"),
		"the ConfigMaps":  MustKubectl(t, b, "get", "configmaps", name+"-results", "-o", "json"),
		"worker 0's log":  b.Logs(t, name+"-worker-0", "replay"),
		"wrong run's log": b.Logs(t, wrongName+"-worker-0", "replay"),
	} {
		if strings.Contains(text, password) || strings.Contains(text, wrongPassword) {
			t.Errorf("a password is in %s", what)
		}
	}
}

func saslLoadTest(name, secret string, k Kafka) map[string]any {
	return map[string]any{
		"apiVersion": "streamreplay.io/v1alpha1",
		"kind":       "LoadTest",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"targetRate": 200,
			"duration":   "10s",
			"workers":    2,
			"sampleSet": map[string]any{
				"configMapRef": map[string]any{"name": "crm-cdc-samples", "key": "samples.jsonl.gz"},
				"format":       "JSONLines",
				"loop":         true,
			},
			"kafka": map[string]any{
				"bootstrapServers": k.Bootstrap,
				"sasl":             map[string]any{"mechanism": "SCRAM-SHA-512", "secretRef": map[string]any{"name": secret}},
			},
			"target":   map[string]any{"topic": saslTopic},
			"timeouts": map[string]any{"podsReady": "2m"},
			"cleanup":  map[string]any{"policy": "Never"},
		},
	}
}

func createSASLSecret(t *testing.T, b Backend, name, password string) {
	t.Helper()
	dir := t.TempDir()
	user, pass := filepath.Join(dir, "username"), filepath.Join(dir, "password")
	if err := os.WriteFile(user, []byte(saslUser), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pass, []byte(password), 0o600); err != nil {
		t.Fatal(err)
	}
	MustKubectl(t, b, "create", "secret", "generic", name, "--from-file=username="+user, "--from-file=password="+pass)
}

// overrunDeadline freezes a worker mid-run: it neither finishes nor answers /stop, so only
// its activeDeadlineSeconds can end it, and the run must end in Error saying so.
func overrunDeadline(t *testing.T, b Backend) {
	const name = "crm-cdc-overrun"
	ApplySamples(t, b)
	Apply(t, b, LoadTest(t, DemoManifest, name, b.Kafka(), func(spec map[string]any) {
		spec["targetRate"], spec["duration"], spec["workers"] = 50, "10s", 1
		delete(spec, "deadLetterQueue")
		delete(spec, "pipeline")
		delete(spec, "thresholds")
		spec["timeouts"] = map[string]any{"podsReady": "1m", "start": "10s", "drain": "0s"}
	}))
	waitStarted(t, b, name, time.Second)
	pod := name + "-worker-0"
	deadline, err := strconv.Atoi(MustKubectl(t, b, "get", "pod", pod, "-o", "jsonpath={.spec.activeDeadlineSeconds}"))
	if err != nil {
		t.Fatalf("activeDeadlineSeconds of %s: %v", pod, err)
	}
	grace, _ := strconv.Atoi(MustKubectl(t, b, "get", "pod", pod, "-o", "jsonpath={.spec.terminationGracePeriodSeconds}"))
	b.Signal(t, pod, "replay", syscall.SIGSTOP)
	t.Logf("froze %s; its activeDeadlineSeconds is %d, its grace period %d s", pod, deadline, grace)
	WaitPhaseWithin(t, b, name, "Error", time.Duration(deadline+grace)*time.Second+3*time.Minute)
	message := JSONPath(t, b, name, "{.status.message}")
	for _, want := range []string{"pod " + pod, "DeadlineExceeded"} {
		if !strings.Contains(message, want) {
			t.Errorf("message %q does not contain %q", message, want)
		}
	}
	if got := MustKubectl(t, b, "get", "pod", pod, "-o", "jsonpath={.status.phase}/{.status.reason}"); got != "Failed/DeadlineExceeded" {
		t.Errorf("pod %s is %s, want Failed/DeadlineExceeded", pod, got)
	}
	t.Logf("%s: %s", name, message)
}

// deletedLoadTest deletes a LoadTest mid-run: its pods, owned by it, must be
// garbage-collected and stop producing.
func deletedLoadTest(t *testing.T, b Backend) {
	const name = "crm-cdc-deleted"
	ApplySamples(t, b)
	Apply(t, b, LoadTest(t, DemoManifest, name, b.Kafka(), nil))
	waitStarted(t, b, name, 2*time.Second)
	runID := JSONPath(t, b, name, "{.metadata.uid}")
	MustKubectl(t, b, "delete", "loadtest", name, "--wait=true", "--timeout=1m")
	selector := "streamreplay.io/loadtest=" + name
	if !b.Models(GarbageCollection) {
		// Documented: nothing deletes them; they run to their end. Clean up by hand.
		if got := MustKubectl(t, b, "get", "pods", "-l", selector, "-o", "name"); got == "" {
			t.Errorf("the %s backend deleted the pods of a deleted LoadTest, which it is documented not to do: update Models(GarbageCollection)", b.Name())
		}
		MustKubectl(t, b, "delete", "pods", "-l", selector, "--wait=true", "--timeout=2m")
		return
	}
	MustKubectl(t, b, "wait", "--for=delete", "pods", "-l", selector, "--timeout=2m")
	before := CountRunRecords(t, b.Kafka(), nil, "crm.cdc", runID)
	// An observation window, not a timing assertion: a producing pod would add about
	// 1,000 records a second.
	time.Sleep(5 * time.Second)
	after := CountRunRecords(t, b.Kafka(), nil, "crm.cdc", runID)
	if after != before || before == 0 {
		t.Errorf("records of the deleted run: %d once its pods were gone, %d five seconds later (want equal, not 0)", before, after)
	}
	t.Logf("%s: %d records of the run, none after its pods were garbage-collected", name, before)
}

// restrictedNamespace checks that the scenarios' namespace enforces the restricted Pod
// Security Standard (so every pod the operator created in it met it), and that the API
// server refuses a pod that does not.
func restrictedNamespace(t *testing.T, b Backend) {
	label := MustKubectl(t, b, "get", "namespace", b.Namespace(), "-o", `jsonpath={.metadata.labels.pod-security\.kubernetes\.io/enforce}`)
	if label != "restricted" {
		t.Fatalf("namespace %s: pod-security.kubernetes.io/enforce=%q, want restricted", b.Namespace(), label)
	}
	out, err := Kubectl(t, b, "run", "not-restricted", "--image=localhost/pause:local", "--restart=Never")
	if err == nil {
		_, _ = Kubectl(t, b, "delete", "pod", "not-restricted", "--wait=false")
		t.Fatalf("the API server admitted a pod without securityContext into a restricted namespace:\n%s", out)
	}
	if !strings.Contains(out, `violates PodSecurity "restricted:latest"`) {
		t.Errorf("the refusal does not name the restricted policy:\n%s", out)
	}
}

// managerRBAC checks that the operator runs with exactly the rights config/ grants: its
// pod's ServiceAccount is bound by config/rbac's two bindings and nothing else, the
// ClusterRole on the cluster is config/rbac/role.yaml's, and it is refused what it does
// not need.
func managerRBAC(t *testing.T, b Backend) {
	if !b.Models(ManagerInCluster) {
		t.Skipf("the %s backend runs the operator in its own process with the API server's admin credentials", b.Name())
	}
	const ns, sa = "streamreplay-system", "streamreplay-controller-manager"
	if got := MustKubectl(t, b, "get", "pods", "-n", ns, "-l", "control-plane=controller-manager", "-o", "jsonpath={.items[*].spec.serviceAccountName}"); got != sa {
		t.Fatalf("the manager runs as ServiceAccount %q, want %s", got, sa)
	}
	var bindings struct {
		Items []struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
			RoleRef  struct{ Kind, Name string } `json:"roleRef"`
			Subjects []struct{ Kind, Name, Namespace string }
		} `json:"items"`
	}
	raw := MustKubectl(t, b, "get", "clusterrolebindings,rolebindings", "--all-namespaces", "-o", "json")
	if err := json.Unmarshal([]byte(raw), &bindings); err != nil {
		t.Fatal(err)
	}
	var bound []string
	for _, rb := range bindings.Items {
		for _, s := range rb.Subjects {
			if s.Kind == "ServiceAccount" && s.Name == sa && s.Namespace == ns ||
				s.Kind == "Group" && (s.Name == "system:serviceaccounts" || s.Name == "system:serviceaccounts:"+ns || s.Name == "system:authenticated") {
				bound = append(bound, fmt.Sprintf("%s %s/%s -> %s %s", rb.Kind, rb.Metadata.Namespace, rb.Metadata.Name, rb.RoleRef.Kind, rb.RoleRef.Name))
			}
		}
	}
	slices.Sort(bound)
	want := []string{
		"ClusterRoleBinding /streamreplay-manager-rolebinding -> ClusterRole streamreplay-manager-role",
		"ClusterRoleBinding /system:basic-user -> ClusterRole system:basic-user",
		"ClusterRoleBinding /system:discovery -> ClusterRole system:discovery",
		"ClusterRoleBinding /system:public-info-viewer -> ClusterRole system:public-info-viewer",
		"ClusterRoleBinding /system:service-account-issuer-discovery -> ClusterRole system:service-account-issuer-discovery",
		"RoleBinding streamreplay-system/streamreplay-leader-election-rolebinding -> Role streamreplay-leader-election-role",
	}
	if !slices.Equal(bound, want) {
		t.Errorf("bindings that grant the manager's ServiceAccount rights:\n  %s\nwant config/rbac's and the cluster's defaults:\n  %s",
			strings.Join(bound, "\n  "), strings.Join(want, "\n  "))
	}
	// The ClusterRole on the cluster is the generated config/rbac/role.yaml.
	roleFile, err := os.ReadFile(filepath.Join(RepoRoot, "config/rbac/role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var fromConfig, onCluster struct {
		Rules []map[string]any `json:"rules"`
	}
	if err := yaml.Unmarshal(roleFile, &fromConfig); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(MustKubectl(t, b, "get", "clusterrole", "streamreplay-manager-role", "-o", "json")), &onCluster); err != nil {
		t.Fatal(err)
	}
	if a, c := fmt.Sprint(fromConfig.Rules), fmt.Sprint(onCluster.Rules); a != c {
		t.Errorf("ClusterRole streamreplay-manager-role on the cluster:\n  %s\nconfig/rbac/role.yaml:\n  %s", c, a)
	}
	as := "--as=system:serviceaccount:" + ns + ":" + sa
	for _, c := range []struct {
		verb, resource string
		allowed        bool
	}{
		{"create", "pods", true}, {"delete", "pods", true}, {"create", "configmaps", true}, {"patch", "loadtests.streamreplay.io/status", true},
		{"get", "secrets", false}, {"list", "configmaps", false}, {"get", "configmaps", false}, {"delete", "loadtests.streamreplay.io", false},
		{"update", "loadtests.streamreplay.io", false}, {"create", "pods/exec", false}, {"list", "nodes", false},
	} {
		out, _ := Kubectl(t, b, "auth", "can-i", c.verb, c.resource, as)
		if got := strings.TrimSpace(out) == "yes"; got != c.allowed {
			t.Errorf("the manager can %s %s: %v, want %v", c.verb, c.resource, got, c.allowed)
		}
	}
	// Every scenario ran with these rights: nothing was refused.
	logs := MustKubectl(t, b, "logs", "-n", ns, "deployment/streamreplay-controller-manager", "--all-containers")
	if strings.Contains(logs, "forbidden") {
		t.Errorf("the manager was refused something:\n%s", grepLines(logs, "forbidden"))
	}
}

func grepLines(text, word string) string {
	var out []string
	for line := range strings.Lines(text) {
		if strings.Contains(line, word) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return strings.Join(out, "\n")
}

func redact(s string, secrets ...string) string {
	for _, v := range secrets {
		s = strings.ReplaceAll(s, v, "«redacted»")
	}
	return s
}

// randomPassword is 32 random letters and digits, new on each run.
func randomPassword(t *testing.T) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		t.Fatal(err)
	}
	for i, c := range buf {
		buf[i] = alphabet[int(c)%len(alphabet)] // a slight bias is harmless here
	}
	return string(buf)
}
