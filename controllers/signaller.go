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
