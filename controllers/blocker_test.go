package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestBlocker(t *testing.T) {
	waiting := func(reason, message string) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
			Name: containerName, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}},
		}}}}
	}
	unschedulable := func(message string) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: message,
		}}}}
	}
	type result struct {
		Cause   string
		Missing bool
		OK      bool
	}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want result
	}{
		{name: "not created", want: result{}},
		{name: "waiting its turn", pod: waiting("ContainerCreating", ""), want: result{}},
		{
			name: "Secret of an env var missing",
			pod:  waiting("CreateContainerConfigError", `secret "kafka-user" not found`),
			want: result{Cause: `pod lt-worker-0: CreateContainerConfigError: secret "kafka-user" not found`, Missing: true, OK: true},
		},
		{
			name: "image that cannot be pulled: shown, not missing",
			pod:  waiting("ImagePullBackOff", `Back-off pulling image "streamreplay:dev"`),
			want: result{Cause: `pod lt-worker-0: ImagePullBackOff: Back-off pulling image "streamreplay:dev"`, OK: true},
		},
		{
			name: "claim that does not exist",
			pod:  unschedulable(`0/3 nodes are available: persistentvolumeclaim "crm-recordings" not found. preemption: 0/3 nodes are available`),
			want: result{Cause: `pod lt-worker-0: Unschedulable: 0/3 nodes are available: persistentvolumeclaim "crm-recordings" not found. preemption: 0/3 nodes are available`, Missing: true, OK: true},
		},
		{
			name: "no node with room: shown, not missing",
			pod:  unschedulable("0/3 nodes are available: 3 Insufficient cpu."),
			want: result{Cause: "pod lt-worker-0: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.", OK: true},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := member{name: "lt-worker-0", pod: tc.pod}
			c, ok := m.blocker()
			if diff := cmp.Diff(tc.want, result{Cause: c.text, Missing: c.missing, OK: ok}); diff != "" {
				t.Errorf("blocker (-want +got):\n%s", diff)
			}
		})
	}
}
