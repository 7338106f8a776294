// Package fakepods plays, for envtest suites, the parts of a cluster that envtest
// lacks: the kubelet, which writes pod status (Ready on an address, then terminated with
// an exit code and a termination message), and the pods themselves, which answer the
// operator's control calls on their control port and report their results. It also
// builds the LoadTest those fake pods run, and polls until a condition holds. It runs no
// process (the sandbox's pod runner does): it writes what a kubelet and the pods would.
//
// The controllers' suite, the config suite (test/config) and the scale benchmark
// (test/scale) share it. It imports neither controllers nor anything that does, so that
// the controllers' own test packages can use it.
//
// The helpers that write to the API server return errors rather than fail a test, so
// that they can run from the goroutines of the scale benchmark.
package fakepods

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// conflictRetries is how many times UpdateStatus reads a pod again after a conflict.
const conflictRetries = 5

// SetReady sets what the kubelet writes when the pod runs on ip and its container
// passes its readiness probe.
func SetReady(p *corev1.Pod, ip string) {
	now := metav1.Now()
	p.Status.Phase = corev1.PodRunning
	p.Status.PodIP = ip
	p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	p.Status.StartTime = &now
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: p.Spec.Containers[0].Name, Image: p.Spec.Containers[0].Image, Ready: true, Started: ptr.To(true),
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
	}}
}

// SetTerminated sets what the kubelet writes when the container exited with exitCode,
// leaving message in its termination log: phase Succeeded for 0, else Failed.
func SetTerminated(p *corev1.Pod, exitCode int32, message string) {
	now := metav1.Now()
	p.Status.Phase = corev1.PodSucceeded
	reason := "Completed"
	if exitCode != 0 {
		p.Status.Phase = corev1.PodFailed
		reason = "Error"
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: now}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: p.Spec.Containers[0].Name, Image: p.Spec.Containers[0].Image,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: exitCode, Reason: reason, Message: message, StartedAt: now, FinishedAt: now,
		}},
	}}
}

// UpdateStatus writes the status of pod as mutate leaves it. It starts from pod as given
// (no read first, which matters for the scale benchmark's hundreds of pods); on a conflict
// it reads the pod again and retries, a few times. pod is left as the API server returned it.
func UpdateStatus(ctx context.Context, c client.Client, pod *corev1.Pod, mutate func(*corev1.Pod)) error {
	for attempt := 0; ; attempt++ {
		p := pod.DeepCopy()
		mutate(p)
		err := c.Status().Update(ctx, p)
		if err == nil {
			*pod = *p
			return nil
		}
		if !apierrors.IsConflict(err) || attempt == conflictRetries {
			return fmt.Errorf("updating status of pod %s: %w", pod.Name, err)
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return fmt.Errorf("reading pod %s: %w", pod.Name, err)
		}
	}
}

// MarkReady plays the kubelet: pod runs on ip and is Ready (see SetReady).
func MarkReady(ctx context.Context, c client.Client, pod *corev1.Pod, ip string) error {
	return UpdateStatus(ctx, c, pod, func(p *corev1.Pod) { SetReady(p, ip) })
}

// MarkTerminated plays the kubelet: the container of pod namespace/name exited with
// exitCode and termination message (see SetTerminated).
func MarkTerminated(ctx context.Context, c client.Client, namespace, name string, exitCode int32, message string) error {
	var pod corev1.Pod
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &pod); err != nil {
		return fmt.Errorf("reading pod %s: %w", name, err)
	}
	return UpdateStatus(ctx, c, &pod, func(p *corev1.Pod) { SetTerminated(p, exitCode, message) })
}

// RecordFailedMount plays the kubelet when it cannot mount a volume of pod: it records a
// FailedMount event on the pod with message, such as
// `MountVolume.SetUp failed for volume "kafka-sasl" : secret "kafka-user" not found`.
// The pod's status shows nothing of it: its container just waits in ContainerCreating.
func RecordFailedMount(ctx context.Context, c client.Client, pod *corev1.Pod, message string) error {
	now := metav1.Now()
	e := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: pod.Name + ".", Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: "v1", Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
		},
		Reason: "FailedMount", Message: message, Type: corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: "kubelet", Host: "fake-node"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	if err := c.Create(ctx, e); err != nil {
		return fmt.Errorf("recording a FailedMount event for pod %s: %w", pod.Name, err)
	}
	return nil
}
