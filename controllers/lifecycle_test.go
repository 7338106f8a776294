package controllers_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/test/fakepods"
)

func newLoadTest(name string, workers int32) *streamreplayv1alpha1.LoadTest {
	lt := fakepods.NewLoadTest(name, workers, 1000)
	lt.Spec.Timeouts = streamreplayv1alpha1.Timeouts{Start: &metav1.Duration{Duration: 2 * time.Second}}
	return lt
}

// startRun creates the LoadTest, plays the kubelet until every pod is Ready and waits
// until every pod accepted the start signal.
// It returns the LoadTest and the address of each pod by name.
func (h *harness) startRun(lt *streamreplayv1alpha1.LoadTest) (*streamreplayv1alpha1.LoadTest, map[string]string) {
	h.t.Helper()
	h.create(lt)
	pods := int(lt.Spec.Workers) + 1
	h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseStarting)
	ips := h.readyAll(lt.Name, pods)
	var running *streamreplayv1alpha1.LoadTest
	fakepods.Eventually(h.t, "every pod started", 10*time.Second, func() error {
		running = h.get(lt.Name)
		if !meta.IsStatusConditionTrue(running.Status.Conditions, streamreplayv1alpha1.ConditionStarted) {
			return fmt.Errorf("phase %s, message %q", running.Status.Phase, running.Status.Message)
		}
		return nil
	})
	return running, ips
}

// finishRun plays the kubelet: every worker ends with the given results (Pod and Index
// set for each), the observer having found dlq records in the DLQ.
func (h *harness) finishRun(lt *streamreplayv1alpha1.LoadTest, worker fakepods.Worker, dlq int64) {
	h.t.Helper()
	for i := range int(lt.Spec.Workers) {
		worker.Pod, worker.Index = controllers.WorkerPodName(lt, int32(i)), i
		h.markTerminated(worker.Pod, 0, h.report(fakepods.WorkerReport(lt, worker)))
	}
	observer := controllers.ObserverPodName(lt)
	h.markTerminated(observer, 0, h.report(fakepods.ObserverReport(lt, observer, dlq)))
}

// expectOutcomeInResults checks that the results ConfigMap of a finished LoadTest ends
// with its phase, verdict and message, and no longer says the test has not finished.
func (h *harness) expectOutcomeInResults(done *streamreplayv1alpha1.LoadTest) {
	h.t.Helper()
	var cm corev1.ConfigMap
	if err := k8s.Get(h.ctx, client.ObjectKey{Namespace: h.namespace, Name: done.Status.ResultsConfigMap}, &cm); err != nil {
		h.t.Fatalf("results ConfigMap %q of a finished LoadTest: %v", done.Status.ResultsConfigMap, err)
	}
	summary := cm.Data[controllers.ResultsKeySummary]
	want := fmt.Sprintf("phase       %s\nverdict     %s\nmessage     %s\n", done.Status.Phase, done.Status.Verdict, done.Status.Message)
	if !strings.HasSuffix(summary, want) {
		h.t.Errorf("summary.txt does not end with the outcome %q:\n%s", want, summary)
	}
	if strings.Contains(summary, "not finished") {
		h.t.Errorf("summary.txt of a finished test says it has not finished:\n%s", summary)
	}
}

func conditionStatus(lt *streamreplayv1alpha1.LoadTest, conditionType string) string {
	c := meta.FindStatusCondition(lt.Status.Conditions, conditionType)
	if c == nil {
		return "absent"
	}
	if c.ObservedGeneration != lt.Generation {
		return fmt.Sprintf("%s (observedGeneration %d of %d)", c.Status, c.ObservedGeneration, lt.Generation)
	}
	return string(c.Status)
}

// kstatusConditions is what Flux and Argo CD read.
func kstatusConditions(lt *streamreplayv1alpha1.LoadTest) map[string]string {
	return map[string]string{
		"Reconciling": conditionStatus(lt, streamreplayv1alpha1.ConditionReconciling),
		"Ready":       conditionStatus(lt, streamreplayv1alpha1.ConditionReady),
		"Stalled":     conditionStatus(lt, streamreplayv1alpha1.ConditionStalled),
	}
}

func TestPassingRun(t *testing.T) {
	h := newHarness(t)
	lt := newLoadTest("crm-peak", 3)

	h.create(lt)
	starting := h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseStarting)
	if diff := cmp.Diff(map[string]string{"Reconciling": "True", "Ready": "False", "Stalled": "False"}, kstatusConditions(starting)); diff != "" {
		t.Errorf("conditions while starting (-want +got):\n%s", diff)
	}
	pods := h.waitPods(lt.Name, 4)
	for _, pod := range pods {
		owner := metav1.GetControllerOf(&pod)
		if owner == nil || owner.UID != starting.UID {
			t.Errorf("pod %s is not controlled by the LoadTest: %v", pod.Name, owner)
		}
	}
	var cm corev1.ConfigMap
	if err := k8s.Get(h.ctx, client.ObjectKey{Namespace: h.namespace, Name: "crm-peak-results"}, &cm); err != nil {
		t.Fatalf("results ConfigMap: %v", err)
	}

	ips := h.readyAll(lt.Name, 4)
	running := h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseRunning)
	if running.Status.StartTime == nil {
		t.Fatal("status.startTime is not set while Running")
	}
	fakepods.Eventually(t, "every pod got the start time", 10*time.Second, func() error {
		for name, ip := range ips {
			calls := h.control.StartCalls(ip)
			if len(calls) == 0 {
				return fmt.Errorf("pod %s got no /start", name)
			}
			if !calls[0].StartTime.Equal(running.Status.StartTime.Time) || calls[0].RunID != string(running.UID) {
				return fmt.Errorf("pod %s got %+v, want start %s run %s", name, calls[0], running.Status.StartTime, running.UID)
			}
		}
		return nil
	})

	h.finishRun(running, fakepods.Worker{Scheduled: 3334, Acked: 3334, Latencies: []time.Duration{20 * time.Millisecond}}, 0)
	done := h.waitPhase(lt.Name, streamreplayv1alpha1.PhasePassed)

	if done.Status.Verdict != streamreplayv1alpha1.VerdictPass {
		t.Errorf("verdict = %q, want Pass", done.Status.Verdict)
	}
	if diff := cmp.Diff(map[string]string{"Reconciling": "False", "Ready": "True", "Stalled": "False"}, kstatusConditions(done)); diff != "" {
		t.Errorf("conditions after passing (-want +got):\n%s", diff)
	}
	got := done.Status.Results
	if got == nil || got.Acknowledged != 3*3334 || got.Scheduled != 3*3334 || got.Errors != 0 || got.DLQRecords == nil || *got.DLQRecords != 0 {
		t.Errorf("results summary = %+v, want 10002 scheduled and acknowledged, no errors, 0 DLQ", got)
	}
	if got != nil && got.P99Latency != "20ms" {
		t.Errorf("p99 = %q, want 20ms", got.P99Latency)
	}
	// The spec's three, and maxErrorRatio, which admission defaults.
	if len(done.Status.Thresholds) != 4 {
		t.Errorf("thresholds = %+v, want 4 checks", done.Status.Thresholds)
	}
	for _, c := range done.Status.Thresholds {
		if !c.Passed {
			t.Errorf("threshold %s failed in a passing run: %+v", c.Name, c)
		}
	}

	if err := k8s.Get(h.ctx, client.ObjectKey{Namespace: h.namespace, Name: "crm-peak-results"}, &cm); err != nil {
		t.Fatalf("results ConfigMap: %v", err)
	}
	var doc results.Document
	if err := json.Unmarshal([]byte(cm.Data[controllers.ResultsKeyJSON]), &doc); err != nil {
		t.Fatalf("results.json is not a results document: %v", err)
	}
	if doc.Totals.Acked != 3*3334 || len(doc.Workers) != 3 || doc.RunID != string(done.UID) {
		t.Errorf("results document totals %+v, %d workers, run %q", doc.Totals, len(doc.Workers), doc.RunID)
	}
	if !strings.Contains(cm.Data[controllers.ResultsKeySummary], "acked 10,002") {
		t.Errorf("summary.txt does not show the 10,002 acknowledged records:\n%s", cm.Data[controllers.ResultsKeySummary])
	}
	h.expectOutcomeInResults(done)
	if doc.DLQ == nil || doc.DLQ.Records != 0 {
		t.Errorf("DLQ in document = %+v, want 0 records", doc.DLQ)
	}

	// Each phase change and the start signal leave an event on the LoadTest.
	fakepods.Eventually(t, "events for every step", 10*time.Second, func() error {
		var list eventsv1.EventList
		if err := k8s.List(h.ctx, &list, client.InNamespace(h.namespace)); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, e := range list.Items {
			if e.Regarding.UID == done.UID {
				seen[e.Reason] = true
			}
		}
		for _, reason := range []string{"Starting", "Running", "Started", "Passed"} {
			if !seen[reason] {
				return fmt.Errorf("no %s event; seen %v", reason, seen)
			}
		}
		return nil
	})
}

func TestFailingRunNamesThresholds(t *testing.T) {
	h := newHarness(t)
	running, _ := h.startRun(newLoadTest("slow-pipeline", 2))

	h.finishRun(running, fakepods.Worker{Scheduled: 5000, Acked: 5000, Latencies: []time.Duration{400 * time.Millisecond}}, 17)
	done := h.waitPhase(running.Name, streamreplayv1alpha1.PhaseFailed)

	if done.Status.Verdict != streamreplayv1alpha1.VerdictFail {
		t.Errorf("verdict = %q, want Fail", done.Status.Verdict)
	}
	for _, want := range []string{"maxP99Latency: measured 400ms, limit 250ms", "maxDLQRecords: measured 17, limit 0"} {
		if !strings.Contains(done.Status.Message, want) {
			t.Errorf("message %q does not contain %q", done.Status.Message, want)
		}
		ready := meta.FindStatusCondition(done.Status.Conditions, streamreplayv1alpha1.ConditionReady)
		if ready == nil || !strings.Contains(ready.Message, want) {
			t.Errorf("Ready condition %+v does not contain %q", ready, want)
		}
	}
	if strings.Contains(done.Status.Message, "minAchievedRateRatio") {
		t.Errorf("message names a threshold that passed: %q", done.Status.Message)
	}
	passed := map[string]bool{}
	for _, c := range done.Status.Thresholds {
		passed[c.Name] = c.Passed
	}
	want := map[string]bool{"minAchievedRateRatio": true, "maxErrorRatio": true, "maxDLQRecords": false, "maxP99Latency": false}
	if diff := cmp.Diff(want, passed); diff != "" {
		t.Errorf("status.thresholds[].passed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"Reconciling": "False", "Ready": "False", "Stalled": "True"}, kstatusConditions(done)); diff != "" {
		t.Errorf("conditions after failing (-want +got):\n%s", diff)
	}
}

// TestDrainingWhileTheObserverReads: once every worker ended, the run is Draining, still
// in progress for kstatus, until the observer ends too.
func TestDrainingWhileTheObserverReads(t *testing.T) {
	h := newHarness(t)
	running, _ := h.startRun(newLoadTest("drains", 2))
	report := func(i int32) string {
		pod := controllers.WorkerPodName(running, i)
		return h.report(fakepods.WorkerReport(running, fakepods.Worker{Pod: pod, Index: int(i), Scheduled: 5000, Acked: 5000, Latencies: []time.Duration{10 * time.Millisecond}}))
	}
	h.markTerminated("drains-worker-0", 0, report(0))
	h.settle(running.Name)
	if got := h.get(running.Name).Status.Phase; got != streamreplayv1alpha1.PhaseRunning {
		t.Fatalf("phase %s with a worker still running, want Running", got)
	}
	h.markTerminated("drains-worker-1", 0, report(1))
	draining := h.waitPhase(running.Name, streamreplayv1alpha1.PhaseDraining)
	if diff := cmp.Diff(map[string]string{"Reconciling": "True", "Ready": "False", "Stalled": "False"}, kstatusConditions(draining)); diff != "" {
		t.Errorf("conditions while draining (-want +got):\n%s", diff)
	}
	if draining.Status.Verdict != "" || draining.Status.CompletionTime != nil {
		t.Errorf("a draining run has verdict %q and completionTime %v", draining.Status.Verdict, draining.Status.CompletionTime)
	}
	h.markTerminated("drains-observer", 0, h.report(fakepods.ObserverReport(running, "drains-observer", 0)))
	h.waitPhase(running.Name, streamreplayv1alpha1.PhasePassed)
}

func TestPodFailureEndsInError(t *testing.T) {
	h := newHarness(t)
	lt := newLoadTest("bad-samples", 2)
	h.create(lt)
	h.waitPods(lt.Name, 3)

	h.markTerminated("bad-samples-worker-1", 1, "samples: line 12: invalid JSON: unexpected end of input")
	done := h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseError)

	for _, want := range []string{"bad-samples-worker-1", "exit code 1", "line 12: invalid JSON"} {
		if !strings.Contains(done.Status.Message, want) {
			t.Errorf("message %q does not contain %q", done.Status.Message, want)
		}
	}
	if done.Status.Verdict != streamreplayv1alpha1.VerdictInconclusive {
		t.Errorf("verdict = %q, want Inconclusive", done.Status.Verdict)
	}
	if diff := cmp.Diff(map[string]string{"Reconciling": "False", "Ready": "False", "Stalled": "True"}, kstatusConditions(done)); diff != "" {
		t.Errorf("conditions after error (-want +got):\n%s", diff)
	}
	h.expectOutcomeInResults(done)
	// The pods still running would load the pipeline for nothing: they are deleted.
	fakepods.Eventually(t, "running pods deleted", 10*time.Second, func() error {
		for _, pod := range h.pods(lt.Name) {
			if pod.Name != "bad-samples-worker-1" && pod.DeletionTimestamp == nil {
				return fmt.Errorf("pod %s still exists", pod.Name)
			}
		}
		return nil
	})
}

func TestPodDeletedMidRun(t *testing.T) {
	h := newHarness(t)
	running, _ := h.startRun(newLoadTest("lost-pod", 2))

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: h.namespace, Name: "lost-pod-worker-0"}}
	if err := k8s.Delete(h.ctx, pod, client.GracePeriodSeconds(0)); err != nil {
		t.Fatalf("deleting pod: %v", err)
	}
	done := h.waitPhase(running.Name, streamreplayv1alpha1.PhaseError)
	if !strings.Contains(done.Status.Message, "pod lost-pod-worker-0") || !strings.Contains(done.Status.Message, "deleted") {
		t.Errorf("message %q does not name the deleted pod", done.Status.Message)
	}
	if c := meta.FindStatusCondition(done.Status.Conditions, streamreplayv1alpha1.ConditionStalled); c == nil || c.Reason != "PodLost" {
		t.Errorf("Stalled condition = %+v, want reason PodLost", c)
	}
}

// TestStartTimeoutNamesPodAndNetworkPolicy: a pod that cannot be reached fails the run
// exactly timeouts.start after the start time was fixed (startTime − startLead), not before.
func TestStartTimeoutNamesPodAndNetworkPolicy(t *testing.T) {
	h := newHarness(t)
	lt := newLoadTest("unreachable", 2)
	lt.Spec.Timeouts.Start = &metav1.Duration{Duration: 7 * time.Second}
	h.create(lt)
	pods := h.waitPods(lt.Name, 3)
	var reached string
	for _, pod := range pods {
		ip := h.serveControl()
		if pod.Name == "unreachable-worker-1" {
			ip = addresses.Next() // nothing listens there, as when a NetworkPolicy drops the traffic
		} else {
			reached = ip
		}
		h.markReady(&pod, ip)
	}
	running := h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseRunning)
	deadline := running.Status.StartTime.Add(-300 * time.Millisecond).Add(7 * time.Second)

	h.setClock(deadline.Add(-time.Microsecond))
	h.settle(lt.Name)
	if got := h.get(lt.Name); got.Status.Phase != streamreplayv1alpha1.PhaseRunning {
		t.Fatalf("phase %s a microsecond before the start timeout (message %q), want Running", got.Status.Phase, got.Status.Message)
	}
	if len(h.control.StartCalls(reached)) < 2 {
		t.Errorf("the start signal was not sent again while a pod was unreachable")
	}

	h.setClock(deadline)
	h.poke(lt.Name)
	done := h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseError)
	for _, want := range []string{"unreachable-worker-1", "start signal within 7s", "NetworkPolicy", "9400"} {
		if !strings.Contains(done.Status.Message, want) {
			t.Errorf("message %q does not contain %q", done.Status.Message, want)
		}
	}
	if strings.Contains(done.Status.Message, "unreachable-worker-0") {
		t.Errorf("message names a pod that was reached: %q", done.Status.Message)
	}
}

// TestPodsNeverReady: pods not Ready fail the run exactly timeouts.podsReady after the
// LoadTest's creation, naming the pod and what it waits for.
func TestPodsNeverReady(t *testing.T) {
	h := newHarness(t)
	lt := newLoadTest("never-ready", 1)
	lt.Spec.Timeouts.PodsReady = &metav1.Duration{Duration: 5 * time.Second}
	h.create(lt)
	pods := h.waitPods(lt.Name, 2)
	h.markReady(&pods[0], h.serveControl())
	other := pods[1].Name
	if err := fakepods.UpdateStatus(h.ctx, k8s, &pods[1], func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodPending
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: "replay", Image: p.Spec.Containers[0].Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: `Back-off pulling image "streamreplay:test"`}},
		}}
	}); err != nil {
		t.Fatal(err)
	}
	// What the pod waits for shows while it waits, not only at the timeout.
	fakepods.Eventually(t, "the waiting reason in the message", 10*time.Second, func() error {
		if msg := h.get(lt.Name).Status.Message; !strings.Contains(msg, `ImagePullBackOff: Back-off pulling image "streamreplay:test"`) {
			return fmt.Errorf("message %q does not say what the pod waits for", msg)
		}
		return nil
	})
	deadline := h.get(lt.Name).CreationTimestamp.Add(5 * time.Second)

	h.setClock(deadline.Add(-time.Millisecond))
	h.settle(lt.Name)
	if waiting := h.get(lt.Name); waiting.Status.Phase != streamreplayv1alpha1.PhaseStarting {
		t.Fatalf("phase %s a millisecond before the podsReady timeout (message %q), want Starting", waiting.Status.Phase, waiting.Status.Message)
	}

	h.setClock(deadline)
	h.poke(lt.Name)
	done := h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseError)
	for _, want := range []string{other, "ImagePullBackOff", "not Ready within 5s"} {
		if !strings.Contains(done.Status.Message, want) {
			t.Errorf("message %q does not contain %q", done.Status.Message, want)
		}
	}
}

func TestStopRequestAbortsWithPartialResults(t *testing.T) {
	h := newHarness(t)
	running, ips := h.startRun(newLoadTest("stop-early", 2))

	patch := client.MergeFrom(running.DeepCopy())
	running.Spec.Stop = true
	if err := k8s.Patch(h.ctx, running, patch); err != nil {
		t.Fatalf("requesting stop: %v", err)
	}
	fakepods.Eventually(t, "every pod got /stop", 10*time.Second, func() error {
		for name, ip := range ips {
			if len(h.control.StopCalls(ip)) == 0 {
				return fmt.Errorf("pod %s got no /stop", name)
			}
		}
		return nil
	})
	h.finishRun(running, fakepods.Worker{Scheduled: 1200, Acked: 1200, Latencies: []time.Duration{5 * time.Millisecond}, Stopped: true}, 0)
	done := h.waitPhase(running.Name, streamreplayv1alpha1.PhaseAborted)

	if done.Status.Verdict != streamreplayv1alpha1.VerdictInconclusive {
		t.Errorf("verdict = %q, want Inconclusive", done.Status.Verdict)
	}
	if done.Status.Results == nil || done.Status.Results.Acknowledged != 2400 {
		t.Errorf("partial results = %+v, want 2400 acknowledged", done.Status.Results)
	}
	if !strings.Contains(done.Status.Message, "partial") {
		t.Errorf("message %q does not say the results are partial", done.Status.Message)
	}
	if diff := cmp.Diff(map[string]string{"Reconciling": "False", "Ready": "False", "Stalled": "True"}, kstatusConditions(done)); diff != "" {
		t.Errorf("conditions after abort (-want +got):\n%s", diff)
	}
}

func TestControllerRestartMidRun(t *testing.T) {
	h := newHarness(t)
	running, ips := h.startRun(newLoadTest("restart", 2))
	uids := map[string]string{}
	for _, pod := range h.pods(running.Name) {
		uids[pod.Name] = string(pod.UID)
	}

	h.stopManager()
	h.startManager()
	h.finishRun(running, fakepods.Worker{Scheduled: 5000, Acked: 5000, Latencies: []time.Duration{10 * time.Millisecond}}, 0)
	done := h.waitPhase(running.Name, streamreplayv1alpha1.PhasePassed)

	if !done.Status.StartTime.Time.Equal(running.Status.StartTime.Time) {
		t.Errorf("start time changed across the restart: %s, then %s", running.Status.StartTime, done.Status.StartTime)
	}
	after := map[string]string{}
	for _, pod := range h.pods(running.Name) {
		after[pod.Name] = string(pod.UID)
	}
	if diff := cmp.Diff(uids, after); diff != "" {
		t.Errorf("pods changed across the restart (-before +after):\n%s", diff)
	}
	for name, ip := range ips {
		for _, call := range h.control.StartCalls(ip) {
			if !call.StartTime.Equal(running.Status.StartTime.Time) {
				t.Errorf("pod %s got a different start time %s after the restart", name, call.StartTime)
			}
		}
	}
}

func TestBadResultsEndInError(t *testing.T) {
	h := newHarness(t)
	running, _ := h.startRun(newLoadTest("garbled", 1))

	h.markTerminated("garbled-worker-0", 0, `{"v":1,"role":"worker"`)
	h.markTerminated("garbled-observer", 0, h.report(fakepods.ObserverReport(running, "garbled-observer", 0)))
	done := h.waitPhase(running.Name, streamreplayv1alpha1.PhaseError)
	if !strings.Contains(done.Status.Message, "pod garbled-worker-0 reported bad results") {
		t.Errorf("message %q does not name the pod with bad results", done.Status.Message)
	}
}

func TestCleanupAfterTTL(t *testing.T) {
	h := newHarness(t)
	lt := newLoadTest("cleanup", 1)
	lt.Spec.Cleanup = streamreplayv1alpha1.Cleanup{Policy: streamreplayv1alpha1.CleanupOnSuccess, TTLSecondsAfterFinished: ptr.To[int32](2)}
	running, _ := h.startRun(lt)
	h.finishRun(running, fakepods.Worker{Scheduled: 1000, Acked: 1000, Latencies: []time.Duration{time.Millisecond}}, 0)
	done := h.waitPhase(lt.Name, streamreplayv1alpha1.PhasePassed)

	expiry := done.Status.CompletionTime.Add(2 * time.Second)
	h.setClock(expiry.Add(-time.Millisecond))
	h.settle(lt.Name)
	if n := len(h.pods(lt.Name)); n != 2 {
		t.Errorf("%d pods a millisecond before the TTL, want both kept until the TTL", n)
	}
	h.setClock(expiry)
	h.poke(lt.Name)
	fakepods.Eventually(t, "pods deleted after the TTL", 10*time.Second, func() error {
		if n := len(h.pods(lt.Name)); n != 0 {
			return fmt.Errorf("%d pods left", n)
		}
		return nil
	})
	// The LoadTest and its results stay.
	kept := h.get(lt.Name)
	if kept.Status.Phase != streamreplayv1alpha1.PhasePassed || kept.Status.Results == nil {
		t.Errorf("LoadTest after cleanup: phase %q results %+v", kept.Status.Phase, kept.Status.Results)
	}
	var cm corev1.ConfigMap
	if err := k8s.Get(h.ctx, client.ObjectKey{Namespace: h.namespace, Name: "cleanup-results"}, &cm); err != nil {
		t.Errorf("results ConfigMap gone after cleanup: %v", err)
	}
}

func TestCleanupOnSuccessKeepsPodsOfFailedTest(t *testing.T) {
	h := newHarness(t)
	lt := newLoadTest("keep-failed", 1)
	lt.Spec.Cleanup = streamreplayv1alpha1.Cleanup{Policy: streamreplayv1alpha1.CleanupOnSuccess, TTLSecondsAfterFinished: ptr.To[int32](0)}
	running, _ := h.startRun(lt)
	h.finishRun(running, fakepods.Worker{Scheduled: 1000, Acked: 1000, Latencies: []time.Duration{time.Second}}, 0)
	h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseFailed)

	// A TTL of 0 would delete at once; an hour later, let the controller (wrongly) do so.
	h.setClock(h.clock.Now().Add(time.Hour))
	h.settle(lt.Name)
	if n := len(h.pods(lt.Name)); n != 2 {
		t.Errorf("%d pods of a failed test with policy OnSuccess, want both kept for debugging", n)
	}
}

func TestStopBeforeStartAborts(t *testing.T) {
	h := newHarness(t)
	lt := newLoadTest("stop-first", 1)
	lt.Spec.Stop = true
	h.create(lt)
	done := h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseAborted)
	if n := len(h.pods(lt.Name)); n != 0 {
		t.Errorf("%d pods created for a test stopped before it started", n)
	}
	if done.Status.CompletionTime == nil {
		t.Error("completionTime not set")
	}
	// status.resultsConfigMap names it, so it exists, and says how the test ended.
	h.expectOutcomeInResults(done)
	// The LoadTest is never deleted by the operator.
	if err := k8s.Get(h.ctx, client.ObjectKeyFromObject(done), &streamreplayv1alpha1.LoadTest{}); apierrors.IsNotFound(err) {
		t.Error("the LoadTest was deleted")
	}
}

func TestStopAfterTheEndIsAcknowledged(t *testing.T) {
	h := newHarness(t)
	running, _ := h.startRun(newLoadTest("late-stop", 1))
	h.finishRun(running, fakepods.Worker{Scheduled: 1000, Acked: 1000, Latencies: []time.Duration{time.Millisecond}}, 0)
	done := h.waitPhase(running.Name, streamreplayv1alpha1.PhasePassed)

	patch := client.MergeFrom(done.DeepCopy())
	done.Spec.Stop = true
	if err := k8s.Patch(h.ctx, done, patch); err != nil {
		t.Fatalf("requesting stop: %v", err)
	}
	// kstatus reads a LoadTest whose observedGeneration lags as in progress: a gate would hang.
	fakepods.Eventually(t, "the new generation observed", 10*time.Second, func() error {
		lt := h.get(running.Name)
		if lt.Status.ObservedGeneration != lt.Generation {
			return fmt.Errorf("observedGeneration %d of %d", lt.Status.ObservedGeneration, lt.Generation)
		}
		if got := kstatusConditions(lt); got["Ready"] != "True" {
			return fmt.Errorf("conditions %v", got)
		}
		if lt.Status.Phase != streamreplayv1alpha1.PhasePassed {
			return fmt.Errorf("phase changed to %s", lt.Status.Phase)
		}
		return nil
	})
}
