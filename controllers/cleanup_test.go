package controllers

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// TestCleanupOfFinishedLoadTest is one reconcile of a finished LoadTest, on the fake client
// and a fake clock (jobset's ttl_after_finished_test style): a pod still running goes at
// once; the finished pods go when the TTL has passed, by the cleanup policy; before that
// the reconcile asks to come back when it ends.
func TestCleanupOfFinishedLoadTest(t *testing.T) {
	finished := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name        string
		phase       streamreplayv1alpha1.Phase
		policy      streamreplayv1alpha1.CleanupPolicy
		ttlSeconds  int32
		elapsed     time.Duration
		wantPods    []string
		wantRequeue time.Duration
	}{
		{name: "passed, before the TTL", phase: streamreplayv1alpha1.PhasePassed, policy: streamreplayv1alpha1.CleanupOnSuccess,
			ttlSeconds: 600, elapsed: 4 * time.Minute, wantPods: []string{"observer", "worker-0"}, wantRequeue: 6 * time.Minute},
		{name: "passed, at the TTL", phase: streamreplayv1alpha1.PhasePassed, policy: streamreplayv1alpha1.CleanupOnSuccess,
			ttlSeconds: 600, elapsed: 10 * time.Minute},
		{name: "failed, OnSuccess keeps the pods", phase: streamreplayv1alpha1.PhaseFailed, policy: streamreplayv1alpha1.CleanupOnSuccess,
			ttlSeconds: 600, elapsed: time.Hour, wantPods: []string{"observer", "worker-0"}},
		{name: "failed, Always", phase: streamreplayv1alpha1.PhaseFailed, policy: streamreplayv1alpha1.CleanupAlways,
			ttlSeconds: 60, elapsed: time.Minute},
		{name: "passed, Never", phase: streamreplayv1alpha1.PhasePassed, policy: streamreplayv1alpha1.CleanupNever,
			ttlSeconds: 0, elapsed: time.Hour, wantPods: []string{"observer", "worker-0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt := baseLoadTest()
			lt.Spec.Cleanup = streamreplayv1alpha1.Cleanup{Policy: tc.policy, TTLSecondsAfterFinished: ptr.To(tc.ttlSeconds)}
			lt.Status.Phase = tc.phase
			lt.Status.CompletionTime = &metav1.Time{Time: finished}
			pod := func(suffix string, phase corev1.PodPhase) *corev1.Pod {
				return &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: suffix, Namespace: lt.Namespace, Labels: selectorLabels(lt)},
					Status:     corev1.PodStatus{Phase: phase},
				}
			}
			scheme := runtime.NewScheme()
			if err := clientgoscheme.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			if err := streamreplayv1alpha1.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			// A worker still running (a straggler the stop did not reach) and two that ended.
			c := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(lt).
				WithObjects(lt, pod("worker-0", corev1.PodSucceeded), pod("worker-1", corev1.PodRunning), pod("observer", corev1.PodSucceeded)).
				Build()
			r := &LoadTestReconciler{
				Client: c, APIReader: c, Scheme: scheme, Recorder: events.NewFakeRecorder(10),
				Clock: clocktesting.NewFakeClock(finished.Add(tc.elapsed)), PodImage: testImage,
			}
			res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: lt.Namespace, Name: lt.Name}})
			if err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			var pods corev1.PodList
			if err := c.List(context.Background(), &pods); err != nil {
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
			if res.RequeueAfter != tc.wantRequeue {
				t.Errorf("RequeueAfter = %v, want %v", res.RequeueAfter, tc.wantRequeue)
			}
		})
	}
}
