package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestBuildNetworkPolicy(t *testing.T) {
	cfg := &NetworkPolicyConfig{
		OperatorNamespace: "streamreplay-system",
		OperatorPodLabels: map[string]string{"control-plane": "controller-manager"},
		MetricsNamespaces: metav1.LabelSelector{MatchLabels: map[string]string{"metrics": "enabled"}},
	}
	got := BuildNetworkPolicy(loadTest(testName).Obj(), cfg)
	tcp := ptr.To(corev1.ProtocolTCP)
	want := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "crm-cdc-peak-pods",
			Namespace: "loadtests",
			Labels: map[string]string{
				"app.kubernetes.io/name":       "streamreplay",
				"app.kubernetes.io/component":  "network-policy",
				"app.kubernetes.io/managed-by": "streamreplay-operator",
				"streamreplay.io/loadtest":     "crm-cdc-peak",
				"streamreplay.io/run-id":       testUID,
			},
		},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"streamreplay.io/loadtest": "crm-cdc-peak", "streamreplay.io/run-id": testUID}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: ptr.To(intstr.FromInt(9400))}},
					From: []networkingv1.NetworkPolicyPeer{{
						NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "streamreplay-system"}},
						PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"control-plane": "controller-manager"}},
					}},
				},
				{
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: ptr.To(intstr.FromInt(9401))}},
					From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"metrics": "enabled"}}}},
				},
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("BuildNetworkPolicy mismatch (-want +got):\n%s", diff)
	}
	// The policy does not share the config's maps: a later change of one is no change of the other.
	got.Spec.Ingress[0].From[0].PodSelector.MatchLabels["x"] = "y"
	got.Spec.Ingress[1].From[0].NamespaceSelector.MatchLabels["x"] = "y"
	if len(cfg.OperatorPodLabels) != 1 || len(cfg.MetricsNamespaces.MatchLabels) != 1 {
		t.Error("BuildNetworkPolicy shares maps with its config")
	}
}
