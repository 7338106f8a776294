package controllers_test

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/test/fakepods"
)

// holdFinalizer stands for another controller's finalizer, or foreground deletion: the
// LoadTest stays, being deleted.
const holdFinalizer = "test.streamreplay.io/hold"

// TestDeletedMidRunStopsItsPods: deleting a running LoadTest sends /stop to every running
// pod and deletes the pods, without waiting for the garbage collector (envtest has none).
// Held by a finalizer, the LoadTest ends Aborted first and its pods go the same way.
func TestDeletedMidRunStopsItsPods(t *testing.T) {
	for _, held := range []bool{false, true} {
		t.Run(map[bool]string{false: "gone at once", true: "held by a finalizer"}[held], func(t *testing.T) {
			h := newHarness(t)
			lt := newLoadTest("deleted", 2)
			if held {
				lt.Finalizers = []string{holdFinalizer}
			}
			running, ips := h.startRun(lt)
			if err := k8s.Delete(h.ctx, running); err != nil {
				t.Fatalf("deleting the LoadTest: %v", err)
			}
			if held {
				t.Cleanup(func() { h.release(running) })
				aborted := h.waitPhase(running.Name, streamreplayv1alpha1.PhaseAborted)
				if c := meta.FindStatusCondition(aborted.Status.Conditions, streamreplayv1alpha1.ConditionStalled); c == nil || c.Reason != "Deleted" {
					t.Errorf("Stalled condition %+v, want reason Deleted", c)
				}
			}
			fakepods.Eventually(t, "every pod asked to stop", 10*time.Second, func() error {
				for name, ip := range ips {
					calls := h.control.StopCalls(ip)
					if len(calls) == 0 {
						return fmt.Errorf("pod %s got no /stop", name)
					}
					if calls[0].RunID != string(running.UID) {
						return fmt.Errorf("pod %s got /stop for run %q, want %q", name, calls[0].RunID, running.UID)
					}
				}
				return nil
			})
			fakepods.Eventually(t, "the pods deleted", 10*time.Second, func() error {
				if pods := h.pods(running.Name); len(pods) != 0 {
					return fmt.Errorf("%d pods left", len(pods))
				}
				return nil
			})
		})
	}
}

// TestLoadTestBeingDeletedGetsNoPods: a LoadTest that is already being deleted when the
// operator first sees it gets no children; it ends Aborted.
func TestLoadTestBeingDeletedGetsNoPods(t *testing.T) {
	h := newHarness(t)
	h.stopManager()
	lt := newLoadTest("late", 3)
	lt.Finalizers = []string{holdFinalizer}
	h.create(lt)
	t.Cleanup(func() { h.release(lt) })
	if err := k8s.Delete(h.ctx, lt); err != nil {
		t.Fatalf("deleting the LoadTest: %v", err)
	}
	h.startManager()
	done := h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseAborted)
	if n := len(h.pods(lt.Name)); n != 0 {
		t.Errorf("%d pods created for a LoadTest being deleted", n)
	}
	if done.Status.Verdict != streamreplayv1alpha1.VerdictInconclusive {
		t.Errorf("verdict %q, want Inconclusive", done.Status.Verdict)
	}
	var cm corev1.ConfigMap
	if err := k8s.Get(h.ctx, client.ObjectKey{Namespace: h.namespace, Name: lt.Name + "-results"}, &cm); err == nil {
		t.Errorf("results ConfigMap created for a LoadTest being deleted")
	}
}

// release removes the test's finalizer, so the LoadTest can go.
func (h *harness) release(lt *streamreplayv1alpha1.LoadTest) {
	cur := &streamreplayv1alpha1.LoadTest{}
	if err := k8s.Get(h.ctx, client.ObjectKeyFromObject(lt), cur); err != nil {
		return
	}
	patch := client.MergeFrom(cur.DeepCopy())
	controllerutil.RemoveFinalizer(cur, holdFinalizer)
	if err := k8s.Patch(h.ctx, cur, patch); err != nil {
		h.t.Errorf("removing the finalizer: %v", err)
	}
}
