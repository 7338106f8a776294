package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/test/fakepods"
)

// waitWarning waits for a Warning event on the object with uid whose reason is reason
// and whose note contains every want.
func (h *harness) waitWarning(uid types.UID, reason string, wants ...string) {
	h.t.Helper()
	fakepods.Eventually(h.t, "a Warning event "+reason, 10*time.Second, func() error {
		var list eventsv1.EventList
		if err := k8s.List(h.ctx, &list, client.InNamespace(h.namespace)); err != nil {
			return err
		}
		var seen []string
		for _, e := range list.Items {
			if e.Regarding.UID != uid {
				continue
			}
			seen = append(seen, e.Type+" "+e.Reason+": "+e.Note)
			if e.Type != corev1.EventTypeWarning || e.Reason != reason {
				continue
			}
			missing := false
			for _, want := range wants {
				missing = missing || !strings.Contains(e.Note, want)
			}
			if !missing {
				return nil
			}
		}
		return fmt.Errorf("events seen: %q", seen)
	})
}

// expectMessage checks that the LoadTest's message contains every want.
func expectMessage(t *testing.T, lt *streamreplayv1alpha1.LoadTest, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(lt.Status.Message, want) {
			t.Errorf("message %q does not contain %q", lt.Status.Message, want)
		}
	}
}

// TestMissingSampleConfigMapFailsWithinAMinute: the missing ConfigMap is named in the
// message and an event at once, and the run ends in Error 30s after its creation, not
// after timeouts.podsReady (5m). The pods stay until the Error is recorded.
func TestMissingSampleConfigMapFailsWithinAMinute(t *testing.T) {
	h := newHarness(t)
	lt := newLoadTest("no-samples", 2)
	lt.Spec.SampleSet.ConfigMapRef.Name = "crm-samples-typo"
	h.create(lt)
	h.waitPods(lt.Name, 3)

	const cause = `ConfigMap "crm-samples-typo" (spec.sampleSet.configMapRef) not found`
	var waiting *streamreplayv1alpha1.LoadTest
	fakepods.Eventually(t, "the cause in the message", 10*time.Second, func() error {
		waiting = h.get(lt.Name)
		if !strings.Contains(waiting.Status.Message, cause) {
			return fmt.Errorf("phase %s, message %q", waiting.Status.Phase, waiting.Status.Message)
		}
		return nil
	})
	if waiting.Status.Phase != streamreplayv1alpha1.PhaseStarting {
		t.Errorf("phase %s while the ConfigMap may still come, want Starting", waiting.Status.Phase)
	}
	if c := meta.FindStatusCondition(waiting.Status.Conditions, streamreplayv1alpha1.ConditionReconciling); c == nil || c.Message != waiting.Status.Message {
		t.Errorf("Reconciling condition %+v does not carry the cause (what Flux shows)", c)
	}
	h.waitWarning(waiting.UID, "ReferenceNotFound", cause)

	deadline := waiting.CreationTimestamp.Add(30 * time.Second)
	h.setClock(deadline.Add(-time.Millisecond))
	h.settle(lt.Name)
	if got := h.get(lt.Name); got.Status.Phase != streamreplayv1alpha1.PhaseStarting {
		t.Fatalf("phase %s before the 30s grace (message %q), want Starting", got.Status.Phase, got.Status.Message)
	}
	if n := len(h.pods(lt.Name)); n != 3 {
		t.Errorf("%d pods before the run ended, want all 3", n)
	}

	h.setClock(deadline)
	h.poke(lt.Name)
	done := h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseError)
	expectMessage(t, done, "the pods cannot start", cause)
	if c := meta.FindStatusCondition(done.Status.Conditions, streamreplayv1alpha1.ConditionStalled); c == nil || c.Reason != "ReferenceNotFound" {
		t.Errorf("Stalled condition %+v, want reason ReferenceNotFound", c)
	}
	h.waitWarning(done.UID, "Error", cause)
	h.expectOutcomeInResults(done)
}

// TestMissingSecretSeenInKubeletEvents: the operator cannot read Secrets; a missing one
// shows in the kubelet's FailedMount events of the pods, and that is what the message
// and the Error say.
func TestMissingSecretSeenInKubeletEvents(t *testing.T) {
	h := newHarness(t)
	lt := newLoadTest("no-secret", 1)
	lt.Spec.Kafka.SASL = &streamreplayv1alpha1.KafkaSASL{Mechanism: streamreplayv1alpha1.SASLScramSHA512, SecretRef: streamreplayv1alpha1.SecretRef{Name: "kafka-user"}}
	h.create(lt)
	pods := h.waitPods(lt.Name, 2)

	h.settle(lt.Name)
	if got := h.get(lt.Name); strings.Contains(got.Status.Message, "cannot start") {
		t.Fatalf("a cause before the kubelet said anything: %q", got.Status.Message)
	}
	const mount = `MountVolume.SetUp failed for volume "kafka-sasl" : secret "kafka-user" not found`
	for i := range pods {
		if err := fakepods.RecordFailedMount(h.ctx, k8s, &pods[i], mount); err != nil {
			t.Fatal(err)
		}
	}
	// Another pod's event (same name, earlier run) says nothing about these pods.
	stale := pods[0].DeepCopy()
	stale.UID = "00000000-0000-0000-0000-000000000000"
	if err := fakepods.RecordFailedMount(h.ctx, k8s, stale, `secret "someone-else" not found`); err != nil {
		t.Fatal(err)
	}
	h.poke(lt.Name)
	// A reconcile between the two events may write a message naming one pod; wait for
	// the one that names both.
	want := "pod no-secret-observer and 1 more: " + mount
	var waiting *streamreplayv1alpha1.LoadTest
	fakepods.Eventually(t, "the kubelet's cause for both pods in the message", 10*time.Second, func() error {
		waiting = h.get(lt.Name)
		if !strings.Contains(waiting.Status.Message, want) {
			return fmt.Errorf("message %q", waiting.Status.Message)
		}
		return nil
	})
	if strings.Contains(waiting.Status.Message, "someone-else") {
		t.Errorf("message names another pod's event: %q", waiting.Status.Message)
	}

	h.setClock(waiting.CreationTimestamp.Add(30 * time.Second))
	h.poke(lt.Name)
	done := h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseError)
	expectMessage(t, done, `secret "kafka-user" not found`)
}

// TestContainerConfigErrorFailsAfterGrace: a container the kubelet cannot configure says
// why in its waiting state; that reaches the message, and the run ends after the grace.
func TestContainerConfigErrorFailsAfterGrace(t *testing.T) {
	h := newHarness(t)
	lt := newLoadTest("config-error", 1)
	h.create(lt)
	pods := h.waitPods(lt.Name, 2)
	h.markReady(&pods[0], h.serveControl())
	if err := fakepods.UpdateStatus(h.ctx, k8s, &pods[1], func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodPending
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: "replay", Image: p.Spec.Containers[0].Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: `secret "kafka-user" not found`}},
		}}
	}); err != nil {
		t.Fatal(err)
	}
	h.setClock(h.get(lt.Name).CreationTimestamp.Add(30 * time.Second))
	h.poke(lt.Name)
	done := h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseError)
	expectMessage(t, done, "pod "+pods[1].Name+`: CreateContainerConfigError: secret "kafka-user" not found`)
}

// TestQuotaExceededRetriesThenFails: a ResourceQuota refusing a pod is a wait, not an
// end: the message and an event name the quota at once, the creation is retried, and
// only at timeouts.podsReady does the run end in Error naming the quota. A quota that
// frees up in time lets the run go on.
func TestQuotaExceededRetriesThenFails(t *testing.T) {
	for _, freed := range []bool{false, true} {
		t.Run(map[bool]string{false: "never freed", true: "freed in time"}[freed], func(t *testing.T) {
			h := newHarness(t)
			h.setPodQuota(2)
			lt := newLoadTest("quota", 2) // 3 pods
			h.create(lt)

			var waiting *streamreplayv1alpha1.LoadTest
			fakepods.Eventually(t, "the quota in the message", 10*time.Second, func() error {
				waiting = h.get(lt.Name)
				if !strings.Contains(waiting.Status.Message, "exceeded quota: pods") {
					return fmt.Errorf("phase %s, message %q", waiting.Status.Phase, waiting.Status.Message)
				}
				return nil
			})
			if waiting.Status.Phase != streamreplayv1alpha1.PhasePending {
				t.Errorf("phase %s while the quota may free up, want Pending", waiting.Status.Phase)
			}
			expectMessage(t, waiting, "cannot create pod quota-observer yet", "retrying until")
			if diff := kstatusConditions(waiting); diff["Reconciling"] != "True" || diff["Stalled"] != "False" {
				t.Errorf("conditions while retrying: %v", diff)
			}
			h.waitWarning(waiting.UID, "QuotaExceeded", "exceeded quota: pods")

			deadline := waiting.CreationTimestamp.Add(5 * time.Minute)
			h.setClock(deadline.Add(-time.Millisecond))
			h.settle(lt.Name)
			if got := h.get(lt.Name); got.Status.Phase != streamreplayv1alpha1.PhasePending {
				t.Fatalf("phase %s before timeouts.podsReady (message %q), want Pending", got.Status.Phase, got.Status.Message)
			}
			if freed {
				h.setPodQuota(3)
				h.poke(lt.Name)
				h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseStarting)
				h.waitPods(lt.Name, 3)
				return
			}
			h.setClock(deadline)
			h.poke(lt.Name)
			done := h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseError)
			expectMessage(t, done, "could not create pod quota-observer within timeouts.podsReady (5m0s)", "exceeded quota: pods")
			if c := meta.FindStatusCondition(done.Status.Conditions, streamreplayv1alpha1.ConditionStalled); c == nil || c.Reason != "QuotaExceeded" {
				t.Errorf("Stalled condition %+v, want reason QuotaExceeded", c)
			}
		})
	}
}

// setPodQuota limits the namespace to n pods with a ResourceQuota named "pods". envtest
// runs no quota controller, so the test writes the status that the quota admission plugin
// starts from (hard, and the pods in use).
func (h *harness) setPodQuota(n int64) {
	h.t.Helper()
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: h.namespace, Name: "pods"}}
	err := k8s.Get(h.ctx, client.ObjectKeyFromObject(q), q)
	hard := corev1.ResourceList{corev1.ResourcePods: *resource.NewQuantity(n, resource.DecimalSI)}
	switch {
	case apierrors.IsNotFound(err):
		q.Spec.Hard = hard
		if err := k8s.Create(h.ctx, q); err != nil {
			h.t.Fatalf("creating the ResourceQuota: %v", err)
		}
	case err != nil:
		h.t.Fatal(err)
	default:
		q.Spec.Hard = hard
		if err := k8s.Update(h.ctx, q); err != nil {
			h.t.Fatalf("updating the ResourceQuota: %v", err)
		}
	}
	used := int64(len(h.allPods()))
	q.Status = corev1.ResourceQuotaStatus{Hard: hard, Used: corev1.ResourceList{corev1.ResourcePods: *resource.NewQuantity(used, resource.DecimalSI)}}
	if err := k8s.Status().Update(h.ctx, q); err != nil {
		h.t.Fatalf("writing the ResourceQuota's status: %v", err)
	}
}

func (h *harness) allPods() []corev1.Pod {
	h.t.Helper()
	var list corev1.PodList
	if err := k8s.List(h.ctx, &list, client.InNamespace(h.namespace)); err != nil {
		h.t.Fatal(err)
	}
	return list.Items
}

// TestPodRefusedByAdmissionPolicyEndsInError: a pod that admission refuses (here a
// ValidatingAdmissionPolicy of the API server) cannot be created by retrying: the run ends
// in Error at once, naming the pod and the policy's message. The policy answers Invalid
// by default, and Forbidden as Pod Security and most webhooks do.
func TestPodRefusedByAdmissionPolicyEndsInError(t *testing.T) {
	for _, reason := range []metav1.StatusReason{metav1.StatusReasonInvalid, metav1.StatusReasonForbidden} {
		t.Run(string(reason), func(t *testing.T) { testPodRefused(t, reason) })
	}
}

func testPodRefused(t *testing.T, reason metav1.StatusReason) {
	h := newHarness(t)
	h.refusePods("images must come from registry.example.com", reason)
	lt := newLoadTest("refused", 1)
	h.create(lt)
	done := h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseError)
	expectMessage(t, done, "the API server refused to create pod refused-worker-0", "images must come from registry.example.com")
	if diff := kstatusConditions(done); diff["Stalled"] != "True" || diff["Reconciling"] != "False" {
		t.Errorf("conditions after a refusal: %v", diff)
	}
	if c := meta.FindStatusCondition(done.Status.Conditions, streamreplayv1alpha1.ConditionStalled); c == nil || c.Reason != "CreateRefused" {
		t.Errorf("Stalled condition %+v, want reason CreateRefused", c)
	}
	h.waitWarning(done.UID, "Error", "images must come from registry.example.com")
	h.expectOutcomeInResults(done)
}

// refusePods installs a ValidatingAdmissionPolicy that refuses the pods of the test's
// namespace whose image is not from registry.example.com, and waits until it is in force.
func (h *harness) refusePods(message string, reason metav1.StatusReason) {
	h.t.Helper()
	name := "refuse-pods-" + h.namespace
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{
				Expression: "object.spec.containers.all(c, c.image.startsWith('registry.example.com/'))",
				Message:    message,
				Reason:     &reason,
			}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": h.namespace},
			}},
		},
	}
	for _, obj := range []client.Object{policy, binding} {
		if err := k8s.Create(h.ctx, obj); err != nil {
			h.t.Fatalf("creating %T: %v", obj, err)
		}
		h.t.Cleanup(func() { _ = k8s.Delete(h.ctx, obj) })
	}
	probe := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.namespace, Name: "probe"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "elsewhere/probe:1"}}},
	}
	fakepods.Eventually(h.t, "the admission policy in force", 30*time.Second, func() error {
		err := k8s.Create(h.ctx, probe.DeepCopy(), client.DryRunAll)
		if err == nil {
			return fmt.Errorf("a probe pod was admitted")
		}
		if !strings.Contains(err.Error(), message) || apierrors.ReasonForError(err) != reason {
			return fmt.Errorf("probe pod refused with reason %q: %w", apierrors.ReasonForError(err), err)
		}
		return nil
	})
}
