package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// Deleting a LoadTest needs no finalizer. A finalizer would block the deletion whenever
// the operator is not running, and what it would guard is already safe: the garbage
// collector deletes the pods (their owner is gone) and each pod's activeDeadlineSeconds
// ends it in any case. The operator only makes the stop prompter: it stops creating pods,
// sends /stop to the running ones and deletes them itself.

// deleted tells whether lt is gone, replaced or being deleted, as the cache has it now.
// The cache learns of a delete within milliseconds, so checking it between creates stops
// a long creation loop at once.
func (r *LoadTestReconciler) deleted(ctx context.Context, lt *streamreplayv1alpha1.LoadTest) bool {
	cur := &streamreplayv1alpha1.LoadTest{}
	err := r.Get(ctx, client.ObjectKeyFromObject(lt), cur)
	if apierrors.IsNotFound(err) {
		return true
	}
	return err == nil && (cur.UID != lt.UID || cur.DeletionTimestamp != nil)
}

// stopOrphans stops and deletes the pods of a LoadTest that no longer exists, sooner than
// the garbage collector would.
func (r *LoadTestReconciler) stopOrphans(ctx context.Context, key types.NamespacedName) error {
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(key.Namespace), client.MatchingFields{podLoadTestField: key.Name}); err != nil {
		return fmt.Errorf("listing pods of deleted LoadTest %s: %w", key, err)
	}
	r.stopRunning(ctx, pods.Items)
	deleted := 0
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.DeletionTimestamp != nil {
			continue
		}
		if err := client.IgnoreNotFound(r.Delete(ctx, pod)); err != nil {
			return fmt.Errorf("deleting pod %s of deleted LoadTest %s: %w", pod.Name, key, err)
		}
		deleted++
	}
	if deleted > 0 {
		logf.FromContext(ctx).Info("Deleted the pods of a deleted LoadTest", "pods", deleted)
	}
	return nil
}

// stopRunning asks every running pod to stop at once, before it is deleted, so that it
// ends its load now rather than when the kubelet sends SIGTERM. It is best effort: a pod
// that cannot be reached still stops on deletion or at its activeDeadlineSeconds.
func (r *LoadTestReconciler) stopRunning(ctx context.Context, pods []corev1.Pod) {
	if r.Signals == nil {
		return
	}
	var running []member
	for i := range pods {
		pod := &pods[i]
		if pod.DeletionTimestamp == nil && pod.Status.Phase == corev1.PodRunning && pod.Status.PodIP != "" {
			running = append(running, member{name: pod.Name, pod: pod})
		}
	}
	if len(running) == 0 {
		return
	}
	ctx, cancel := r.signalContext(ctx)
	defer cancel()
	unreached, lastErr := signalAll(running, func(m *member) error {
		return r.Signals.Stop(ctx, m.pod, m.pod.Labels[LabelRunID])
	})
	if len(unreached) > 0 {
		logf.FromContext(ctx).Info("Stop signal not delivered; deleting the pods anyway", "pods", describe(unreached, (*member).podIP), "lastError", lastErr.Error())
	}
}
