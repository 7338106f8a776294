package controllers

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/plan"
)

// HTTPSignaller delivers signals over HTTP to the control port of the pod's IP, as a
// Service-less client inside the cluster would. Each call carries the run's token,
// computed from Key: the operator never reads the run's Secret back.
type HTTPSignaller struct {
	Client *control.Client
	Key    control.Key
}

// Start implements PodSignaller.
func (h HTTPSignaller) Start(ctx context.Context, pod *corev1.Pod, runID string, at time.Time) error {
	return h.Client.Start(ctx, pod.Status.PodIP, controlPort(pod), h.Key.Token(runID), control.StartRequest{RunID: runID, StartTime: at})
}

// Stop implements PodSignaller.
func (h HTTPSignaller) Stop(ctx context.Context, pod *corev1.Pod, runID string) error {
	return h.Client.Stop(ctx, pod.Status.PodIP, controlPort(pod), h.Key.Token(runID), control.StopRequest{RunID: runID})
}

// controlPort reads the port from the pod, so pods built by an older operator still work.
func controlPort(pod *corev1.Pod) int32 {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == plan.ControlPortName {
				return p.ContainerPort
			}
		}
	}
	return plan.ControlPort
}

// The signalling budget keeps a LoadTest whose pods do not answer from holding a worker
// of the controller: one reconcile spends at most SignalBudget of wall time on control
// calls, then the pods not reached count as unreached and the LoadTest is requeued, so
// the other LoadTests take turns on the workers in between. Like the per-call timeout it
// bounds network waits, so it is wall time; every decision the calls lead to (Started,
// StartTimeout, Stopping) is taken on the injected clock.

// signalContext is ctx bounded by the budget of this reconcile, which starts with its
// first control call: the start and the stop signals of one pass share it.
func (s *runStep) signalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.r.SignalBudget <= 0 {
		return context.WithCancel(ctx)
	}
	if s.signalDeadline.IsZero() {
		s.signalDeadline = time.Now().Add(s.r.SignalBudget)
	}
	return context.WithDeadline(ctx, s.signalDeadline)
}

// signalContext is ctx bounded by the signalling budget, for the passes that signal once.
func (r *LoadTestReconciler) signalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.SignalBudget <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, r.SignalBudget)
}
