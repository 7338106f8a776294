package controllers

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/results"
)

// member is one pod the run needs, as found in the cluster (pod is nil when it is missing).
type member struct {
	name  string
	role  results.Role
	index int32
	pod   *corev1.Pod
}

// members lists the pods the run needs, workers first, matched with those that exist.
func members(lt *streamreplayv1alpha1.LoadTest, existing []corev1.Pod) []member {
	byName := make(map[string]*corev1.Pod, len(existing))
	for i := range existing {
		byName[existing[i].Name] = &existing[i]
	}
	out := make([]member, 0, lt.Spec.Workers+1)
	for i := range max(lt.Spec.Workers, 1) {
		name := WorkerPodName(lt, i)
		out = append(out, member{name: name, role: results.RoleWorker, index: i, pod: byName[name]})
	}
	if needsObserver(lt) {
		name := ObserverPodName(lt)
		out = append(out, member{name: name, role: results.RoleObserver, pod: byName[name]})
	}
	return out
}

func (m *member) ready() bool {
	if m.pod == nil || m.pod.DeletionTimestamp != nil {
		return false
	}
	for _, c := range m.pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (m *member) finished() bool {
	return m.pod != nil && (m.pod.Status.Phase == corev1.PodSucceeded || m.pod.Status.Phase == corev1.PodFailed)
}

func (m *member) succeeded() bool {
	return m.pod != nil && m.pod.Status.Phase == corev1.PodSucceeded
}

// terminated is the state of the pod's container once it ended, nil before.
func (m *member) terminated() *corev1.ContainerStateTerminated {
	if m.pod == nil {
		return nil
	}
	for i := range m.pod.Status.ContainerStatuses {
		cs := &m.pod.Status.ContainerStatuses[i]
		if cs.Name == containerName {
			return cs.State.Terminated
		}
	}
	return nil
}

// failure says why a failed pod failed, in words, from the most specific source.
func (m *member) failure() string {
	var parts []string
	if t := m.terminated(); t != nil {
		if t.ExitCode != 0 {
			parts = append(parts, fmt.Sprintf("exit code %d", t.ExitCode))
		}
		if t.Reason != "" && t.Reason != "Error" {
			parts = append(parts, t.Reason)
		}
		if msg := strings.TrimSpace(t.Message); msg != "" {
			parts = append(parts, msg)
		}
	}
	if m.pod.Status.Reason != "" {
		parts = append(parts, m.pod.Status.Reason)
	}
	if msg := strings.TrimSpace(m.pod.Status.Message); msg != "" {
		parts = append(parts, msg)
	}
	if len(parts) == 0 {
		return "no reason given"
	}
	return strings.Join(parts, ": ")
}

// waitingReason says what a pod that is not Ready waits for, when the kubelet said.
func (m *member) waitingReason() string {
	if m.pod == nil {
		return "not created"
	}
	for _, cs := range m.pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			if w.Message != "" {
				return w.Reason + ": " + results.Shorten(w.Message, 300)
			}
			return w.Reason
		}
	}
	for _, c := range m.pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Message != "" {
			return c.Reason + ": " + results.Shorten(c.Message, 300)
		}
	}
	if m.pod.Status.Phase == "" || m.pod.Status.Phase == corev1.PodPending {
		return "Pending"
	}
	return "not Ready"
}

// podIP is the pod's address for control calls.
func (m *member) podIP() string {
	if m.pod == nil {
		return ""
	}
	return m.pod.Status.PodIP
}

// describeLimit is how many pods a message names.
const describeLimit = 5

// describe lists members as "name (detail)" for messages, at most describeLimit of them.
func describe(ms []member, detail func(*member) string) string {
	names := make([]string, 0, len(ms))
	for i := range ms {
		names = append(names, fmt.Sprintf("%s (%s)", ms[i].name, detail(&ms[i])))
	}
	sort.Strings(names)
	if len(names) > describeLimit {
		return strings.Join(names[:describeLimit], ", ") + fmt.Sprintf(" and %d more", len(names)-describeLimit)
	}
	return strings.Join(names, ", ")
}
