package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/operator"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
)

// The control plane is shared by every test of the package; each test gets its own
// namespace and its own manager, restricted to that namespace.
var (
	restConfig *rest.Config
	k8s        client.Client
)

func TestMain(m *testing.M) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run `make test`, which builds the envtest binaries and sets it")
		os.Exit(1)
	}
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true), zap.Level(zapLevel())))
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting envtest: %v\n", err)
		os.Exit(1)
	}
	restConfig = cfg
	k8s, err = client.New(cfg, client.Options{Scheme: operator.NewScheme()})
	if err != nil {
		fmt.Fprintf(os.Stderr, "creating client: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stopping envtest: %v\n", err)
	}
	os.Exit(code)
}

// zapLevel keeps the controller quiet unless STREAMREPLAY_TEST_VERBOSE is set.
func zapLevel() zapcore.Level {
	if os.Getenv("STREAMREPLAY_TEST_VERBOSE") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}

// harness is one test's namespace, manager and fake kubelet.
type harness struct {
	t         *testing.T
	ctx       context.Context
	namespace string
	stopMgr   context.CancelFunc
	mgrDone   chan error
}

var namespaceSeq atomic.Int32

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, namespace: fmt.Sprintf("test-%d", namespaceSeq.Add(1))}
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: h.namespace}}); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	h.startManager()
	t.Cleanup(h.stopManager)
	return h
}

func (h *harness) startManager() {
	h.t.Helper()
	mgr, err := operator.New(restConfig, operator.Options{
		MetricsAddr:     "0",
		ProbeAddr:       "0",
		PodImage:        "streamreplay:test",
		StartLead:       300 * time.Millisecond,
		SignalTimeout:   500 * time.Millisecond,
		Namespaces:      []string{h.namespace},
		SeveralManagers: true,
	})
	if err != nil {
		h.t.Fatalf("creating manager: %v", err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	h.stopMgr = cancel
	h.mgrDone = make(chan error, 1)
	go func() { h.mgrDone <- mgr.Start(ctx) }()
}

func (h *harness) stopManager() {
	if h.stopMgr == nil {
		return
	}
	h.stopMgr()
	if err := <-h.mgrDone; err != nil {
		h.t.Errorf("manager stopped with error: %v", err)
	}
	h.stopMgr = nil
}

// eventually retries check until it succeeds or the timeout passes.
func (h *harness) eventually(what string, timeout time.Duration, check func() error) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: still not true after %s: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *harness) create(lt *streamreplayv1alpha1.LoadTest) {
	h.t.Helper()
	lt.Namespace = h.namespace
	if err := k8s.Create(h.ctx, lt); err != nil {
		h.t.Fatalf("creating LoadTest: %v", err)
	}
}

func (h *harness) get(name string) *streamreplayv1alpha1.LoadTest {
	h.t.Helper()
	lt := &streamreplayv1alpha1.LoadTest{}
	if err := k8s.Get(h.ctx, client.ObjectKey{Namespace: h.namespace, Name: name}, lt); err != nil {
		h.t.Fatalf("getting LoadTest %s: %v", name, err)
	}
	return lt
}

// waitPhase waits for a phase and returns the LoadTest as it then is.
func (h *harness) waitPhase(name string, phase streamreplayv1alpha1.Phase, timeout time.Duration) *streamreplayv1alpha1.LoadTest {
	h.t.Helper()
	var lt *streamreplayv1alpha1.LoadTest
	h.eventually("phase "+string(phase), timeout, func() error {
		lt = h.get(name)
		if lt.Status.Phase != phase {
			return fmt.Errorf("phase is %q (message %q)", lt.Status.Phase, lt.Status.Message)
		}
		return nil
	})
	return lt
}

func (h *harness) pods(name string) []corev1.Pod {
	h.t.Helper()
	var list corev1.PodList
	if err := k8s.List(h.ctx, &list, client.InNamespace(h.namespace), client.MatchingLabels{controllers.LabelLoadTest: name}); err != nil {
		h.t.Fatalf("listing pods: %v", err)
	}
	return list.Items
}

func (h *harness) waitPods(name string, n int) []corev1.Pod {
	h.t.Helper()
	var pods []corev1.Pod
	h.eventually(fmt.Sprintf("%d pods", n), 10*time.Second, func() error {
		pods = h.pods(name)
		if len(pods) != n {
			return fmt.Errorf("%d pods", len(pods))
		}
		return nil
	})
	return pods
}

// controlServer plays a pod's control port on its own loopback address.
type controlServer struct {
	ip     string
	mu     sync.Mutex
	starts []control.StartRequest
	stops  []control.StopRequest
}

func (c *controlServer) startCalls() []control.StartRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]control.StartRequest(nil), c.starts...)
}

func (c *controlServer) stopCalls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.stops)
}

// ipSeq hands out loopback addresses 127.0.1.x, so that every fake pod has its own
// address and the controller reaches it on the real control port, as in a cluster.
var ipSeq atomic.Int32

func nextIP() string {
	n := ipSeq.Add(1)
	return fmt.Sprintf("127.0.%d.%d", 1+n/250, 1+n%250)
}

func (h *harness) serveControl() *controlServer {
	h.t.Helper()
	c := &controlServer{ip: nextIP()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+control.PathStart, func(w http.ResponseWriter, r *http.Request) {
		var req control.StartRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.starts = append(c.starts, req)
		c.mu.Unlock()
	})
	mux.HandleFunc("POST "+control.PathStop, func(w http.ResponseWriter, r *http.Request) {
		var req control.StopRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.stops = append(c.stops, req)
		c.mu.Unlock()
	})
	ln, err := net.Listen("tcp", net.JoinHostPort(c.ip, strconv.Itoa(plan.ControlPort)))
	if err != nil {
		h.t.Fatalf("listening on %s: %v", c.ip, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	h.t.Cleanup(func() { _ = srv.Close() })
	return c
}

// markReady plays the kubelet: the pod runs on ip and passes its readiness probe.
func (h *harness) markReady(pod *corev1.Pod, ip string) {
	h.t.Helper()
	h.updatePodStatus(pod.Name, func(p *corev1.Pod) {
		now := metav1.Now()
		p.Status.Phase = corev1.PodRunning
		p.Status.PodIP = ip
		p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
		p.Status.StartTime = &now
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: "replay", Image: p.Spec.Containers[0].Image, Ready: true, Started: ptr.To(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		}}
	})
}

// markTerminated plays the kubelet: the container exited with code and its termination message.
func (h *harness) markTerminated(podName string, code int32, message string) {
	h.t.Helper()
	h.updatePodStatus(podName, func(p *corev1.Pod) {
		now := metav1.Now()
		p.Status.Phase = corev1.PodSucceeded
		reason := "Completed"
		if code != 0 {
			p.Status.Phase = corev1.PodFailed
			reason = "Error"
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: now}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: "replay", Image: p.Spec.Containers[0].Image,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: code, Reason: reason, Message: message, StartedAt: now, FinishedAt: now,
			}},
		}}
	})
}

func (h *harness) updatePodStatus(name string, mutate func(*corev1.Pod)) {
	h.t.Helper()
	h.eventually("updating status of pod "+name, 5*time.Second, func() error {
		var pod corev1.Pod
		if err := k8s.Get(h.ctx, client.ObjectKey{Namespace: h.namespace, Name: name}, &pod); err != nil {
			return err
		}
		mutate(&pod)
		return k8s.Status().Update(h.ctx, &pod)
	})
}

// readyAll makes every pod of the test Ready, each with its control server.
func (h *harness) readyAll(name string, n int) map[string]*controlServer {
	h.t.Helper()
	servers := map[string]*controlServer{}
	for _, pod := range h.waitPods(name, n) {
		srv := h.serveControl()
		servers[pod.Name] = srv
		h.markReady(&pod, srv.ip)
	}
	return servers
}

// report is a pod's termination message for the run.
type reportOpts struct {
	scheduled, acked, failed int64
	latency                  time.Duration
	stopped                  bool
}

func workerReport(t *testing.T, lt *streamreplayv1alpha1.LoadTest, index int, o reportOpts) string {
	t.Helper()
	hist := results.NewHistogram()
	for range o.acked {
		hist.Record(o.latency)
	}
	start := lt.Status.StartTime.Time
	r := &results.Report{
		Version: results.FormatVersion, Role: results.RoleWorker, Index: index, RunID: string(lt.UID),
		Pod: fmt.Sprintf("%s-worker-%d", lt.Name, index), Start: start, End: start.Add(10 * time.Second), Stopped: o.stopped,
		Worker: &results.WorkerResult{
			Scheduled: o.scheduled, Sent: o.acked + o.failed, Acked: o.acked, Failed: o.failed,
			Bytes: o.acked * 200, Latency: hist, SendLatency: hist,
		},
	}
	if o.failed > 0 {
		r.Worker.Errors = map[string]int64{"RequestTimedOut": o.failed}
	}
	return encodeReport(t, r)
}

func observerReport(t *testing.T, lt *streamreplayv1alpha1.LoadTest, dlq int64) string {
	t.Helper()
	start := lt.Status.StartTime.Time
	r := &results.Report{
		Version: results.FormatVersion, Role: results.RoleObserver, RunID: string(lt.UID),
		Pod: lt.Name + "-observer", Start: start, End: start.Add(12 * time.Second),
		Observer: &results.ObserverResult{DLQ: &results.DLQResult{Records: dlq}},
	}
	if dlq > 0 {
		r.Observer.DLQ.Classes = []results.DLQClass{{Name: "org.apache.kafka.connect.errors.DataException", Count: dlq}}
	}
	return encodeReport(t, r)
}

func encodeReport(t *testing.T, r *results.Report) string {
	t.Helper()
	b, err := r.Encode()
	if err != nil {
		t.Fatalf("encoding report: %v", err)
	}
	return string(b)
}
