package controllers

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/earlystop"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
)

func TestEarlyStopPlan(t *testing.T) {
	if p := earlyStopPlan(&loadTest(testName).Obj().Spec); p != nil {
		t.Errorf("without spec.earlyStop the observer's plan has early stop %+v", p)
	}
	// The window left out: the CRD's default, which is the observer's own.
	lt := loadTest(testName).EarlyStop(streamreplayv1alpha1.EarlyStop{}).
		Thresholds(streamreplayv1alpha1.Thresholds{MaxConsumerLag: ptr.To[int64](1000), MaxEndToEndP99Latency: dur(2 * time.Second)}).Obj()
	want := &plan.EarlyStop{Window: metav1.Duration{Duration: earlystop.DefaultWindow}, MaxConsumerLag: ptr.To[int64](1000), MaxEndToEndP99: &metav1.Duration{Duration: 2 * time.Second}}
	if diff := cmp.Diff(want, earlyStopPlan(&lt.Spec)); diff != "" {
		t.Errorf("early stop plan (-want +got):\n%s", diff)
	}
	lt.Spec.EarlyStop.Window = dur(30 * time.Second)
	if got := earlyStopPlan(&lt.Spec).Window.Duration; got != 30*time.Second {
		t.Errorf("window = %s, want the spec's 30s", got)
	}
	obs := BuildPlan(lt, results.RoleObserver, 0)
	if obs.EarlyStop == nil || BuildPlan(lt, results.RoleWorker, 0).EarlyStop != nil {
		t.Errorf("only the observer's plan carries the early stop: observer %+v", obs.EarlyStop)
	}
}

func TestDecideEarlyStop(t *testing.T) {
	lt := loadTest(testName).Workers(2).DLQ("dlq").Thresholds(streamreplayv1alpha1.Thresholds{
		MaxErrorRatio: ptr.To("0.01"), MaxDLQRecords: ptr.To[int64](5), MaxEndToEndP99Latency: dur(time.Second),
	}).Obj()
	ms := members(lt, nil)
	worker := func(scheduled, failed int64) *control.Status {
		return &control.Status{Worker: &control.WorkerStatus{Scheduled: scheduled, Failed: failed}}
	}
	observer := func(dlq, over int64, b *earlystop.Breach) *control.Status {
		return &control.Status{Observer: &control.ObserverStatus{DeadLetters: &dlq, EndToEndOver: &over, Breach: b}}
	}
	w0, w1, obs := WorkerPodName(lt, 0), WorkerPodName(lt, 1), ObserverPodName(lt)
	lagBreach := &earlystop.Breach{Threshold: "maxConsumerLag", At: 16 * time.Second, Message: "stopped early at +16s on maxConsumerLag: lag 3200 > 1000"}
	for _, tc := range []struct {
		name     string
		statuses map[string]*control.Status
		want     string // the threshold, "" for none
	}{
		{"all within", map[string]*control.Status{w0: worker(1000, 5), w1: worker(1000, 5), obs: observer(5, 20, nil)}, ""},
		// 21 failed of 2000 scheduled: the final ratio can only be over 1%.
		{"failed over the ratio of the run", map[string]*control.Status{w0: worker(1000, 20), w1: worker(1000, 1), obs: observer(0, 0, nil)}, "maxErrorRatio"},
		{"a worker's count missing: no guess", map[string]*control.Status{w0: worker(1000, 21), obs: observer(0, 0, nil)}, ""},
		{"a worker not started yet: no guess", map[string]*control.Status{w0: worker(1000, 21), w1: worker(0, 0), obs: observer(0, 0, nil)}, ""},
		{"dead letters over the limit", map[string]*control.Status{w0: worker(1000, 0), w1: worker(1000, 0), obs: observer(6, 0, nil)}, "maxDLQRecords"},
		{"dead letters without the workers", map[string]*control.Status{obs: observer(6, 0, nil)}, "maxDLQRecords"},
		{"end to end over for 1% of the run", map[string]*control.Status{w0: worker(1000, 0), w1: worker(1000, 0), obs: observer(0, 21, nil)}, "maxEndToEndP99Latency"},
		{"the observer's lag breach", map[string]*control.Status{obs: observer(0, 0, lagBreach)}, "maxConsumerLag"},
		{"nothing read", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := decideEarlyStop(&lt.Spec, ms, tc.statuses, 20*time.Second)
			got := ""
			if b != nil {
				got = b.Threshold
				if !strings.Contains(b.Message, "stopped early at +") || !strings.Contains(b.Message, got) {
					t.Errorf("message %q does not say when and on which threshold", b.Message)
				}
			}
			if got != tc.want {
				t.Errorf("breach = %+v, want threshold %q", b, tc.want)
			}
		})
	}
	if b := decideEarlyStop(&lt.Spec, ms, map[string]*control.Status{obs: observer(0, 0, lagBreach)}, time.Minute); b.At != 16*time.Second {
		t.Errorf("the observer's breach keeps its own moment: at %s, want 16s", b.At)
	}
}

// fakePods answers the control calls of a run's pods: /status with canned statuses (by pod
// IP, an error where there is none), and records /stop.
type fakePods struct {
	mu       sync.Mutex
	statuses map[string]*control.Status
	stops    []string
	reads    int
}

func (f *fakePods) Start(context.Context, *corev1.Pod, string, time.Time) error { return nil }

func (f *fakePods) Stop(_ context.Context, pod *corev1.Pod, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops = append(f.stops, pod.Name)
	return nil
}

func (f *fakePods) Status(_ context.Context, pod *corev1.Pod, runID string) (*control.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	st, ok := f.statuses[pod.Status.PodIP]
	if !ok {
		return nil, errors.New("connection refused")
	}
	out := *st
	out.RunID = runID
	return &out, nil
}

// TestEarlyStopStep drives the reconciler through an early stop with a fake client and a
// fake clock: the breach is recorded (condition, message, event) before any /stop; the
// next reconcile sends /stop; a reconciler that restarts with the condition written stops
// the pods without reading /status again.
func TestEarlyStopStep(t *testing.T) {
	start := time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)
	now := start.Add(20 * time.Second)
	lt := loadTest(testName).Workers(1).EarlyStop(streamreplayv1alpha1.EarlyStop{Window: dur(10 * time.Second)}).
		Pipeline("", "enricher").Thresholds(streamreplayv1alpha1.Thresholds{MaxConsumerLag: ptr.To[int64](1000)}).Generation(1).
		Status(streamreplayv1alpha1.LoadTestStatus{
			Phase: streamreplayv1alpha1.PhaseRunning, RunID: testUID, StartTime: streamreplayv1alpha1.NewPreciseTime(start),
			Conditions: []metav1.Condition{{Type: streamreplayv1alpha1.ConditionStarted, Status: metav1.ConditionTrue, Reason: "AllPodsSignalled", LastTransitionTime: metav1.NewTime(start)}},
		}).Obj()
	var objs []client.Object
	ips := map[string]string{WorkerPodName(lt, 0): "10.0.0.1", ObserverPodName(lt): "10.0.0.2"}
	for name, ip := range ips {
		objs = append(objs, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: lt.Namespace, Labels: selectorLabels(lt)},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		})
	}
	c := fakeCluster(t, append(objs, lt)...).Build()
	b := &earlystop.Breach{Threshold: "maxConsumerLag", At: 16 * time.Second, Message: "stopped early at +16s on maxConsumerLag: lag 3200 > 1000 for 10s and growing 200/s"}
	pods := &fakePods{statuses: map[string]*control.Status{
		"10.0.0.1": {Worker: &control.WorkerStatus{Scheduled: 100_000}},
		"10.0.0.2": {Observer: &control.ObserverStatus{}},
	}}
	recorder := events.NewFakeRecorder(100)
	r := fakeReconciler(c, now)
	r.Recorder, r.Signals = recorder, pods
	req := requestFor(lt)
	get := func() *streamreplayv1alpha1.LoadTest {
		t.Helper()
		got := &streamreplayv1alpha1.LoadTest{}
		if err := c.Get(context.Background(), req.NamespacedName, got); err != nil {
			t.Fatal(err)
		}
		return got
	}

	// Within the thresholds: polled again in 2s of the injected clock, nothing recorded.
	res, err := r.Reconcile(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter != earlyStopPoll || pods.reads != 2 {
		t.Errorf("requeue after %s having read %d statuses, want %s and 2", res.RequeueAfter, pods.reads, earlyStopPoll)
	}
	if meta.FindStatusCondition(get().Status.Conditions, streamreplayv1alpha1.ConditionEarlyStopped) != nil {
		t.Fatal("EarlyStopped recorded for a run within its thresholds")
	}

	// The observer reports its breach: recorded first, and no /stop sent yet.
	pods.statuses["10.0.0.2"].Observer.Breach = b
	if _, err := r.Reconcile(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	got := get()
	cond := meta.FindStatusCondition(got.Status.Conditions, streamreplayv1alpha1.ConditionEarlyStopped)
	if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != "MaxConsumerLag" || cond.Message != b.Message || cond.ObservedGeneration != 1 {
		t.Fatalf("EarlyStopped condition = %+v, want True, MaxConsumerLag, the breach's message, generation 1", cond)
	}
	if !strings.Contains(got.Status.Message, "stopped early at +16s on maxConsumerLag") || got.Status.Phase != streamreplayv1alpha1.PhaseRunning {
		t.Errorf("phase %s, message %q: want Running, saying it stops early", got.Status.Phase, got.Status.Message)
	}
	if len(pods.stops) != 0 {
		t.Errorf("/stop sent to %v before the breach was written", pods.stops)
	}
	select {
	case e := <-recorder.Events:
		if !strings.Contains(e, "EarlyStopped") || !strings.Contains(e, "+16s") || !strings.Contains(e, "maxConsumerLag") {
			t.Errorf("event %q does not say it stopped early, when and on which threshold", e)
		}
	default:
		t.Error("no event for the early stop")
	}

	// A restarted manager (a new reconciler, pods that no longer answer /status) stops them.
	restarted := &fakePods{}
	r.Signals = restarted
	if _, err := r.Reconcile(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if len(restarted.stops) != 2 || restarted.reads != 0 {
		t.Errorf("after the breach was written: /stop to %v having read %d statuses, want both pods and no read", restarted.stops, restarted.reads)
	}
	if !meta.IsStatusConditionTrue(get().Status.Conditions, streamreplayv1alpha1.ConditionStopping) {
		t.Error("Stopping not True once every pod accepted the stop")
	}
}

// TestEarlyStopNeverPasses: partial results that read within the broken threshold (or lack
// its check) still end Failed, with that threshold's check failed and the breach first.
func TestEarlyStopNeverPasses(t *testing.T) {
	breach := metav1.Condition{Type: streamreplayv1alpha1.ConditionEarlyStopped, Status: metav1.ConditionTrue, Reason: "MaxConsumerLag",
		Message: "stopped early at +16s on maxConsumerLag: lag 3200 > 1000 for 10s and growing 200/s"}
	for _, tc := range []struct {
		name   string
		checks []streamreplayv1alpha1.ThresholdCheck
		want   []streamreplayv1alpha1.ThresholdCheck
	}{
		{
			name:   "the check passed on the partial results",
			checks: []streamreplayv1alpha1.ThresholdCheck{{Name: "maxConsumerLag", Measured: "900", Limit: "1000", Passed: true}, {Name: "maxErrorRatio", Measured: "0", Limit: "0.001", Passed: true}},
			want:   []streamreplayv1alpha1.ThresholdCheck{{Name: "maxConsumerLag", Measured: "broken; stopped early", Limit: "1000", Passed: false}, {Name: "maxErrorRatio", Measured: "0", Limit: "0.001", Passed: true}},
		},
		{
			name:   "the check failed",
			checks: []streamreplayv1alpha1.ThresholdCheck{{Name: "maxConsumerLag", Measured: "3,400", Limit: "1,000", Passed: false}},
			want:   []streamreplayv1alpha1.ThresholdCheck{{Name: "maxConsumerLag", Measured: "3,400", Limit: "1,000", Passed: false}},
		},
		{
			name: "no such check",
			want: []streamreplayv1alpha1.ThresholdCheck{{Name: "maxConsumerLag", Measured: "broken; stopped early", Limit: "spec.thresholds.maxConsumerLag", Passed: false}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt := loadTest(testName).Status(streamreplayv1alpha1.LoadTestStatus{
				Phase: streamreplayv1alpha1.PhaseRunning, Thresholds: tc.checks, Conditions: []metav1.Condition{breach},
			}).Obj()
			s := &runStep{lt: lt, now: time.Now()}
			s.finishEarlyStopped(s.earlyStop(), &runOutcome{passed: true, message: "all thresholds met: maxErrorRatio: measured 0, limit 0.001"})
			st := lt.Status
			if st.Phase != streamreplayv1alpha1.PhaseFailed || st.Verdict != streamreplayv1alpha1.VerdictFail {
				t.Errorf("phase %s, verdict %s, want Failed and Fail", st.Phase, st.Verdict)
			}
			if !strings.HasPrefix(st.Message, breach.Message+"; the partial results") || !strings.Contains(st.Message, "could not have passed") {
				t.Errorf("message %q does not begin with the breach", st.Message)
			}
			if diff := cmp.Diff(tc.want, st.Thresholds); diff != "" {
				t.Errorf("checks (-want +got):\n%s", diff)
			}
			if r := meta.FindStatusCondition(st.Conditions, streamreplayv1alpha1.ConditionReady); r == nil || r.Reason != ReasonEarlyStopped || r.Status != metav1.ConditionFalse {
				t.Errorf("Ready = %+v, want False with reason %s", r, ReasonEarlyStopped)
			}
		})
	}
}
