package controllers_test

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/operator"
	"github.com/streamreplay/streamreplay/test/fakepods"
)

// TestUnansweringPodsDoNotHoldUpOtherLoadTests: while one reconcile waits on pods that
// never answer /start (a signal timeout and budget of ten minutes), another LoadTest is
// created, started and judged on the other worker, without the injected clock moving.
// With one worker (the controller before concurrent reconciles) it would wait the ten
// minutes.
func TestUnansweringPodsDoNotHoldUpOtherLoadTests(t *testing.T) {
	h := newHarnessWith(t, func(o *operator.Options) {
		o.SignalTimeout, o.SignalBudget = 10*time.Minute, 10*time.Minute
		o.MaxConcurrentReconciles = 2
	})
	silent := fakepods.NewSilentPods()
	// Runs before the manager stops (cleanups run last first): the calls in flight fail.
	t.Cleanup(func() { _ = silent.Close() })

	hung := newLoadTest("hung", 1)
	h.create(hung)
	hungIPs := map[string]string{}
	for _, pod := range h.waitPods(hung.Name, 2) {
		ip := addresses.Next()
		if err := silent.Serve(ip); err != nil {
			t.Fatal(err)
		}
		hungIPs[pod.Name] = ip
		h.markReady(&pod, ip)
	}
	fakepods.Eventually(t, "the start signal to hung's pods in flight", 10*time.Second, func() error {
		for name, ip := range hungIPs {
			if silent.Accepted(ip) == 0 {
				return fmt.Errorf("pod %s got no call yet", name)
			}
		}
		return nil
	})
	clockBefore := h.clock.FakeClock.Now()

	quick := newLoadTest("quick", 2)
	running, _ := h.startRun(quick)
	h.finishRun(running, fakepods.Worker{Scheduled: 5000, Acked: 5000, Latencies: []time.Duration{20 * time.Millisecond}}, 0)
	if done := h.waitPhase(quick.Name, streamreplayv1alpha1.PhasePassed); done.Status.Verdict != streamreplayv1alpha1.VerdictPass {
		t.Errorf("quick: verdict %q, want Pass", done.Status.Verdict)
	}

	if now := h.clock.FakeClock.Now(); !now.Equal(clockBefore) {
		t.Fatalf("the injected clock moved from %s to %s", clockBefore, now)
	}
	// hung's first pass still waits: one call per pod, no retry, no decision.
	got := h.get(hung.Name)
	if got.Status.Phase != streamreplayv1alpha1.PhaseRunning || meta.IsStatusConditionTrue(got.Status.Conditions, streamreplayv1alpha1.ConditionStarted) {
		t.Errorf("hung: phase %s, conditions %+v; want Running and not Started", got.Status.Phase, got.Status.Conditions)
	}
	for name, ip := range hungIPs {
		if n := silent.Accepted(ip); n != 1 {
			t.Errorf("pod %s got %d calls, want the 1 still in flight", name, n)
		}
	}
}
