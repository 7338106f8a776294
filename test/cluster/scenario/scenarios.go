package scenario

import (
	"context"
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
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"

	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
)

// Scenario is one end-to-end scenario.
type Scenario struct {
	Name string
	Run  func(t *testing.T, b Backend)
}

// All are the scenarios, in the order they run.
var All = []Scenario{
	{Name: "PassWithExactAccounting", Run: passWithExactAccounting},
	{Name: "SlowPipelineFailsNamingThresholds", Run: slowPipelineFails},
	{Name: "KilledWorkerContainerEndsInError", Run: killedWorkerContainer},
	{Name: "DeletedWorkerPodEndsInError", Run: deletedWorkerPod},
	{Name: "ManagerPodDeletedMidRunKeepsTheVerdict", Run: managerRestart},
	{Name: "StopEndsAbortedWithPartialResults", Run: stopAborted},
	{Name: "LargestTerminationMessagesPassWhole", Run: largestMessages},
	{Name: "SASLCredentialsFromSecretFiles", Run: saslFromSecretFiles},
	{Name: "DeletedLoadTestGarbageCollectsPods", Run: deletedLoadTest},
	{Name: "NamespaceEnforcesRestricted", Run: restrictedNamespace},
	{Name: "ManagerHasExactlyConfigRBAC", Run: managerRBAC},
	{Name: "PassWithChartAndInstallFile", Run: passUnderInstallMethods},
	// Last: it stops the operator for about six minutes.
	{Name: "OverrunPodEndedByActiveDeadline", Run: overrunDeadline},
}

// RunAll runs every scenario on b, one after the other: each asserts timings and
// thresholds of a run that others would disturb on a small machine.
func RunAll(t *testing.T, b Backend) {
	for _, s := range All {
		t.Run(s.Name, func(t *testing.T) { timed(t, b, s) })
	}
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
	Apply(t, b, PassingLoadTest(t, DemoManifest, name, k, nil))
	WaitPhase(t, b, name, "Passed")

	runID := CheckExactAccounting(t, b, k, name)
	checkTerminationMessages(t, b, name, runID)
}

// CheckExactAccounting checks a demo run that passed, in kubectl's table, its status and
// its results against the topics: every record acknowledged and found in the input topic,
// the dead letters exactly the malformed records sent, nothing lost or duplicated, the lag
// drained. It returns the run's ID.
func CheckExactAccounting(t *testing.T, b Cluster, k Kafka, name string) string {
	t.Helper()
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
	if doc.EndToEnd != nil {
		t.Logf("%s: sent %d, acknowledged %d, dead letters %d, delivered %d", name, doc.Totals.Sent, doc.Totals.Acked, wantDLQ, doc.EndToEnd.Delivered)
	}
	return runID
}

// checkTerminationMessages compares each pod's termination message, as the API server
// has it from the kubelet, with what the container wrote (its log's "Finished" line has
// the size) and decodes it.
func checkTerminationMessages(t *testing.T, b Backend, name, runID string) {
	t.Helper()
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
	}
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
	Apply(t, b, PassingLoadTest(t, DemoManifest, name, b.Kafka(), nil))
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

// largestMessages checks the two largest termination messages a pod of the image writes:
// a report larger than a message holds, which Encode reduces to fit (the observer's, with
// every dead letter a class of its own: classified by offset), and an error text cut to
// exactly 4096 bytes. Both must reach the status whole: the kubelet reads at most 4096
// bytes of the file, and at most 12 KiB per pod shared by its containers.
func largestMessages(t *testing.T, b Backend) {
	const name = "crm-cdc-largest"
	ApplySamples(t, b)
	Apply(t, b, PassingLoadTest(t, DemoManifest, name, b.Kafka(), func(spec map[string]any) {
		spec["deadLetterQueue"].(map[string]any)["classifyHeader"] = "__connect.errors.offset"
	}))
	WaitPhase(t, b, name, "Passed")
	runID := JSONPath(t, b, name, "{.metadata.uid}")
	checkTerminationMessages(t, b, name, runID)
	doc := ResultsDocument(t, b, name)
	if want := MalformedSent(t, doc); doc.DLQ == nil || doc.DLQ.Records != want || doc.DLQ.OmittedClasses == 0 {
		t.Errorf("dead letters %+v: want %d, in more classes than the observer's report holds", doc.DLQ, want)
	} else {
		var classes int64
		for _, c := range doc.DLQ.Classes {
			classes += c.Count
		}
		if classes+doc.DLQ.OmittedRecords != doc.DLQ.Records {
			t.Errorf("dead-letter classes (%d) and omitted records (%d) add up to %d, not the %d records",
				classes, doc.DLQ.OmittedRecords, classes+doc.DLQ.OmittedRecords, doc.DLQ.Records)
		}
	}
	if !slices.ContainsFunc(doc.Degraded, func(d string) bool { return strings.Contains(d, "observer") }) {
		t.Errorf("the results do not say the observer's report was reduced: degraded %v", doc.Degraded)
	}

	// A pod of the image whose error is longer than a termination message: a plan whose
	// role is 5,000 bytes long. The pod cuts the text to 4096 bytes, marked; the status
	// must hold exactly those.
	raw := `{"role":"` + strings.Repeat("r", 5000) + `"}`
	_, planErr := plan.Decode(raw)
	if planErr == nil {
		t.Fatal("an oversized role decodes")
	}
	want := results.Shorten(planErr.Error(), results.MaxMessageBytes)
	pod := map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		// The label the operator's pods carry: the sandbox's pod runner runs only those.
		"metadata": map[string]any{"name": "largest-message", "labels": map[string]any{"app.kubernetes.io/managed-by": "streamreplay-operator"}},
		"spec": map[string]any{
			"restartPolicy":   "Never",
			"securityContext": map[string]any{"runAsNonRoot": true, "seccompProfile": map[string]any{"type": "RuntimeDefault"}},
			// As the operator's pods: the root filesystem is read-only, /tmp is not.
			"volumes": []any{map[string]any{"name": "tmp", "emptyDir": map[string]any{}}},
			"containers": []any{map[string]any{
				"name": "replay", "image": b.Image(), "imagePullPolicy": "IfNotPresent", "args": []any{"worker"},
				"env":          []any{map[string]any{"name": plan.EnvPlan, "value": raw}},
				"volumeMounts": []any{map[string]any{"name": "tmp", "mountPath": "/tmp"}},
				"securityContext": map[string]any{"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
					"capabilities": map[string]any{"drop": []any{"ALL"}}},
			}},
		},
	}
	Apply(t, b, pod)
	t.Cleanup(func() { _, _ = Kubectl(t, b, "delete", "pod", "largest-message", "--wait=false") })
	MustKubectl(t, b, "wait", "--for=jsonpath={.status.phase}=Failed", "pod/largest-message", "--timeout=3m")
	got := MustKubectl(t, b, "get", "pod", "largest-message", "-o", `jsonpath={.status.containerStatuses[0].state.terminated.message}`)
	if got != want {
		t.Errorf("termination message of %d bytes, want the %d the container wrote; it begins %q and ends %q",
			len(got), len(want), got[:min(len(got), 60)], got[max(0, len(got)-20):])
	}
}

const (
	// SASLUser is the user of the SASL Kafka's LoadTests (test/e2e's too).
	SASLUser   = "streamreplay-e2e"
	saslTopic  = "secure.cdc"
	saslVolume = "kafka-sasl"
)

// saslFromSecretFiles runs a LoadTest against a Kafka that requires SCRAM-SHA-512, with
// the credentials in a Secret the worker reads as files, and one with a wrong password.
func saslFromSecretFiles(t *testing.T, b Backend) {
	const name, wrongName = "crm-cdc-sasl", "crm-cdc-sasl-wrong"
	password, wrongPassword := randomPassword(t), randomPassword(t)
	k := b.SASLKafka(t, SASLUser, password, saslTopic)
	ApplySamples(t, b)
	CreateSASLSecret(t, b, "kafka-user", password)
	CreateSASLSecret(t, b, "kafka-user-wrong", wrongPassword)
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
	mechanism, err := scram.Mechanism(scram.SHA512, SASLUser, password)
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
	// Where a user or another tenant could read it, no password may be: the objects, and
	// the logs of every pod of both runs still there (a cluster forgets a deleted pod's log).
	scanned := map[string]string{
		"the LoadTests":  MustKubectl(t, b, "get", "loadtests", name, wrongName, "-o", "json"),
		"the pods":       MustKubectl(t, b, "get", "pods", "-l", "streamreplay.io/loadtest in ("+name+","+wrongName+")", "-o", "json"),
		"the events":     MustKubectl(t, b, "get", "events", "-o", "json"),
		"the ConfigMaps": MustKubectl(t, b, "get", "configmaps", name+"-results", "-o", "json"),
	}
	for _, lt := range []string{name, wrongName} {
		pods := Pods(t, b, lt)
		if len(pods) == 0 {
			t.Errorf("no pod of %s left to scan the log of", lt)
		}
		for _, p := range pods {
			scanned["the log of pod "+p.Metadata.Name] = b.Logs(t, p.Metadata.Name, "replay")
		}
	}
	for what, text := range scanned {
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
			// Both runs' four workers fit a 2-CPU node at once.
			"workerTemplate": map[string]any{"resources": map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "64Mi"}}},
			"cleanup":        map[string]any{"policy": "Never"},
		},
	}
}

// CreateSASLSecret creates a Secret with SASLUser and password from files, so that the
// password is in no command line and in no message should kubectl fail.
func CreateSASLSecret(t *testing.T, b Cluster, name, password string) {
	t.Helper()
	dir := t.TempDir()
	user, pass := filepath.Join(dir, "username"), filepath.Join(dir, "password")
	if err := os.WriteFile(user, []byte(SASLUser), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pass, []byte(password), 0o600); err != nil {
		t.Fatal(err)
	}
	MustKubectl(t, b, "create", "secret", "generic", name, "--from-file=username="+user, "--from-file=password="+pass)
}

// overrunDeadline makes a pod outlive its run: the operator is stopped before it can send
// /start, so the worker waits, healthy and Ready, until its activeDeadlineSeconds ends it.
// When the operator is back it must end the run in Error, naming the pod and the deadline.
// (A frozen process is no overrun: its liveness probe fails first, and the kubelet kills it.)
func overrunDeadline(t *testing.T, b Backend) {
	const name = "crm-cdc-overrun"
	samples := name + "-samples"
	Apply(t, b, LoadTest(t, DemoManifest, name, b.Kafka(), func(spec map[string]any) {
		spec["targetRate"], spec["duration"], spec["workers"] = 50, "5s", 1
		delete(spec, "deadLetterQueue")
		delete(spec, "pipeline")
		delete(spec, "thresholds")
		spec["timeouts"] = map[string]any{"podsReady": "30s", "start": "5s", "drain": "0s"}
		// A ConfigMap created only once the operator is stopped: the pod cannot start before.
		spec["sampleSet"].(map[string]any)["configMapRef"].(map[string]any)["name"] = samples
	}))
	pod := name + "-worker-0"
	waitCreated(t, b, "pod/"+pod)
	b.StopManager(t)
	t.Cleanup(func() { b.StartManager(t) })
	applySamplesAs(t, b, samples)

	deadline, err := strconv.Atoi(MustKubectl(t, b, "get", "pod", pod, "-o", "jsonpath={.spec.activeDeadlineSeconds}"))
	if err != nil {
		t.Fatalf("activeDeadlineSeconds of %s: %v", pod, err)
	}
	grace, _ := strconv.Atoi(MustKubectl(t, b, "get", "pod", pod, "-o", "jsonpath={.spec.terminationGracePeriodSeconds}"))
	t.Logf("operator stopped; %s waits for its start until its activeDeadlineSeconds, %d s (grace %d s)", pod, deadline, grace)
	MustKubectl(t, b, "wait", "--for=jsonpath={.status.reason}=DeadlineExceeded", "pod/"+pod,
		fmt.Sprintf("--timeout=%ds", deadline+grace+180))
	if got := MustKubectl(t, b, "get", "pod", pod, "-o", "jsonpath={.status.phase}"); got != "Failed" {
		t.Errorf("pod %s is %s after its deadline, want Failed", pod, got)
	}
	b.StartManager(t)
	WaitPhase(t, b, name, "Error")
	message := JSONPath(t, b, name, "{.status.message}")
	for _, want := range []string{"pod " + pod, "DeadlineExceeded"} {
		if !strings.Contains(message, want) {
			t.Errorf("message %q does not contain %q", message, want)
		}
	}
	t.Logf("%s: %s", name, message)
}

// waitCreated waits until an object exists.
func waitCreated(t *testing.T, b Backend, object string) {
	t.Helper()
	if wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		_, err := Kubectl(t, b, "get", object, "-o", "name")
		return err == nil, nil
	}) != nil {
		t.Fatalf("%s not created within 2 minutes", object)
	}
}

// applySamplesAs applies the shipped sample set under another name.
func applySamplesAs(t *testing.T, b Backend, name string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(RepoRoot, SamplesManifest))
	if err != nil {
		t.Fatal(err)
	}
	var cm map[string]any
	if err := yaml.Unmarshal(data, &cm); err != nil {
		t.Fatal(err)
	}
	cm["metadata"] = map[string]any{"name": name}
	Apply(t, b, cm)
}

// deletedLoadTest deletes a LoadTest mid-run: its pods must go and stop producing. The
// operator stops and deletes them itself; with the operator down, the garbage collector
// must, by the pods' owner references.
func deletedLoadTest(t *testing.T, b Backend) {
	ApplySamples(t, b)
	Apply(t, b, LoadTest(t, DemoManifest, "crm-cdc-deleted", b.Kafka(), nil))
	waitStarted(t, b, "crm-cdc-deleted", 2*time.Second)
	deleteMidRun(t, b, "crm-cdc-deleted")

	// The operator down: only the garbage collector can act.
	const name = "crm-cdc-deleted-gc"
	Apply(t, b, LoadTest(t, DemoManifest, name, b.Kafka(), nil))
	waitStarted(t, b, name, 2*time.Second)
	b.StopManager(t)
	t.Cleanup(func() { b.StartManager(t) })
	if !b.Models(GarbageCollection) {
		selector := "streamreplay.io/loadtest=" + name
		MustKubectl(t, b, "delete", "loadtest", name, "--wait=true", "--timeout=1m")
		// Documented: nothing deletes them; they run to their end. Clean up by hand.
		if got := MustKubectl(t, b, "get", "pods", "-l", selector, "-o", "name"); got == "" {
			t.Errorf("the %s backend deleted the pods of a deleted LoadTest with the operator down, which it is documented not to do: update Models(GarbageCollection)", b.Name())
		}
		MustKubectl(t, b, "delete", "pods", "-l", selector, "--wait=true", "--timeout=2m")
		b.StartManager(t)
		return
	}
	deleteMidRun(t, b, name)
	b.StartManager(t)
}

// deleteMidRun deletes a running LoadTest and checks that its pods go and that the run's
// records in the topic stop growing.
func deleteMidRun(t *testing.T, b Backend, name string) {
	t.Helper()
	runID := JSONPath(t, b, name, "{.metadata.uid}")
	MustKubectl(t, b, "delete", "loadtest", name, "--wait=true", "--timeout=1m")
	MustKubectl(t, b, "wait", "--for=delete", "pods", "-l", "streamreplay.io/loadtest="+name, "--timeout=2m")
	before := CountRunRecords(t, b.Kafka(), nil, "crm.cdc", runID)
	// An observation window, not a timing assertion: a producing pod would add about
	// 1,000 records a second.
	time.Sleep(5 * time.Second)
	after := CountRunRecords(t, b.Kafka(), nil, "crm.cdc", runID)
	if after != before || before == 0 {
		t.Errorf("records of the deleted run %s: %d once its pods were gone, %d five seconds later (want equal, not 0)", name, before, after)
	}
	t.Logf("%s: %d records of the run, none after its pods were gone", name, before)
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
// pod's ServiceAccount is bound by config/default's bindings and nothing else, the roles on
// the cluster are config/default's, every right they grant works through the API server's
// authorizer, and sensitive rights they do not grant are refused.
func managerRBAC(t *testing.T, b Backend) {
	if !b.Models(ManagerInCluster) {
		t.Skipf("the %s backend runs the operator in its own process with the API server's admin credentials", b.Name())
	}
	const ns, sa = "streamreplay-system", "streamreplay-controller-manager"
	if got := MustKubectl(t, b, "get", "pods", "-n", ns, "-l", "control-plane=controller-manager", "-o", "jsonpath={.items[*].spec.serviceAccountName}"); got != sa {
		t.Fatalf("the manager runs as ServiceAccount %q, want %s", got, sa)
	}
	bindsManager := func(o rbacObject) bool {
		for _, s := range o.Subjects {
			if s.Kind == "ServiceAccount" && s.Name == sa && s.Namespace == ns ||
				s.Kind == "Group" && (s.Name == "system:serviceaccounts" || s.Name == "system:serviceaccounts:"+ns || s.Name == "system:authenticated") {
				return true
			}
		}
		return false
	}
	// What config/default grants the manager: its bindings and the roles they name.
	rendered := map[string]rbacObject{} // by "Kind namespace/name"
	var want []string
	for _, o := range renderedRBAC(t, b) {
		rendered[o.key()] = o
		if o.isBinding() && bindsManager(o) {
			want = append(want, o.binding())
		}
	}
	slices.Sort(want)

	// What the cluster grants it: every binding naming it, but the API server's own
	// defaults (discovery, public info), which every account has.
	var onCluster struct{ Items []rbacObject }
	if err := json.Unmarshal([]byte(MustKubectl(t, b, "get", "clusterrolebindings,rolebindings", "--all-namespaces", "-o", "json")), &onCluster); err != nil {
		t.Fatal(err)
	}
	var bound []string
	type boundRole struct {
		role      rbacObject
		namespace string // where it applies: a RoleBinding's namespace, "" for cluster-wide
	}
	var roles []boundRole
	for _, o := range onCluster.Items {
		if o.Metadata.Labels["kubernetes.io/bootstrapping"] == "rbac-defaults" || !bindsManager(o) {
			continue
		}
		bound = append(bound, o.binding())
		roleNS := ""
		if o.RoleRef.Kind == "Role" {
			roleNS = o.Metadata.Namespace
		}
		var role rbacObject
		args := []string{"get", strings.ToLower(o.RoleRef.Kind), o.RoleRef.Name, "-o", "json"}
		if roleNS != "" {
			args = append(args, "-n", roleNS)
		}
		if err := json.Unmarshal([]byte(MustKubectl(t, b, args...)), &role); err != nil {
			t.Fatal(err)
		}
		role.Kind = o.RoleRef.Kind
		if from, ok := rendered[role.key()]; !ok {
			t.Errorf("%s is bound to the manager but not in config/default", role.key())
		} else if a, c := fmt.Sprint(from.Rules), fmt.Sprint(role.Rules); a != c {
			t.Errorf("%s on the cluster:\n  %s\nin config/default:\n  %s", role.key(), c, a)
		}
		where := ""
		if o.Kind == "RoleBinding" {
			where = o.Metadata.Namespace
		}
		roles = append(roles, boundRole{role, where})
	}
	slices.Sort(bound)
	if !slices.Equal(bound, want) || len(want) == 0 {
		t.Errorf("bindings that grant the manager's ServiceAccount rights:\n  %s\nconfig/default's:\n  %s",
			strings.Join(bound, "\n  "), strings.Join(want, "\n  "))
	}

	// Through the API server's authorizer: every right granted works (in the role's
	// namespace, or the scenarios' for a ClusterRole), and sensitive ones not granted are refused.
	as := "--as=system:serviceaccount:" + ns + ":" + sa
	canI := func(namespace, verb, group, resource, name string) bool {
		res, sub, _ := strings.Cut(resource, "/")
		if group != "" {
			res += "." + group
		}
		if name != "" {
			res += "/" + name
		}
		args := []string{"auth", "can-i", verb, res, as}
		if sub != "" {
			args = append(args, "--subresource="+sub)
		}
		if namespace != "" {
			args = append(args, "-n", namespace)
		}
		out, _ := Kubectl(t, b, args...)
		return strings.TrimSpace(out) == "yes"
	}
	granted := map[string]bool{}
	for _, br := range roles {
		role := br.role
		for _, rule := range role.Rules {
			names := rule.ResourceNames
			if len(names) == 0 {
				names = []string{""}
			}
			for _, g := range rule.APIGroups {
				for _, r := range rule.Resources {
					for _, v := range rule.Verbs {
						for _, n := range names {
							key := strings.TrimSpace(fmt.Sprintf("%s %s %s %s", v, g, r, n))
							if n == "" {
								granted[fmt.Sprintf("%s %s %s", v, g, r)] = true
							}
							if !canI(br.namespace, v, g, r, n) {
								t.Errorf("the manager cannot %s (%s grants it)", key, role.key())
							}
						}
					}
				}
			}
		}
	}
	for _, refused := range []struct{ verb, group, resource string }{
		{"get", "", "secrets"}, {"list", "", "secrets"}, {"create", "", "pods/exec"}, {"get", "", "pods/log"},
		{"list", "", "nodes"}, {"list", "", "configmaps"}, {"delete", "", "configmaps"},
		{"update", "streamreplay.io", "loadtests"}, {"delete", "streamreplay.io", "loadtests"},
	} {
		key := fmt.Sprintf("%s %s %s", refused.verb, refused.group, refused.resource)
		switch {
		case granted[key]:
			t.Errorf("config/default now grants %s, which this test expects refused: review the grant, then this list", key)
		case canI(b.Namespace(), refused.verb, refused.group, refused.resource, ""):
			t.Errorf("the manager can %s in namespace %s, which config/default does not grant", key, b.Namespace())
		}
	}
	// Every scenario ran with these rights: nothing was refused.
	logs := MustKubectl(t, b, "logs", "-n", ns, "deployment/streamreplay-controller-manager", "--all-containers")
	if strings.Contains(logs, "forbidden") {
		t.Errorf("the manager was refused something:\n%s", grepLines(logs, "forbidden"))
	}
}

// rbacObject is a Role, ClusterRole, RoleBinding or ClusterRoleBinding.
type rbacObject struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Rules []struct {
		APIGroups     []string `json:"apiGroups"`
		Resources     []string `json:"resources"`
		ResourceNames []string `json:"resourceNames"`
		Verbs         []string `json:"verbs"`
	} `json:"rules"`
	RoleRef  struct{ Kind, Name string } `json:"roleRef"`
	Subjects []struct{ Kind, Name, Namespace string }
}

func (o rbacObject) key() string     { return o.Kind + " " + o.Metadata.Namespace + "/" + o.Metadata.Name }
func (o rbacObject) isBinding() bool { return strings.HasSuffix(o.Kind, "Binding") }
func (o rbacObject) binding() string { return o.key() + " -> " + o.RoleRef.Kind + " " + o.RoleRef.Name }

// renderedRBAC is the RBAC of config/default, as kubectl kustomize renders it.
func renderedRBAC(t *testing.T, b Backend) []rbacObject {
	t.Helper()
	out := MustKubectl(t, b, "kustomize", filepath.Join(RepoRoot, "config", "default"))
	var objs []rbacObject
	for _, doc := range strings.Split(out, "\n---\n") {
		var o rbacObject
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("config/default: %v", err)
		}
		if strings.HasSuffix(o.Kind, "Role") || o.isBinding() {
			objs = append(objs, o)
		}
	}
	return objs
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
