package controllers

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// fakeCluster is a fake API server holding objs, with the manager's types and the
// LoadTests' status subresource, so that status writes go where they go on a real one.
func fakeCluster(t *testing.T, objs ...client.Object) *fake.ClientBuilder {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := streamreplayv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&streamreplayv1alpha1.LoadTest{}).
		WithIndex(&corev1.Pod{}, podLoadTestField, podLoadTest).WithObjects(objs...)
}

// fakeReconciler reconciles on c with the injected clock standing at now.
func fakeReconciler(c client.Client, now time.Time) *LoadTestReconciler {
	return &LoadTestReconciler{
		Client: c, APIReader: c, Scheme: c.Scheme(), Recorder: events.NewFakeRecorder(100),
		Clock: clocktesting.NewFakeClock(now), PodImage: testImage, StartLead: time.Second,
	}
}

func requestFor(lt *streamreplayv1alpha1.LoadTest) ctrl.Request {
	return ctrl.Request{NamespacedName: types.NamespacedName{Namespace: lt.Namespace, Name: lt.Name}}
}

// fakePod is a pod of lt as the kubelet reports it.
func fakePod(lt *streamreplayv1alpha1.LoadTest, name string, phase corev1.PodPhase, ready bool) *corev1.Pod {
	readiness := corev1.ConditionFalse
	if ready {
		readiness = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: lt.Namespace, Labels: selectorLabels(lt)},
		Status:     corev1.PodStatus{Phase: phase, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: readiness}}},
	}
}

// TestReconcileStep is one reconcile on the fake client and the injected fake clock
// (jobset's ttl_after_finished_test style), at the instants where the outcome turns:
//   - a finished LoadTest: a pod still running goes at once; the finished pods go when the
//     TTL has passed, by the cleanup policy; before that the reconcile asks to come back
//     exactly when the TTL ends;
//   - a LoadTest whose pods are not Ready: 1µs before timeouts.podsReady it comes back in
//     1µs; at the deadline it ends in Error and writes the outcome into its results;
//   - a new LoadTest asked to stop: Aborted without creating anything but its results.
//
// The LoadTests carry the CRD's defaults, as admission writes them: the TTL of 600s and the
// podsReady timeout of 5m come from there, not from the controller.
func TestReconcileStep(t *testing.T) {
	finished := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	created := time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	withObserver := func() *loadTestWrapper { return loadTest(testName).Workers(2).DLQ("crm-pipeline.dlq") }
	ref := withObserver().Obj()
	worker0, worker1, observer := WorkerPodName(ref, 0), WorkerPodName(ref, 1), ObserverPodName(ref)
	// After a run: a worker still running (a straggler the stop did not reach), one that ended, and the observer.
	afterRun := []*corev1.Pod{
		fakePod(ref, worker0, corev1.PodSucceeded, false),
		fakePod(ref, worker1, corev1.PodRunning, true),
		fakePod(ref, observer, corev1.PodSucceeded, false),
	}
	// Before a run: both workers run, neither passes its readiness probe.
	notReady := []*corev1.Pod{fakePod(ref, worker0, corev1.PodRunning, false), fakePod(ref, worker1, corev1.PodRunning, false)}
	starting := loadTest(testName).Workers(2).Created(created).Status(streamreplayv1alpha1.LoadTestStatus{Phase: streamreplayv1alpha1.PhaseStarting, RunID: testUID})
	const notReadyMessage = "pods not Ready within 5m0s: crm-cdc-peak-worker-0 (not Ready), crm-cdc-peak-worker-1 (not Ready)"

	// status is what the step leaves in the LoadTest's status.
	type status struct {
		Phase          streamreplayv1alpha1.Phase
		Verdict        streamreplayv1alpha1.Verdict
		Message        string
		CompletionTime *metav1.Time
	}
	passed := status{Phase: streamreplayv1alpha1.PhasePassed, CompletionTime: &metav1.Time{Time: finished}}
	failed := status{Phase: streamreplayv1alpha1.PhaseFailed, CompletionTime: &metav1.Time{Time: finished}}
	for _, tc := range []struct {
		name        string
		lt          *streamreplayv1alpha1.LoadTest
		pods        []*corev1.Pod
		now         time.Time
		wantRequeue time.Duration
		wantPods    []string
		wantStatus  status
		// wantSummary is the results ConfigMap's summary; "" when the step writes none.
		wantSummary string
	}{
		{
			name: "passed, before the TTL",
			lt: withObserver().Cleanup(streamreplayv1alpha1.Cleanup{Policy: streamreplayv1alpha1.CleanupOnSuccess, TTLSecondsAfterFinished: ptr.To[int32](600)}).
				Finished(streamreplayv1alpha1.PhasePassed, finished).Obj(),
			pods: afterRun, now: finished.Add(4 * time.Minute),
			wantPods: []string{observer, worker0}, wantRequeue: 6 * time.Minute, wantStatus: passed,
		},
		{
			name: "passed, at the TTL",
			lt: withObserver().Cleanup(streamreplayv1alpha1.Cleanup{Policy: streamreplayv1alpha1.CleanupOnSuccess, TTLSecondsAfterFinished: ptr.To[int32](600)}).
				Finished(streamreplayv1alpha1.PhasePassed, finished).Obj(),
			pods: afterRun, now: finished.Add(10 * time.Minute), wantStatus: passed,
		},
		{
			name: "failed, OnSuccess keeps the pods",
			lt: withObserver().Cleanup(streamreplayv1alpha1.Cleanup{Policy: streamreplayv1alpha1.CleanupOnSuccess, TTLSecondsAfterFinished: ptr.To[int32](600)}).
				Finished(streamreplayv1alpha1.PhaseFailed, finished).Obj(),
			pods: afterRun, now: finished.Add(time.Hour), wantPods: []string{observer, worker0}, wantStatus: failed,
		},
		{
			name: "failed, Always",
			lt: withObserver().Cleanup(streamreplayv1alpha1.Cleanup{Policy: streamreplayv1alpha1.CleanupAlways, TTLSecondsAfterFinished: ptr.To[int32](60)}).
				Finished(streamreplayv1alpha1.PhaseFailed, finished).Obj(),
			pods: afterRun, now: finished.Add(time.Minute), wantStatus: failed,
		},
		{
			name: "passed, Never",
			lt: withObserver().Cleanup(streamreplayv1alpha1.Cleanup{Policy: streamreplayv1alpha1.CleanupNever, TTLSecondsAfterFinished: ptr.To[int32](0)}).
				Finished(streamreplayv1alpha1.PhasePassed, finished).Obj(),
			pods: afterRun, now: finished.Add(time.Hour), wantPods: []string{observer, worker0}, wantStatus: passed,
		},
		{
			name: "passed, the CRD's cleanup (OnSuccess, 600s), 1s before the TTL",
			lt:   withObserver().Finished(streamreplayv1alpha1.PhasePassed, finished).Obj(),
			pods: afterRun, now: finished.Add(599 * time.Second),
			wantPods: []string{observer, worker0}, wantRequeue: time.Second, wantStatus: passed,
		},
		{
			name: "passed, the CRD's cleanup (OnSuccess, 600s), at the TTL",
			lt:   withObserver().Finished(streamreplayv1alpha1.PhasePassed, finished).Obj(),
			pods: afterRun, now: finished.Add(600 * time.Second), wantStatus: passed,
		},
		{
			name: "pods not Ready, 1µs before the CRD's podsReady timeout",
			lt:   starting.Obj(), pods: notReady, now: created.Add(5*time.Minute - time.Microsecond),
			wantPods: []string{worker0, worker1}, wantRequeue: time.Microsecond,
			wantStatus: status{Phase: streamreplayv1alpha1.PhaseStarting, Message: "waiting for 2 of 2 pods to be Ready"},
		},
		{
			name: "pods not Ready at the CRD's podsReady timeout",
			lt:   starting.Obj(), pods: notReady, now: created.Add(5 * time.Minute),
			wantPods: []string{worker0, worker1}, wantRequeue: time.Millisecond,
			wantStatus: status{
				Phase: streamreplayv1alpha1.PhaseError, Verdict: streamreplayv1alpha1.VerdictInconclusive,
				Message: notReadyMessage, CompletionTime: &metav1.Time{Time: created.Add(5 * time.Minute)},
			},
			wantSummary: "phase       Error\nverdict     Inconclusive\nmessage     " + notReadyMessage + "\n",
		},
		{
			name: "stopped before it started: no pods, Aborted at once",
			lt:   loadTest(testName).Workers(2).Created(created).Stop().Obj(), now: created,
			wantRequeue: time.Millisecond,
			wantStatus: status{
				Phase: streamreplayv1alpha1.PhaseAborted, Verdict: streamreplayv1alpha1.VerdictInconclusive,
				Message: "stopped before it started", CompletionTime: &metav1.Time{Time: created},
			},
			wantSummary: "phase       Aborted\nverdict     Inconclusive\nmessage     stopped before it started\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := []client.Object{tc.lt}
			for _, p := range tc.pods {
				objs = append(objs, p.DeepCopy())
			}
			c := fakeCluster(t, objs...).Build()
			ctx := context.Background()
			res, err := fakeReconciler(c, tc.now).Reconcile(ctx, requestFor(tc.lt))
			if err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			if res.RequeueAfter != tc.wantRequeue {
				t.Errorf("RequeueAfter = %v, want %v", res.RequeueAfter, tc.wantRequeue)
			}

			var pods corev1.PodList
			if err := c.List(ctx, &pods); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pods.Items {
				got = append(got, p.Name)
			}
			slices.Sort(got)
			if diff := cmp.Diff(tc.wantPods, got); diff != "" {
				t.Errorf("pods left (-want +got):\n%s", diff)
			}

			lt := &streamreplayv1alpha1.LoadTest{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(tc.lt), lt); err != nil {
				t.Fatal(err)
			}
			st := status{Phase: lt.Status.Phase, Verdict: lt.Status.Verdict, Message: lt.Status.Message, CompletionTime: lt.Status.CompletionTime}
			if diff := cmp.Diff(tc.wantStatus, st); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}

			cm := &corev1.ConfigMap{}
			err = c.Get(ctx, client.ObjectKey{Namespace: lt.Namespace, Name: ResultsConfigMapName(lt)}, cm)
			switch {
			case tc.wantSummary == "" && !apierrors.IsNotFound(err):
				t.Errorf("results ConfigMap written (%v): %v", err, cm.Data)
			case tc.wantSummary != "" && err != nil:
				t.Errorf("results ConfigMap: %v", err)
			case tc.wantSummary != "":
				if diff := cmp.Diff(tc.wantSummary, cm.Data[ResultsKeySummary]); diff != "" {
					t.Errorf("results summary (-want +got):\n%s", diff)
				}
			}
		})
	}
}
