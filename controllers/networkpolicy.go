package controllers

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/plan"
)

// NetworkPolicyConfig says who may reach a run's pods. With it, the operator creates
// one NetworkPolicy per run, in the run's namespace, wherever that is: a policy shipped
// in the operator's namespace would not select pods of other namespaces.
type NetworkPolicyConfig struct {
	// OperatorNamespace and OperatorPodLabels select the operator's pods, the only ones
	// that may reach the control port.
	OperatorNamespace string
	OperatorPodLabels map[string]string
	// MetricsNamespaces selects the namespaces that may reach the metrics port (Prometheus).
	MetricsNamespaces metav1.LabelSelector
}

// NetworkPolicyName is the deterministic name of the run's NetworkPolicy.
func NetworkPolicyName(lt *streamreplayv1alpha1.LoadTest) string {
	return lt.Name + "-pods"
}

// BuildNetworkPolicy builds the run's NetworkPolicy, without owner reference: the run's
// pods accept the control port from the operator's pods only and the metrics port from
// the monitoring namespaces only; nothing else may reach them (the kubelet's probes
// always may). Egress is left alone: the pods reach Kafka and the samples.
func BuildNetworkPolicy(lt *streamreplayv1alpha1.LoadTest, cfg *NetworkPolicyConfig) *networkingv1.NetworkPolicy {
	port := func(p int) []networkingv1.NetworkPolicyPort {
		return []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt(p))}}
	}
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{
			Name:      NetworkPolicyName(lt),
			Namespace: lt.Namespace,
			Labels:    childLabels(lt, "network-policy"),
		},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selectorLabels(lt)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{
					Ports: port(plan.ControlPort),
					// One peer: the namespace AND the pod labels must both match.
					From: []networkingv1.NetworkPolicyPeer{{
						NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: cfg.OperatorNamespace}},
						PodSelector:       &metav1.LabelSelector{MatchLabels: maps.Clone(cfg.OperatorPodLabels)},
					}},
				},
				{
					Ports: port(plan.MetricsPort),
					From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: cfg.MetricsNamespaces.DeepCopy()}},
				},
			},
		},
	}
}
