package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// missingGrace is how long pods may wait for an object they reference that does not exist
// (the sample ConfigMap or claim, a Secret) before the run ends in Error. GitOps tools may
// apply that object a moment after the LoadTest, and the kubelet retries the mount, so a
// short wait costs little; much longer would hold a release gate for nothing.
const missingGrace = 30 * time.Second

// blockerLimit is how many distinct causes a message lists.
const blockerLimit = 5

// kindOf names a child's kind in messages.
func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *corev1.Pod:
		return "pod"
	case *corev1.ConfigMap:
		return "ConfigMap"
	default:
		return fmt.Sprintf("%T", obj)
	}
}

// quotaExceeded tells a refusal by a ResourceQuota: it may clear up when other pods end.
// The quota admission plugin says so only in its message.
func quotaExceeded(err error) bool {
	if !apierrors.IsForbidden(err) {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "exceeded quota") || strings.Contains(msg, "status unknown for quota")
}

// permanent tells a refusal that sending the same request again cannot overcome: the
// object is invalid, or admission (Pod Security, a webhook, a ValidatingAdmissionPolicy,
// a LimitRange, RBAC) said no. A quota is not permanent.
func permanent(err error) bool {
	if quotaExceeded(err) {
		return false
	}
	return apierrors.IsForbidden(err) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) ||
		apierrors.IsRequestEntityTooLargeError(err) || apierrors.IsMethodNotSupported(err)
}

// apiMessage is what the API server said, without the wrapping of our own calls.
func apiMessage(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Message != "" {
		return status.Status().Message
	}
	return err.Error()
}

// retryBackoff is how long to wait before creating a refused child again: half the time
// spent so far, between 1s and maxRequeue, so retries thin out without keeping a count.
func retryBackoff(elapsed time.Duration) time.Duration {
	return min(max(elapsed/2, time.Second), maxRequeue)
}

// creationFailed records why a child could not be created, in the status and an event, so
// that people and GitOps tools see it. A permanent refusal ends the run at once. Anything
// else (an exceeded ResourceQuota, a webhook that is down, a timeout) is retried with a
// growing delay until timeouts.podsReady after the LoadTest's creation, then ends the run.
func (s *runStep) creationFailed(obj client.Object, err error) error {
	what := kindOf(obj) + " " + obj.GetName()
	timeout := readyTimeout(&s.lt.Spec)
	deadline := s.lt.CreationTimestamp.Add(timeout)
	reason := "CreateFailed"
	if quotaExceeded(err) {
		reason = "QuotaExceeded"
	}
	switch {
	case permanent(err):
		s.finish(streamreplayv1alpha1.PhaseError, "CreateRefused",
			fmt.Sprintf("the API server refused to create %s: %s", what, apiMessage(err)), streamreplayv1alpha1.VerdictInconclusive)
	case !s.now.Before(deadline):
		s.finish(streamreplayv1alpha1.PhaseError, reason,
			fmt.Sprintf("could not create %s within timeouts.podsReady (%s): %s", what, timeout, apiMessage(err)), streamreplayv1alpha1.VerdictInconclusive)
	default:
		phase := s.lt.Status.Phase
		if phase == "" {
			phase = streamreplayv1alpha1.PhasePending
		}
		s.warn(phase, reason, fmt.Sprintf("cannot create %s yet: %s; retrying until %s", what, apiMessage(err), formatInstant(deadline)))
		s.requeueAfter = min(retryBackoff(s.now.Sub(s.lt.CreationTimestamp.Time)), deadline.Sub(s.now))
	}
	return nil
}

// warn sets the phase's message to a problem and sends it as a Warning event when it is
// news, that is when the status did not say it already.
func (s *runStep) warn(phase streamreplayv1alpha1.Phase, reason, message string) {
	changed := s.lt.Status.Phase != phase
	s.setPhase(phase, reason, message)
	if s.lt.Status.Message == s.previousMessage {
		return
	}
	if changed {
		// setPhase recorded the phase change with this message: make it the warning.
		s.events = s.events[:len(s.events)-1]
	}
	s.events = append(s.events, event{kind: corev1.EventTypeWarning, reason: reason, note: message})
}

// cause is one thing that keeps pods from becoming Ready; missing says it is an object
// that does not exist, which waiting is unlikely to mend.
type cause struct {
	text    string
	missing bool
}

// blocked looks for what keeps pods from becoming Ready, while they wait. Causes go into the
// message (and an event) at once. When an object the pods need does not exist, the run
// ends in Error after missingGrace (or timeouts.podsReady, when shorter); handled is then
// true. Other causes (an image that cannot be pulled) wait for timeouts.podsReady.
func (s *runStep) blocked(ctx context.Context, notReady []member) (handled bool) {
	causes := s.missingSources(ctx, notReady)
	causes = append(causes, s.failedMounts(ctx, notReady)...)
	for i := range notReady {
		if c, ok := notReady[i].blocker(); ok {
			causes = append(causes, c)
		}
	}
	if len(causes) == 0 {
		s.setPhase(streamreplayv1alpha1.PhaseStarting, "WaitingForPods", fmt.Sprintf("waiting for %d of %d pods to be Ready", len(notReady), len(s.members)))
		return false
	}
	missing := false
	for _, c := range causes {
		missing = missing || c.missing
	}
	text := listCauses(causes)
	if !missing {
		s.warn(streamreplayv1alpha1.PhaseStarting, "WaitingForPods", "waiting for the pods to be Ready: "+text)
		return false
	}
	deadline := s.lt.CreationTimestamp.Add(min(missingGrace, readyTimeout(&s.lt.Spec)))
	if !s.now.Before(deadline) {
		s.finish(streamreplayv1alpha1.PhaseError, "ReferenceNotFound", "the pods cannot start: "+text, streamreplayv1alpha1.VerdictInconclusive)
		return true
	}
	s.warn(streamreplayv1alpha1.PhaseStarting, "ReferenceNotFound",
		fmt.Sprintf("the pods cannot start: %s; the run ends in Error at %s unless this is fixed", text, formatInstant(deadline)))
	s.requeueAfter = min(deadline.Sub(s.now), maxRequeue)
	return true
}

// listCauses joins distinct causes, missing objects first, at most blockerLimit of them.
func listCauses(causes []cause) string {
	seen := map[string]bool{}
	var missing, other []string
	for _, c := range causes {
		if seen[c.text] {
			continue
		}
		seen[c.text] = true
		if c.missing {
			missing = append(missing, c.text)
		} else {
			other = append(other, c.text)
		}
	}
	sort.Strings(missing)
	sort.Strings(other)
	all := slices.Concat(missing, other)
	if len(all) > blockerLimit {
		return strings.Join(all[:blockerLimit], "; ") + fmt.Sprintf("; and %d more", len(all)-blockerLimit)
	}
	return strings.Join(all, "; ")
}

// waitingForKubelet tells whether some pod has not started its container yet: only then
// can a missing volume source be what it waits for.
func waitingForKubelet(notReady []member) bool {
	for i := range notReady {
		pod := notReady[i].pod
		if pod == nil || pod.Status.Phase == "" || pod.Status.Phase == corev1.PodPending {
			return true
		}
	}
	return false
}

// missingSources checks that the sample ConfigMap or claim exists, reading only its
// metadata. A Secret is not read (the operator has no access to Secrets): the kubelet's
// FailedMount events tell about those.
func (s *runStep) missingSources(ctx context.Context, notReady []member) []cause {
	if s.r.APIReader == nil || !waitingForKubelet(notReady) {
		return nil
	}
	set := s.lt.Spec.SampleSet
	var kind, name, field string
	switch {
	case set.ConfigMapRef != nil:
		kind, name, field = "ConfigMap", set.ConfigMapRef.Name, "spec.sampleSet.configMapRef"
	case set.PersistentVolumeClaim != nil:
		kind, name, field = "PersistentVolumeClaim", set.PersistentVolumeClaim.ClaimName, "spec.sampleSet.persistentVolumeClaim"
	default:
		return nil
	}
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
	err := s.r.APIReader.Get(ctx, client.ObjectKey{Namespace: s.lt.Namespace, Name: name}, obj)
	switch {
	case apierrors.IsNotFound(err):
		return []cause{{text: fmt.Sprintf("%s %q (%s) not found", kind, name, field), missing: true}}
	case err != nil:
		// Best effort: the pods' own state and the podsReady timeout still tell.
		logf.FromContext(ctx).V(1).Info("Could not check the sample source", "kind", kind, "name", name, "error", err.Error())
	}
	return nil
}

// failedMounts reads the kubelet's FailedMount events of the pods that wait: the only
// place where a missing ConfigMap key or Secret shows. Each distinct message is one cause.
func (s *runStep) failedMounts(ctx context.Context, notReady []member) []cause {
	if s.r.APIReader == nil || !waitingForKubelet(notReady) {
		return nil
	}
	byUID := map[string]string{}
	for i := range notReady {
		if pod := notReady[i].pod; pod != nil {
			byUID[string(pod.UID)] = pod.Name
		}
	}
	var list corev1.EventList
	err := s.r.APIReader.List(ctx, &list, client.InNamespace(s.lt.Namespace),
		client.MatchingFields{"involvedObject.kind": "Pod", "reason": "FailedMount"})
	if err != nil {
		logf.FromContext(ctx).V(1).Info("Could not read the pods' FailedMount events", "error", err.Error())
		return nil
	}
	pods := map[string][]string{} // pods by message
	for i := range list.Items {
		e := &list.Items[i]
		if name, ok := byUID[string(e.InvolvedObject.UID)]; ok && e.Message != "" {
			pods[e.Message] = append(pods[e.Message], name)
		}
	}
	out := make([]cause, 0, len(pods))
	for message, names := range pods {
		sort.Strings(names)
		who := "pod " + names[0]
		if len(names) > 1 {
			who += fmt.Sprintf(" and %d more", len(names)-1)
		}
		out = append(out, cause{text: fmt.Sprintf("%s: %s", who, message), missing: referenceMissing(message)})
	}
	return out
}

// referenceMissing tells a kubelet or scheduler message about an object or key that does
// not exist: `configmap "x" not found`, `references non-existent secret key: password`.
func referenceMissing(message string) bool {
	return strings.Contains(message, "not found") || strings.Contains(message, "non-existent")
}

// blocker says what keeps the pod from starting, from its status, when that is more than
// waiting its turn: a container the kubelet cannot create or whose image it cannot pull, or
// a pod no node can take.
func (m *member) blocker() (cause, bool) {
	if m.pod == nil {
		return cause{}, false
	}
	for _, cs := range m.pod.Status.ContainerStatuses {
		w := cs.State.Waiting
		if w == nil {
			continue
		}
		switch w.Reason {
		case "CreateContainerConfigError":
			return cause{text: fmt.Sprintf("pod %s: %s: %s", m.name, w.Reason, w.Message), missing: true}, true
		case "CreateContainerError", "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull":
			return cause{text: fmt.Sprintf("pod %s: %s: %s", m.name, w.Reason, w.Message)}, true
		}
	}
	for _, c := range m.pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return cause{text: fmt.Sprintf("pod %s: %s: %s", m.name, c.Reason, c.Message), missing: referenceMissing(c.Message)}, true
		}
	}
	return cause{}, false
}
