package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/test/fakepods"
)

// serveStatuses makes every pod of the run answer /status: the workers with scheduled
// and failed records each, the observer with dlq dead letters.
func (h *harness) serveStatuses(lt *streamreplayv1alpha1.LoadTest, ips map[string]string, scheduled, failed, dlq int64) {
	h.t.Helper()
	for name, ip := range ips {
		st := control.Status{RunID: string(lt.UID), Phase: "running"}
		if name == controllers.ObserverPodName(lt) {
			st.Observer = &control.ObserverStatus{DeadLetters: &dlq}
		} else {
			st.Worker = &control.WorkerStatus{Scheduled: scheduled, Acked: scheduled / 2, Failed: failed}
		}
		h.control.SetStatus(ip, st)
	}
}

// TestEarlyStopEndsFailedNamingTheThreshold: a run with spec.earlyStop whose observer
// counts dead letters over maxDLQRecords is stopped (every pod gets /stop) and ends Failed,
// saying it stopped early, when and on which threshold: in the EarlyStopped condition, the
// message, an event and the results ConfigMap.
func TestEarlyStopEndsFailedNamingTheThreshold(t *testing.T) {
	h := newHarness(t)
	lt := newLoadTest("early-stop", 2)
	lt.Spec.Duration.Duration = time.Hour
	lt.Spec.EarlyStop = &streamreplayv1alpha1.EarlyStop{}
	running, ips := h.startRun(lt)
	h.setClock(running.Status.StartTime.Add(20 * time.Second))
	h.serveStatuses(running, ips, 1_800_000, 0, 3)

	fakepods.Eventually(t, "every pod got /stop", 10*time.Second, func() error {
		for name, ip := range ips {
			if len(h.control.StopCalls(ip)) == 0 {
				return fmt.Errorf("pod %s got no /stop", name)
			}
		}
		return nil
	})
	stopping := h.get(running.Name)
	c := meta.FindStatusCondition(stopping.Status.Conditions, streamreplayv1alpha1.ConditionEarlyStopped)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != "MaxDLQRecords" || c.ObservedGeneration != stopping.Generation {
		t.Fatalf("EarlyStopped = %+v, want True with reason MaxDLQRecords for the current generation", c)
	}
	h.waitWarning(running.UID, controllers.ReasonEarlyStopped, "stopped early at +20s on maxDLQRecords", "3 dead letters > 0")

	h.finishRun(running, fakepods.Worker{Scheduled: 20_000, Acked: 20_000, Latencies: []time.Duration{5 * time.Millisecond}, Stopped: true}, 3)
	done := h.waitPhase(running.Name, streamreplayv1alpha1.PhaseFailed)
	if done.Status.Verdict != streamreplayv1alpha1.VerdictFail {
		t.Errorf("verdict = %q, want Fail", done.Status.Verdict)
	}
	expectMessage(t, done, "stopped early at +20s on maxDLQRecords: 3 dead letters > 0", "maxDLQRecords: measured 3, limit 0")
	failed := map[string]bool{}
	for _, check := range done.Status.Thresholds {
		failed[check.Name] = !check.Passed
	}
	if !failed["maxDLQRecords"] {
		t.Errorf("threshold checks %+v: maxDLQRecords is not failed", done.Status.Thresholds)
	}
	if diff := cmp.Diff(map[string]string{"Reconciling": "False", "Ready": "False", "Stalled": "True"}, kstatusConditions(done)); diff != "" {
		t.Errorf("conditions after an early stop (-want +got):\n%s", diff)
	}
	if r := meta.FindStatusCondition(done.Status.Conditions, streamreplayv1alpha1.ConditionReady); r == nil || r.Reason != controllers.ReasonEarlyStopped {
		t.Errorf("Ready = %+v, want reason %s", r, controllers.ReasonEarlyStopped)
	}
	h.expectOutcomeInResults(done)
	var cm corev1.ConfigMap
	if err := k8s.Get(h.ctx, client.ObjectKey{Namespace: h.namespace, Name: done.Status.ResultsConfigMap}, &cm); err != nil {
		t.Fatal(err)
	}
	if summary := cm.Data[controllers.ResultsKeySummary]; !strings.Contains(summary, "stopped early at +20s on maxDLQRecords") {
		t.Errorf("summary.txt does not say the run stopped early:\n%s", summary)
	}
}

// TestEarlyStopNeverFiresOnAHealthyRun: with spec.earlyStop and every count within the
// thresholds, the pods are polled but never stopped, and the run passes.
func TestEarlyStopNeverFiresOnAHealthyRun(t *testing.T) {
	h := newHarness(t)
	lt := newLoadTest("early-stop-healthy", 1)
	lt.Spec.EarlyStop = &streamreplayv1alpha1.EarlyStop{}
	running, ips := h.startRun(lt)
	h.setClock(running.Status.StartTime.Add(5 * time.Second))
	h.serveStatuses(running, ips, 10_000, 1, 0) // 1 failed of 10,000: within maxErrorRatio's default
	fakepods.Eventually(t, "every pod's /status read twice", 10*time.Second, func() error {
		for name, ip := range ips {
			if n := h.control.StatusReads(ip); n < 2 {
				return fmt.Errorf("pod %s: %d reads", name, n)
			}
		}
		return nil
	})
	h.finishRun(running, fakepods.Worker{Scheduled: 10_000, Acked: 10_000, Latencies: []time.Duration{5 * time.Millisecond}}, 0)
	done := h.waitPhase(running.Name, streamreplayv1alpha1.PhasePassed)
	for name, ip := range ips {
		if calls := h.control.StopCalls(ip); len(calls) != 0 {
			t.Errorf("pod %s got /stop on a healthy run", name)
		}
	}
	if c := meta.FindStatusCondition(done.Status.Conditions, streamreplayv1alpha1.ConditionEarlyStopped); c != nil {
		t.Errorf("EarlyStopped = %+v on a healthy run", c)
	}
}
