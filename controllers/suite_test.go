package controllers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/operator"
	"github.com/streamreplay/streamreplay/test/fakepods"
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

// harness is one test's namespace, manager, clock and fake kubelet.
type harness struct {
	t         *testing.T
	ctx       context.Context
	namespace string
	stopMgr   context.CancelFunc
	mgrDone   chan error
	// key is the operator's control key; control answers the control calls of every
	// pod of the test, checking their tokens.
	key     control.Key
	control *fakepods.ControlServer
	// mutate changes the manager's options, when set.
	mutate func(*operator.Options)
	// clock is the controller's clock; it moves only when the test moves it.
	clock *countingClock
	pokes atomic.Int32
}

// countingClock is a fake clock that counts how often it is read. Every reconcile of a
// LoadTest that exists reads it exactly once, so a test can tell when the controller has
// acted on a time it set (see settle).
type countingClock struct {
	*clocktesting.FakeClock
	reads atomic.Int64
}

func (c *countingClock) Now() time.Time {
	c.reads.Add(1)
	return c.FakeClock.Now()
}

func (c *countingClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// clockStart is where a test's clock starts: now, with a fraction of a second that shows
// whether sub-second precision survives.
func clockStart() time.Time {
	return time.Now().Truncate(time.Second).Add(123456789 * time.Nanosecond)
}

var (
	namespaceSeq atomic.Int32
	// addresses are the fake pods' addresses, 127.0.1.x, apart from the other suites'.
	addresses = fakepods.NewAddressPool(fakepods.ControllersAddresses)
)

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, nil)
}

// newHarnessWith is newHarness with the manager's options changed by mutate.
func newHarnessWith(t *testing.T, mutate func(*operator.Options)) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	key, err := control.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{
		t: t, ctx: ctx, namespace: fmt.Sprintf("test-%d", namespaceSeq.Add(1)), key: key, control: fakepods.NewControlServer(key), mutate: mutate,
		clock: &countingClock{FakeClock: clocktesting.NewFakeClock(clockStart())},
	}
	t.Cleanup(func() {
		_ = h.control.Close()
		if n := h.control.Refused(); n > 0 {
			t.Errorf("the fake pods refused %d control calls that did not carry their run's token", n)
		}
	})
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: h.namespace}}); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	if err := k8s.Create(ctx, fakepods.SamplesConfigMap(h.namespace)); err != nil {
		t.Fatalf("creating the sample ConfigMap: %v", err)
	}
	h.startManager()
	t.Cleanup(h.stopManager)
	return h
}

func (h *harness) startManager() {
	h.t.Helper()
	opts := operator.Options{
		ControlKey:      h.key,
		MetricsAddr:     "0",
		ProbeAddr:       "0",
		PodImage:        "streamreplay:test",
		StartLead:       300 * time.Millisecond,
		SignalTimeout:   500 * time.Millisecond,
		Namespaces:      []string{h.namespace},
		ManagerSettings: fakepods.SeveralManagers,
		Clock:           h.clock,
	}
	if h.mutate != nil {
		h.mutate(&opts)
	}
	mgr, err := operator.New(restConfig, opts)
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

// setClock moves the controller's clock to t.
func (h *harness) setClock(t time.Time) {
	h.clock.SetTime(t)
}

// settle waits until the controller has reconciled the LoadTest name at least once from
// start to end since the call: it pokes the LoadTest (an annotation change wakes the
// controller) until the clock was read twice more. Reconciles of one LoadTest run one at a
// time, so the first of those reads belongs to a reconcile that has ended by the second.
func (h *harness) settle(name string) {
	h.t.Helper()
	for range 2 {
		before := h.clock.reads.Load()
		h.poke(name)
		fakepods.Eventually(h.t, "a reconcile of "+name, 10*time.Second, func() error {
			if h.clock.reads.Load() == before {
				return fmt.Errorf("no reconcile since the poke")
			}
			return nil
		})
	}
}

// poke changes an annotation of the LoadTest, which makes the controller reconcile it.
func (h *harness) poke(name string) {
	h.t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"test.streamreplay.io/poke":"%d"}}}`, h.pokes.Add(1))
	lt := &streamreplayv1alpha1.LoadTest{ObjectMeta: metav1.ObjectMeta{Namespace: h.namespace, Name: name}}
	if err := k8s.Patch(h.ctx, lt, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		h.t.Fatalf("poking LoadTest %s: %v", name, err)
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

// waitPhase waits (10s at most) for a phase and returns the LoadTest as it then is.
func (h *harness) waitPhase(name string, phase streamreplayv1alpha1.Phase) *streamreplayv1alpha1.LoadTest {
	h.t.Helper()
	var lt *streamreplayv1alpha1.LoadTest
	fakepods.Eventually(h.t, "phase "+string(phase), 10*time.Second, func() error {
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
	fakepods.Eventually(h.t, fmt.Sprintf("%d pods", n), 10*time.Second, func() error {
		pods = h.pods(name)
		if len(pods) != n {
			return fmt.Errorf("%d pods", len(pods))
		}
		return nil
	})
	return pods
}

// serveControl plays a new pod's control port, on an address of its own.
func (h *harness) serveControl() string {
	h.t.Helper()
	ip := addresses.Next()
	if err := h.control.Serve(ip); err != nil {
		h.t.Fatal(err)
	}
	return ip
}

// markReady plays the kubelet: the pod runs on ip and passes its readiness probe.
func (h *harness) markReady(pod *corev1.Pod, ip string) {
	h.t.Helper()
	if err := fakepods.MarkReady(h.ctx, k8s, pod, ip); err != nil {
		h.t.Fatal(err)
	}
}

// markTerminated plays the kubelet: the container exited with code and its termination message.
func (h *harness) markTerminated(podName string, code int32, message string) {
	h.t.Helper()
	if err := fakepods.MarkTerminated(h.ctx, k8s, h.namespace, podName, code, message); err != nil {
		h.t.Fatal(err)
	}
}

// readyAll makes every pod of the test Ready, each on its own address where the
// harness's control server answers; it returns the address of each pod by name.
func (h *harness) readyAll(name string, n int) map[string]string {
	h.t.Helper()
	ips := map[string]string{}
	for _, pod := range h.waitPods(name, n) {
		ips[pod.Name] = h.serveControl()
		h.markReady(&pod, ips[pod.Name])
	}
	return ips
}

// report is a pod's termination message, from fakepods.WorkerReport or ObserverReport.
func (h *harness) report(message string, err error) string {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
	return message
}
