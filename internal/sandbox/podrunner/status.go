package podrunner

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The kubelet's words.
const (
	reasonPodCompleted       = "PodCompleted"
	reasonContainersNotReady = "ContainersNotReady"
	reasonDeadlineExceeded   = "DeadlineExceeded"
	messageDeadlineExceeded  = "Pod was active on the node longer than the specified deadline"
	reasonStatusUnknown      = "ContainerStatusUnknown"
	messageStatusUnknown     = "The container could not be located when the pod was terminated"
	reasonCreating           = "ContainerCreating"
)

// phase is the pod's phase for restartPolicy Never: Pending until the processes start,
// Running while one runs, then Succeeded when every one exited 0, else Failed. An
// exceeded deadline fails the pod at once, as the kubelet does.
func (w *podWorker) phase() corev1.PodPhase {
	if w.deadlineExceeded {
		return corev1.PodFailed
	}
	if !w.started {
		if w.finished() {
			return corev1.PodFailed
		}
		return corev1.PodPending
	}
	var failed bool
	for _, c := range w.containers {
		if c.running {
			return corev1.PodRunning
		}
		if c.terminated != nil && c.terminated.ExitCode != 0 {
			failed = true
		}
	}
	if failed {
		return corev1.PodFailed
	}
	return corev1.PodSucceeded
}

// buildStatus is the pod's status as the kubelet would write it, over cur's status
// (what others wrote stays: the scheduler's condition, the QoS class).
func (w *podWorker) buildStatus(cur *corev1.Pod) corev1.PodStatus {
	st := *cur.Status.DeepCopy()
	now := metav1.Now().Rfc3339Copy()
	phase := w.phase()
	terminal := phase == corev1.PodSucceeded || phase == corev1.PodFailed

	st.Phase = phase
	st.Reason, st.Message = "", ""
	if w.deadlineExceeded {
		st.Reason, st.Message = reasonDeadlineExceeded, messageDeadlineExceeded
	}
	host := w.r.cfg.HostIP.String()
	st.HostIP, st.HostIPs = host, []corev1.HostIP{{IP: host}}
	if w.ip.IsValid() {
		st.PodIP, st.PodIPs = w.ip.String(), []corev1.PodIP{{IP: w.ip.String()}}
	}
	st.StartTime = w.startTime.DeepCopy()

	st.ContainerStatuses = make([]corev1.ContainerStatus, 0, len(w.containers))
	var unready []string
	for _, c := range w.containers {
		cs := w.containerStatus(c, terminal)
		if !cs.Ready {
			unready = append(unready, c.spec.Name)
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}

	setCondition(&st, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}, now)
	sandbox := corev1.ConditionFalse
	if w.ip.IsValid() && !terminal {
		sandbox = corev1.ConditionTrue
	}
	setCondition(&st, corev1.PodCondition{Type: corev1.PodReadyToStartContainers, Status: sandbox}, now)
	setCondition(&st, corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}, now)
	ready := corev1.PodCondition{Status: corev1.ConditionTrue}
	switch {
	case terminal:
		ready = corev1.PodCondition{Status: corev1.ConditionFalse, Reason: reasonPodCompleted}
	case len(unready) > 0:
		ready = corev1.PodCondition{
			Status:  corev1.ConditionFalse,
			Reason:  reasonContainersNotReady,
			Message: fmt.Sprintf("containers with unready status: %v", unready),
		}
	}
	for _, t := range []corev1.PodConditionType{corev1.ContainersReady, corev1.PodReady} {
		ready.Type = t
		setCondition(&st, ready, now)
	}
	return st
}

func (w *podWorker) containerStatus(c *container, terminal bool) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{
		Name:        c.spec.Name,
		Image:       c.spec.Image,
		ImageID:     "file://" + w.r.cfg.Binary,
		ContainerID: c.containerID(),
		Started:     ptr.To(false),
	}
	switch {
	case c.terminated != nil:
		cs.State.Terminated = c.terminated.DeepCopy()
	case c.running:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: c.startedAt}
		cs.Started = ptr.To(c.started)
		cs.Ready = c.started && (c.spec.ReadinessProbe == nil || c.ready)
	case terminal:
		cs.State.Terminated = unknownTermination()
	default:
		reason := w.waitReason
		if reason == "" {
			reason = reasonCreating
		}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: w.waitMessage}
	}
	return cs
}

// unknownTermination is how the kubelet reports a container that never ran, or that it
// lost, in a pod that ended.
func unknownTermination() *corev1.ContainerStateTerminated {
	return &corev1.ContainerStateTerminated{ExitCode: 137, Reason: reasonStatusUnknown, Message: messageStatusUnknown}
}

// setCondition sets a condition by type, keeping its transition time when its status
// did not change.
func setCondition(st *corev1.PodStatus, c corev1.PodCondition, now metav1.Time) {
	for i := range st.Conditions {
		old := &st.Conditions[i]
		if old.Type != c.Type {
			continue
		}
		c.LastTransitionTime = old.LastTransitionTime
		if old.Status != c.Status || c.LastTransitionTime.IsZero() {
			c.LastTransitionTime = now
		}
		c.LastProbeTime = old.LastProbeTime
		c.ObservedGeneration = old.ObservedGeneration
		*old = c
		return
	}
	c.LastTransitionTime = now
	st.Conditions = append(st.Conditions, c)
}

func podStatusEqual(a, b *corev1.PodStatus) bool {
	return apiequality.Semantic.DeepEqual(a, b)
}
