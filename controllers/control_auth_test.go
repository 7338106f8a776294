package controllers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/operator"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/podrun"
	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/test/fakepods"
)

// heldRole is a worker whose run reports 1000 records acknowledged once released (or
// stopped), and tells when it started and whether it was stopped.
type heldRole struct {
	lt      *streamreplayv1alpha1.LoadTest
	started chan time.Time
	release chan struct{}
}

func (r *heldRole) Prepare(context.Context) error { return nil }
func (r *heldRole) Progress() []any               { return nil }

func (r *heldRole) Run(ctx context.Context, start time.Time) (*results.Report, error) {
	r.started <- start
	select {
	case <-r.release:
	case <-ctx.Done():
	}
	lt := r.lt.DeepCopy()
	lt.Status.StartTime = streamreplayv1alpha1.NewPreciseTime(start)
	msg, err := fakepods.WorkerReport(lt, fakepods.Worker{Pod: controllers.WorkerPodName(lt, 0), Scheduled: 1000, Acked: 1000, Latencies: []time.Duration{20 * time.Millisecond}})
	if err != nil {
		return nil, err
	}
	return results.Decode([]byte(msg))
}

// TestOnlyTheOperatorCanSteerARun runs the real pod runtime (podrun) behind a run's pod,
// with the token the operator put in the run's Secret, as the kubelet would mount it.
// Calls to the control port without the token, with another run's token or with the
// token of another key are refused and change nothing, before and during the run; the
// operator's own calls carry the token, and the run passes. The metrics port serves
// metrics and refuses a POST /stop.
func TestOnlyTheOperatorCanSteerARun(t *testing.T) {
	policy := &controllers.NetworkPolicyConfig{
		OperatorNamespace: "streamreplay-system",
		OperatorPodLabels: map[string]string{"control-plane": "controller-manager"},
		MetricsNamespaces: metav1.LabelSelector{MatchLabels: map[string]string{"metrics": "enabled"}},
	}
	h := newHarnessWith(t, func(o *operator.Options) { o.NetworkPolicy = policy })
	const name = "guarded"
	lt := fakepods.NewLoadTest(name, 1, 100)
	lt.Spec.DeadLetterQueue = nil
	lt.Spec.Thresholds.MaxDLQRecords = nil
	h.create(lt)
	pod := h.waitPods(name, 1)[0]
	lt = h.get(name)
	runID := string(lt.UID)

	// The run's Secret: owned by the LoadTest, immutable, holding HMAC(key, run id).
	var secret corev1.Secret
	if err := k8s.Get(h.ctx, client.ObjectKey{Namespace: h.namespace, Name: name + "-control"}, &secret); err != nil {
		t.Fatalf("the run's control Secret: %v", err)
	}
	token := string(secret.Data[control.TokenKey])
	if token != h.key.Token(runID) {
		t.Fatalf("the Secret's token is not the HMAC of the run id under the operator's key")
	}
	if owner := metav1.GetControllerOf(&secret); owner == nil || owner.UID != lt.UID || secret.Immutable == nil || !*secret.Immutable {
		t.Errorf("Secret %s: controller %+v, immutable %v; want owned by the LoadTest and immutable", secret.Name, owner, secret.Immutable)
	}

	// The run's NetworkPolicy, as the API server accepted it.
	var np networkingv1.NetworkPolicy
	if err := k8s.Get(h.ctx, client.ObjectKey{Namespace: h.namespace, Name: name + "-pods"}, &np); err != nil {
		t.Fatalf("the run's NetworkPolicy: %v", err)
	}
	want := controllers.BuildNetworkPolicy(lt, policy)
	if owner := metav1.GetControllerOf(&np); owner == nil || owner.UID != lt.UID || !equality.Semantic.DeepEqual(np.Spec, want.Spec) {
		t.Errorf("NetworkPolicy %s: controller %+v, spec %+v; want owned by the LoadTest with spec %+v", np.Name, owner, np.Spec, want.Spec)
	}
	if sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector); err != nil || !sel.Matches(labels.Set(pod.Labels)) {
		t.Errorf("NetworkPolicy %s does not select pod %s (%v)", np.Name, pod.Name, err)
	}

	// The pod, as the kubelet runs it: its token file from the Secret, 0440.
	ip := addresses.Next()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, secret.Data[control.TokenKey], 0o440); err != nil {
		t.Fatal(err)
	}
	podToken, err := control.ReadTokenFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	role := &heldRole{lt: lt, started: make(chan time.Time, 1), release: make(chan struct{})}
	termLog := filepath.Join(dir, "termination-log")
	controlURL := "http://" + net.JoinHostPort(ip, strconv.Itoa(plan.ControlPort))
	metricsURL := "http://" + net.JoinHostPort(ip, strconv.Itoa(plan.MetricsPort))
	done := make(chan error, 1)
	go func() {
		done <- podrun.Main(h.ctx, role, podrun.Options{
			RunID: runID, Token: podToken, Role: results.RoleWorker, Pod: pod.Name,
			ControlAddr: net.JoinHostPort(ip, strconv.Itoa(plan.ControlPort)), MetricsAddr: net.JoinHostPort(ip, strconv.Itoa(plan.MetricsPort)),
			TerminationLog: termLog, Log: testr.New(t), ProgressEvery: time.Hour,
		})
	}()
	fakepods.Eventually(t, "the pod's /readyz", 10*time.Second, func() error {
		if code, _ := send(http.MethodGet, metricsURL+control.PathReady, "", nil); code != http.StatusOK {
			return fmt.Errorf("GET /readyz = %d", code)
		}
		return nil
	})

	otherKey, err := control.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	forged := []struct {
		what, path, bearer string
		body               any
	}{
		{"/start without a token", control.PathStart, "", control.StartRequest{RunID: runID, StartTime: time.Now()}},
		{"/start with another run's token", control.PathStart, h.key.Token("another-run"), control.StartRequest{RunID: runID, StartTime: time.Now()}},
		{"/start with this run's id under another key", control.PathStart, otherKey.Token(runID), control.StartRequest{RunID: runID, StartTime: time.Now()}},
		{"/start with the run id as token", control.PathStart, runID, control.StartRequest{RunID: runID, StartTime: time.Now()}},
		{"/stop without a token", control.PathStop, "", control.StopRequest{RunID: runID}},
		{"/stop with another run's token", control.PathStop, h.key.Token("another-run"), control.StopRequest{RunID: runID}},
	}
	attack := func(when string) int {
		t.Helper()
		for _, f := range forged {
			code, body := send(http.MethodPost, controlURL+f.path, f.bearer, f.body)
			if code != http.StatusUnauthorized || strings.Contains(body, runID) || body != "unauthorized\n" {
				t.Errorf("%s, POST %s: %d %q, want a bare 401", when, f.what, code, body)
			}
		}
		// The metrics port is open to scrapers, and has no way to stop the pod.
		if code, _ := send(http.MethodPost, metricsURL+control.PathStop, podToken, control.StopRequest{RunID: runID}); code != http.StatusMethodNotAllowed {
			t.Errorf("%s, POST /stop on the metrics port = %d, want 405", when, code)
		}
		return len(forged)
	}
	refused := attack("before the start")
	select {
	case at := <-role.started:
		t.Fatalf("a forged /start started the run at %s", at)
	default:
	}

	h.markReady(&pod, ip)
	lt = h.waitPhase(name, streamreplayv1alpha1.PhaseRunning)
	var started time.Time
	select {
	case started = <-role.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the operator's /start did not reach the pod")
	}
	if !started.Equal(lt.Status.StartTime.Time) {
		t.Errorf("the pod started at %s, the operator's start time is %s", started, lt.Status.StartTime.Time)
	}
	fakepods.Eventually(t, "the Started condition", 10*time.Second, func() error {
		if lt = h.get(name); !conditionTrue(lt, streamreplayv1alpha1.ConditionStarted) {
			return fmt.Errorf("conditions %+v", lt.Status.Conditions)
		}
		return nil
	})
	before := lt.Status.DeepCopy()

	refused += attack("while running")
	if got := h.get(name); got.Status.Phase != before.Phase || !got.Status.StartTime.Time.Equal(before.StartTime.Time) || conditionTrue(got, streamreplayv1alpha1.ConditionStopping) {
		t.Errorf("the forged calls changed the run: phase %s, start %s, conditions %+v", got.Status.Phase, got.Status.StartTime, got.Status.Conditions)
	}
	code, metrics := send(http.MethodGet, metricsURL+control.PathMetrics, "", nil)
	if want := fmt.Sprintf("streamreplay_control_refused_total %d", refused); code != http.StatusOK || !strings.Contains(metrics, want) {
		t.Errorf("GET /metrics = %d, want %q in:\n%s", code, want, metrics)
	}

	close(role.release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("podrun.Main: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the pod did not finish")
	}
	msg, err := os.ReadFile(termLog)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := results.Decode(msg); err != nil || r.Stopped {
		t.Fatalf("the pod's report: %v, stopped %v; a forged /stop must not have stopped it", err, r != nil && r.Stopped)
	}
	h.markTerminated(pod.Name, 0, string(msg))
	lt = h.waitPhase(name, streamreplayv1alpha1.PhasePassed)

	// The token is in the Secret only: not in the pod, the status or the events.
	var p corev1.Pod
	if err := k8s.Get(h.ctx, client.ObjectKeyFromObject(&pod), &p); err != nil {
		t.Fatal(err)
	}
	var events corev1.EventList
	if err := k8s.List(h.ctx, &events, client.InNamespace(h.namespace)); err != nil {
		t.Fatal(err)
	}
	for what, obj := range map[string]any{"the pod": p.Spec, "the LoadTest": lt, "the events": events.Items} {
		if b, _ := json.Marshal(obj); bytes.Contains(b, []byte(token)) {
			t.Errorf("%s shows the run's token", what)
		}
	}
}

func conditionTrue(lt *streamreplayv1alpha1.LoadTest, kind string) bool {
	for _, c := range lt.Status.Conditions {
		if c.Type == kind {
			return c.Status == metav1.ConditionTrue
		}
	}
	return false
}

// send makes one HTTP call with an optional bearer token and JSON body.
func send(method, url, bearer string, body any) (int, string) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, err.Error()
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
