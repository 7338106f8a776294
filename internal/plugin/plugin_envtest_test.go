package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/operator"
	"github.com/streamreplay/streamreplay/internal/plugin"
	"github.com/streamreplay/streamreplay/internal/report"
	"github.com/streamreplay/streamreplay/internal/results"
)

// The tests run the real kubectl, which finds the plugin, built into pluginDir, on PATH and
// talks to an envtest API server (no controller: the tests write the statuses).
var (
	k8s        client.Client
	kubeconfig string
	pluginDir  string
	kubectlBin string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run `make test`, which builds the envtest binaries and sets it")
		return 1
	}
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	dir, err := os.MkdirTemp("", "kubectl-streamreplay-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	pluginDir = filepath.Join(dir, "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(pluginDir, "kubectl-streamreplay"), "../../cmd/kubectl-streamreplay")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building the plugin: %v\n", err)
		return 1
	}
	if kubectlBin, err = findKubectl(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:        []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting envtest: %v\n", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping envtest: %v\n", err)
		}
	}()
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if k8s, err = client.New(cfg, client.Options{Scheme: operator.NewScheme()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// findKubectl finds kubectl: on PATH, else the one next to the envtest binaries.
func findKubectl() (string, error) {
	if path, err := exec.LookPath("kubectl"); err == nil {
		return path, nil
	}
	path := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("kubectl is not on PATH nor in KUBEBUILDER_ASSETS: the plugin is tested through it")
	}
	return path, nil
}

// kubectl runs `kubectl args...` with the plugin on PATH; it returns stdout, stderr and the error.
func kubectl(args ...string) (string, string, error) {
	cmd := exec.Command(kubectlBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "PATH="+pluginDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := kubectl(args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

var nsSeq atomic.Int32

func namespace(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("plugin-%d", nsSeq.Add(1))
	if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	return name
}

func newLoadTest(ns, name string) *streamreplayv1alpha1.LoadTest {
	return &streamreplayv1alpha1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"team": "crm", "release": "42"}},
		Spec: streamreplayv1alpha1.LoadTestSpec{
			TargetRate: ptr.To[int64](1000),
			Duration:   &metav1.Duration{Duration: 10 * time.Minute},
			Workers:    2,
			SampleSet: streamreplayv1alpha1.SampleSet{
				ConfigMapRef: &streamreplayv1alpha1.ConfigMapKeyRef{Name: "samples", Key: "samples.jsonl"},
			},
			Kafka:           streamreplayv1alpha1.Kafka{BootstrapServers: []string{"kafka:9092"}},
			Target:          streamreplayv1alpha1.Target{Topic: "in"},
			DeadLetterQueue: &streamreplayv1alpha1.DeadLetterQueue{Topic: "dlq"},
			Thresholds:      &streamreplayv1alpha1.Thresholds{MaxP99Latency: &metav1.Duration{Duration: 250 * time.Millisecond}},
		},
	}
}

// create makes the LoadTest and writes its status as the operator would.
func create(t *testing.T, lt *streamreplayv1alpha1.LoadTest, status streamreplayv1alpha1.LoadTestStatus) *streamreplayv1alpha1.LoadTest {
	t.Helper()
	ctx := context.Background()
	if err := k8s.Create(ctx, lt); err != nil {
		t.Fatalf("creating loadtest %s: %v", lt.Name, err)
	}
	status.ObservedGeneration = lt.Generation
	lt.Status = status
	if err := k8s.Status().Update(ctx, lt); err != nil {
		t.Fatalf("writing the status of loadtest %s: %v", lt.Name, err)
	}
	return lt
}

func get(t *testing.T, ns, name string) *streamreplayv1alpha1.LoadTest {
	t.Helper()
	lt := &streamreplayv1alpha1.LoadTest{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, lt); err != nil {
		t.Fatal(err)
	}
	return lt
}

func TestStop(t *testing.T) {
	ns := namespace(t)
	create(t, newLoadTest(ns, "running"), streamreplayv1alpha1.LoadTestStatus{Phase: streamreplayv1alpha1.PhaseRunning})
	out := mustKubectl(t, "streamreplay", "stop", "running", "-n", ns)
	if want := "loadtest.streamreplay.io/running stopping\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	lt := get(t, ns, "running")
	if !lt.Spec.Stop {
		t.Fatal("spec.stop is not set after `kubectl streamreplay stop`")
	}
	// Nothing else of the spec changed: the generation moved by the one patch.
	if lt.Generation != 2 {
		t.Errorf("generation %d, want 2 (one patch)", lt.Generation)
	}
	if out := mustKubectl(t, "streamreplay", "stop", "running", "-n", ns); !strings.Contains(out, "already stopping") {
		t.Errorf("second stop says %q, want already stopping", out)
	}

	create(t, newLoadTest(ns, "done"), streamreplayv1alpha1.LoadTestStatus{Phase: streamreplayv1alpha1.PhasePassed})
	if out := mustKubectl(t, "streamreplay", "stop", "done", "-n", ns); !strings.Contains(out, "already ended (Passed)") {
		t.Errorf("stopping a finished test says %q", out)
	}
	if get(t, ns, "done").Spec.Stop {
		t.Error("a finished test was patched")
	}

	_, errOut, err := kubectl("streamreplay", "stop", "missing", "-n", ns)
	if err == nil || !strings.Contains(errOut, `loadtest "missing" not found in namespace "`+ns+`"`) {
		t.Errorf("stopping a missing test: err %v, stderr %q", err, errOut)
	}
}

var generatedRerun = regexp.MustCompile(`^loadtest\.streamreplay\.io/(orig-rerun-[a-z0-9]{5}) created\n$`)

func TestRerun(t *testing.T) {
	ns := namespace(t)
	orig := newLoadTest(ns, "orig")
	orig.Spec.Stop = true
	orig = create(t, orig, streamreplayv1alpha1.LoadTestStatus{Phase: streamreplayv1alpha1.PhaseAborted, Verdict: streamreplayv1alpha1.VerdictInconclusive, Message: "stopped"})

	out := mustKubectl(t, "streamreplay", "rerun", "orig", "-n", ns)
	m := generatedRerun.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("rerun says %q, want loadtest.streamreplay.io/orig-rerun-xxxxx created", out)
	}
	rerun := get(t, ns, m[1])
	want := orig.Spec.DeepCopy()
	want.Stop = false
	if diff := cmp.Diff(*want, rerun.Spec); diff != "" {
		t.Errorf("rerun spec (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(orig.Labels, rerun.Labels); diff != "" {
		t.Errorf("rerun labels (-want +got):\n%s", diff)
	}
	if got := rerun.Annotations[plugin.AnnotationRerunOf]; got != "orig" {
		t.Errorf("annotation %s = %q, want orig", plugin.AnnotationRerunOf, got)
	}
	if rerun.Status.Phase != "" || rerun.Status.Message != "" || rerun.Status.Verdict != "" {
		t.Errorf("the rerun carries a status: %+v", rerun.Status)
	}

	// A rerun of the rerun is orig-rerun-xxxxx again, and --name names it.
	if out := mustKubectl(t, "streamreplay", "rerun", m[1], "-n", ns); !generatedRerun.MatchString(out) {
		t.Errorf("rerun of a rerun says %q", out)
	}
	mustKubectl(t, "streamreplay", "rerun", "orig", "--name", "orig-again", "-n", ns)
	if got := get(t, ns, "orig-again"); got.Spec.Stop || got.Labels["team"] != "crm" {
		t.Errorf("--name rerun: stop %v, labels %v", got.Spec.Stop, got.Labels)
	}

	// A long name is cut so that the generated one stays within the LoadTest's 50 characters.
	long := strings.Repeat("a", 50)
	create(t, newLoadTest(ns, long), streamreplayv1alpha1.LoadTestStatus{Phase: streamreplayv1alpha1.PhasePassed})
	out = mustKubectl(t, "streamreplay", "rerun", long, "-n", ns)
	name := strings.TrimSuffix(strings.TrimPrefix(out, "loadtest.streamreplay.io/"), " created\n")
	if len(name) != 50 || !strings.HasPrefix(name, strings.Repeat("a", 38)+"-rerun-") {
		t.Errorf("rerun of a 50-character name is %q (%d characters)", name, len(name))
	}
}

// finished creates a finished LoadTest with its results ConfigMap as the controller writes it.
func finished(t *testing.T, ns, name string, verdict streamreplayv1alpha1.Verdict, p99 string, doc *results.Document) {
	t.Helper()
	phase := streamreplayv1alpha1.PhasePassed
	if verdict == streamreplayv1alpha1.VerdictFail {
		phase = streamreplayv1alpha1.PhaseFailed
	}
	lt := newLoadTest(ns, name)
	create(t, lt, streamreplayv1alpha1.LoadTestStatus{
		Phase: phase, Verdict: verdict, ResultsConfigMap: controllers.ResultsConfigMapName(lt),
		Thresholds: []streamreplayv1alpha1.ThresholdCheck{{Name: "maxP99Latency", Measured: p99, Limit: "250ms", Passed: verdict == streamreplayv1alpha1.VerdictPass}},
	})
	data, err := doc.JSON()
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: controllers.ResultsConfigMapName(lt)},
		Data:       map[string]string{controllers.ResultsKeyJSON: string(data), controllers.ResultsKeySummary: doc.Summary()},
	}
	if err := k8s.Create(context.Background(), cm); err != nil {
		t.Fatal(err)
	}
}

func document(acked int64, p99 time.Duration, dlq int64) *results.Document {
	return &results.Document{
		RunID:             "run",
		Workers:           []results.WorkerSummary{{Pod: "w-0", Scheduled: 10000, Sent: 10000, Acked: acked, Failed: 10000 - acked}},
		Totals:            results.Totals{Scheduled: 10000, Sent: 10000, Acked: acked, Failed: 10000 - acked},
		Window:            results.Window{Seconds: 10},
		ScheduledRate:     1000,
		AchievedRate:      float64(acked) / 10,
		AchievedRateRatio: float64(acked) / 10000,
		ErrorRatio:        float64(10000-acked) / 10000,
		Latency:           &results.Percentiles{Count: acked, P50: p99 / 4, P90: p99 / 2, P95: p99 / 2, P99: p99, P999: p99, Max: p99 * 2},
		DLQ:               &results.DLQResult{Records: dlq},
	}
}

func TestCompare(t *testing.T) {
	ns := namespace(t)
	finished(t, ns, "release-1", streamreplayv1alpha1.VerdictPass, "100ms", document(10000, 100*time.Millisecond, 0))
	finished(t, ns, "release-2", streamreplayv1alpha1.VerdictFail, "400ms", document(9000, 400*time.Millisecond, 30))

	var got report.Comparison
	if err := json.Unmarshal([]byte(mustKubectl(t, "streamreplay", "compare", "release-1", "release-2", "-n", ns, "-o", "json")), &got); err != nil {
		t.Fatal(err)
	}
	type row struct {
		A, B, Delta string
		Change      report.Change
	}
	rows := map[string]row{}
	for _, r := range got.Rows {
		rows[r.Figure] = row{r.A, r.B, r.DeltaText, r.Change}
	}
	want := map[string]row{
		"verdict":                 {"Pass", "Fail", "", report.Same},
		"threshold maxP99Latency": {"pass: 100ms (limit 250ms)", "fail: 400ms (limit 250ms)", "", report.Same},
		"acknowledged":            {"10,000", "9,000", "-1,000", report.Worse},
		"achieved rate":           {"1,000.0/s", "900.0/s", "-100.0/s", report.Worse},
		"latency p99":             {"100ms", "400ms", "+300ms", report.Worse},
		"dead letters":            {"0", "30", "+30", report.Worse},
	}
	for figure, w := range want {
		if diff := cmp.Diff(w, rows[figure]); diff != "" {
			t.Errorf("row %q (-want +got):\n%s", figure, diff)
		}
	}

	text := mustKubectl(t, "streamreplay", "compare", "release-1", "release-2", "-n", ns)
	if !regexp.MustCompile(`(?m)^latency p99 +100ms +400ms +\+300ms +\+300\.0% +WORSE$`).MatchString(text) {
		t.Errorf("the text table has no latency p99 line marked WORSE:\n%s", text)
	}

	if _, errOut, err := kubectl("streamreplay", "compare", "release-1", "nope", "-n", ns); err == nil || !strings.Contains(errOut, `loadtest "nope" not found`) {
		t.Errorf("compare with a missing run: err %v, stderr %q", err, errOut)
	}
}

func TestReport(t *testing.T) {
	ns := namespace(t)
	finished(t, ns, "capped", streamreplayv1alpha1.VerdictFail, "400ms", document(9000, 400*time.Millisecond, 30))
	file := filepath.Join(t.TempDir(), "capped.html")
	out := mustKubectl(t, "streamreplay", "report", "capped", "-n", ns, "-o", file)
	if !strings.Contains(out, "written to "+file) {
		t.Errorf("report says %q", out)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := html.Parse(bytes.NewReader(data)); err != nil {
		t.Fatalf("the report does not parse: %v", err)
	}
	page := string(data)
	for _, want := range []string{">Fail</span>", "<td>maxP99Latency</td>", "400ms", "1,000 of 10,000 records failed", `data-label="p99"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	// 2 rate bars (asked, achieved) and 6 latency bars (p50 to max).
	if got := strings.Count(page, `<rect class="bar"`); got != 8 {
		t.Errorf("%d bars, want 8: asked and achieved rate, latency p50 to max", got)
	}

	if _, errOut, err := kubectl("streamreplay", "report", "capped", "-n", ns); err == nil || !strings.Contains(errOut, "-o FILE.html is required") {
		t.Errorf("report without -o: err %v, stderr %q", err, errOut)
	}
}
