package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/plan"
)

// TestAWSMSKIAMPods: with AWS_MSK_IAM the worker and observer pods mount no SASL Secret and
// their plan names the mechanism and the region only: they sign with their own AWS
// credentials, from the service account (IRSA or EKS Pod Identity).
func TestAWSMSKIAMPods(t *testing.T) {
	lt := loadTest(testName).TLS(streamreplayv1alpha1.KafkaTLS{}).
		SASL(streamreplayv1alpha1.KafkaSASL{Mechanism: streamreplayv1alpha1.SASLAWSMSKIAM, AWSRegion: "eu-west-1"}).
		WorkerTemplate(streamreplayv1alpha1.WorkerTemplate{ServiceAccountName: "loadgen-irsa"}).Obj()
	for name, pod := range map[string]func() (*plan.Plan, []string, string){
		"worker": func() (*plan.Plan, []string, string) {
			p := mustWorkerPod(t, lt, 0)
			return podPlan(t, p), volumeNames(p.Spec.Volumes), p.Spec.ServiceAccountName
		},
		"observer": func() (*plan.Plan, []string, string) {
			p := mustObserverPod(t, lt)
			return podPlan(t, p), volumeNames(p.Spec.Volumes), p.Spec.ServiceAccountName
		},
	} {
		p, volumes, sa := pod()
		want := &plan.SASL{Mechanism: "AWS_MSK_IAM", AWSRegion: "eu-west-1"}
		if diff := cmp.Diff(want, p.Kafka.SASL); diff != "" {
			t.Errorf("%s plan SASL mismatch (-want +got):\n%s", name, diff)
		}
		for _, v := range volumes {
			if v == saslVolume {
				t.Errorf("%s pod mounts a SASL volume: %v", name, volumes)
			}
		}
		if sa != "loadgen-irsa" {
			t.Errorf("%s pod runs as service account %q, want the spec's loadgen-irsa", name, sa)
		}
	}
}

func volumeNames(vs []corev1.Volume) []string {
	names := make([]string, 0, len(vs))
	for _, v := range vs {
		names = append(names, v.Name)
	}
	return names
}
