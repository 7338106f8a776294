//go:build linux

package config

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/operator"
	"github.com/streamreplay/streamreplay/test/fakepods"
)

// TestKstatusOfControllerRuns drives LoadTests through every phase the controller writes,
// playing the kubelet (pod status) and the pods' control port, and computes kstatus and the
// Argo CD health check on each LoadTest exactly as the API server returns it.
func TestKstatusOfControllerRuns(t *testing.T) {
	cfg, c := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := newDriver(ctx, t, c, "kstatus-runs")
	d.startManager(cfg)
	seen := map[string]*unstructured.Unstructured{}

	// A run that passes, seen in each phase on its way.
	pass := d.create(runLoadTest("passes", false))
	seen["Starting"] = d.waitPhase(pass, streamreplayv1alpha1.PhaseStarting)
	d.readyAll(pass)
	seen["Running"] = d.waitStarted(pass)
	started := d.get(pass)
	d.terminate(controllers.WorkerPodName(started, 0), 0, workerReport(t, started))
	seen["Draining"] = d.waitPhase(pass, streamreplayv1alpha1.PhaseDraining)
	d.terminate(controllers.ObserverPodName(started), 0, observerReport(t, started, 0))
	seen["Passed"] = d.waitPhase(pass, streamreplayv1alpha1.PhasePassed)

	// A stop request after the end changes the generation; the operator acknowledges it,
	// so the test reads as settled again instead of in progress for ever.
	passed := d.get(pass)
	patch := client.MergeFrom(passed.DeepCopy())
	passed.Spec.Stop = true
	if err := c.Patch(ctx, passed, patch); err != nil {
		t.Fatalf("requesting a stop after the end: %v", err)
	}
	d.eventually("the late stop request observed", func() error {
		obj := d.getUnstructured(pass)
		observed, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
		if obj.GetGeneration() < 2 || observed != obj.GetGeneration() {
			return fmt.Errorf("generation %d, observedGeneration %d", obj.GetGeneration(), observed)
		}
		seen["Passed, then stop requested"] = obj
		return nil
	})

	// A run whose records reach the DLQ (maxDLQRecords is 0).
	fail := d.create(runLoadTest("dead-letters", false))
	d.waitPhase(fail, streamreplayv1alpha1.PhaseStarting)
	d.readyAll(fail)
	d.waitStarted(fail)
	started = d.get(fail)
	d.terminate(controllers.WorkerPodName(started, 0), 0, workerReport(t, started))
	d.terminate(controllers.ObserverPodName(started), 0, observerReport(t, started, 3))
	seen["Failed"] = d.waitPhase(fail, streamreplayv1alpha1.PhaseFailed)

	// A run whose worker cannot reach Kafka.
	broken := d.create(runLoadTest("no-kafka", false))
	d.waitPhase(broken, streamreplayv1alpha1.PhaseStarting)
	d.waitPods(broken)
	d.terminate(controllers.WorkerPodName(broken, 0), 1, "connecting to kafka:9092: no such host")
	seen["Error"] = d.waitPhase(broken, streamreplayv1alpha1.PhaseError)

	// A run stopped before it started.
	seen["Aborted"] = d.waitPhase(d.create(runLoadTest("stopped", true)), streamreplayv1alpha1.PhaseAborted)

	cases := []struct {
		step    string
		kstatus status.Status
		health  string
	}{
		{"Starting", status.InProgressStatus, "Progressing"},
		{"Running", status.InProgressStatus, "Progressing"},
		{"Draining", status.InProgressStatus, "Progressing"},
		{"Passed", status.CurrentStatus, "Healthy"},
		{"Passed, then stop requested", status.CurrentStatus, "Healthy"},
		{"Failed", status.FailedStatus, "Degraded"},
		{"Error", status.FailedStatus, "Degraded"},
		{"Aborted", status.FailedStatus, "Degraded"},
	}
	script := healthScript(t)
	for _, tc := range cases {
		t.Run(tc.step, func(t *testing.T) {
			obj := seen[tc.step]
			message, _, _ := unstructured.NestedString(obj.Object, "status", "message")
			got := computeKstatus(t, obj)
			if got.Status != tc.kstatus {
				t.Errorf("kstatus = %s (%q), want %s; conditions: %v", got.Status, got.Message, tc.kstatus, conditionsOf(obj))
			}
			// Flux shows the message of the condition kstatus went by: the phase's message.
			if tc.kstatus != status.CurrentStatus && got.Message != message {
				t.Errorf("kstatus message = %q, want the status message %q", got.Message, message)
			}
			health, err := runHealthLua(script, obj.Object, false)
			if err != nil {
				t.Fatalf("health.lua: %v", err)
			}
			if health.Status != tc.health {
				t.Errorf("Argo CD health = %+v, want %s", health, tc.health)
			}
		})
	}
}

// TestKstatusBeforeTheFirstReconcile checks, on a real API server, the window before the
// operator first writes a status: both kstatus and the Argo CD health check wait.
func TestKstatusBeforeTheFirstReconcile(t *testing.T) {
	_, c := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// No manager watches this namespace.
	d := newDriver(ctx, t, c, "kstatus-new")
	obj := d.getUnstructured(d.create(runLoadTest("new", false)))

	// status.observedGeneration defaults to -1, so kstatus waits for the operator.
	if got := computeKstatus(t, obj); got.Status != status.InProgressStatus {
		t.Errorf("kstatus of a LoadTest the operator has not seen = %+v, want InProgress", got)
	}
	health, err := runHealthLua(healthScript(t), obj.Object, false)
	if err != nil {
		t.Fatal(err)
	}
	if health.Status != "Progressing" {
		t.Errorf("Argo CD health of a LoadTest without status = %+v, want Progressing", health)
	}
}

// driver plays the kubelet and the pods' control port for LoadTests in one namespace.
type driver struct {
	t         *testing.T
	ctx       context.Context
	c         client.Client
	namespace string
	key       control.Key
	control   *fakepods.ControlServer
}

func newDriver(ctx context.Context, t *testing.T, c client.Client, namespacePrefix string) *driver {
	t.Helper()
	key, err := control.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	d := &driver{t: t, ctx: ctx, c: c, namespace: createNamespace(ctx, t, c, namespacePrefix), key: key, control: fakepods.NewControlServer(key)}
	t.Cleanup(func() { _ = d.control.Close() })
	if err := c.Create(ctx, fakepods.SamplesConfigMap(d.namespace)); err != nil {
		t.Fatalf("creating the sample ConfigMap: %v", err)
	}
	return d
}

func (d *driver) startManager(cfg *rest.Config) {
	d.t.Helper()
	mgr, err := operator.New(cfg, operator.Options{
		ControlKey:      d.key,
		MetricsAddr:     "0",
		ProbeAddr:       "0",
		PodImage:        "streamreplay:test",
		StartLead:       300 * time.Millisecond,
		SignalTimeout:   500 * time.Millisecond,
		Namespaces:      []string{d.namespace},
		ManagerSettings: fakepods.SeveralManagers,
	})
	if err != nil {
		d.t.Fatalf("creating manager: %v", err)
	}
	ctx, cancel := context.WithCancel(d.ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	d.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			d.t.Errorf("manager stopped with error: %v", err)
		}
	})
}

// runLoadTest is a one-worker test with a DLQ, so it also has an observer pod.
func runLoadTest(name string, stop bool) *streamreplayv1alpha1.LoadTest {
	lt := fakepods.NewLoadTest(name, 1, 100)
	lt.Spec.Stop = stop
	return lt
}

func (d *driver) create(lt *streamreplayv1alpha1.LoadTest) *streamreplayv1alpha1.LoadTest {
	d.t.Helper()
	lt.Namespace = d.namespace
	if err := d.c.Create(d.ctx, lt); err != nil {
		d.t.Fatalf("creating LoadTest %s: %v", lt.Name, err)
	}
	return lt
}

func (d *driver) get(lt *streamreplayv1alpha1.LoadTest) *streamreplayv1alpha1.LoadTest {
	d.t.Helper()
	got := &streamreplayv1alpha1.LoadTest{}
	if err := d.c.Get(d.ctx, client.ObjectKeyFromObject(lt), got); err != nil {
		d.t.Fatalf("getting LoadTest %s: %v", lt.Name, err)
	}
	return got
}

// getUnstructured reads the LoadTest as Flux and Argo CD do: as an unstructured object.
func (d *driver) getUnstructured(lt *streamreplayv1alpha1.LoadTest) *unstructured.Unstructured {
	d.t.Helper()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(streamreplayv1alpha1.GroupVersion.WithKind("LoadTest"))
	if err := d.c.Get(d.ctx, client.ObjectKeyFromObject(lt), obj); err != nil {
		d.t.Fatalf("getting LoadTest %s: %v", lt.Name, err)
	}
	return obj
}

// eventually retries check until it succeeds or 20 seconds pass.
func (d *driver) eventually(what string, check func() error) {
	d.t.Helper()
	fakepods.Eventually(d.t, what, 20*time.Second, check)
}

// waitPhase waits for the phase and returns the LoadTest as it then is.
func (d *driver) waitPhase(lt *streamreplayv1alpha1.LoadTest, phase streamreplayv1alpha1.Phase) *unstructured.Unstructured {
	d.t.Helper()
	d.eventually(fmt.Sprintf("LoadTest %s in phase %s", lt.Name, phase), func() error {
		if got := d.get(lt).Status; got.Phase != phase {
			return fmt.Errorf("phase is %q (%s)", got.Phase, got.Message)
		}
		return nil
	})
	return d.getUnstructured(lt)
}

// waitStarted waits until every pod accepted the start time and returns the LoadTest.
func (d *driver) waitStarted(lt *streamreplayv1alpha1.LoadTest) *unstructured.Unstructured {
	d.t.Helper()
	d.eventually(fmt.Sprintf("LoadTest %s started", lt.Name), func() error {
		got := d.get(lt).Status
		if got.Phase != streamreplayv1alpha1.PhaseRunning || !meta.IsStatusConditionTrue(got.Conditions, streamreplayv1alpha1.ConditionStarted) {
			return fmt.Errorf("phase %q (%s)", got.Phase, got.Message)
		}
		return nil
	})
	return d.getUnstructured(lt)
}

// waitPods waits for the worker and the observer pod.
func (d *driver) waitPods(lt *streamreplayv1alpha1.LoadTest) []corev1.Pod {
	d.t.Helper()
	var list corev1.PodList
	d.eventually(fmt.Sprintf("the pods of LoadTest %s", lt.Name), func() error {
		if err := d.c.List(d.ctx, &list, client.InNamespace(d.namespace), client.MatchingLabels{controllers.LabelLoadTest: lt.Name}); err != nil {
			return err
		}
		if len(list.Items) != 2 {
			return fmt.Errorf("%d pods, want 2", len(list.Items))
		}
		return nil
	})
	return list.Items
}

// addresses are the fake pods' addresses, 127.88.x.y, apart from the other suites'.
var addresses = fakepods.NewAddressPool(fakepods.ConfigAddresses)

// readyAll makes every pod Ready on its own loopback address, where the driver's control
// server accepts the start and stop signals.
func (d *driver) readyAll(lt *streamreplayv1alpha1.LoadTest) {
	d.t.Helper()
	for _, pod := range d.waitPods(lt) {
		ip := addresses.Next()
		if err := d.control.Serve(ip); err != nil {
			d.t.Fatal(err)
		}
		if err := fakepods.MarkReady(d.ctx, d.c, &pod, ip); err != nil {
			d.t.Fatal(err)
		}
	}
}

// terminate ends a pod's container with an exit code and a termination message.
func (d *driver) terminate(podName string, code int32, message string) {
	d.t.Helper()
	if err := fakepods.MarkTerminated(d.ctx, d.c, d.namespace, podName, code, message); err != nil {
		d.t.Fatal(err)
	}
}

// workerReport is the termination message of a worker that sent every record on time.
func workerReport(t *testing.T, lt *streamreplayv1alpha1.LoadTest) string {
	t.Helper()
	report, err := fakepods.WorkerReport(lt, fakepods.Worker{
		Pod: controllers.WorkerPodName(lt, 0), Index: 0,
		Scheduled: 1000, Acked: 1000, Latencies: []time.Duration{5 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	return report
}

// observerReport is the termination message of an observer that found dlq records of the run.
func observerReport(t *testing.T, lt *streamreplayv1alpha1.LoadTest, dlq int64) string {
	t.Helper()
	report, err := fakepods.ObserverReport(lt, controllers.ObserverPodName(lt), dlq)
	if err != nil {
		t.Fatal(err)
	}
	return report
}

// conditionsOf lists the kstatus conditions of an object for failure messages.
func conditionsOf(obj *unstructured.Unstructured) []string {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	out := make([]string, 0, len(conds))
	for _, c := range conds {
		m, _ := c.(map[string]any)
		out = append(out, fmt.Sprintf("%v=%v (%v, generation %v)", m["type"], m["status"], m["reason"], m["observedGeneration"]))
	}
	return out
}
