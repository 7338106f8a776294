package config

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
)

// TestOperatorPodsMeetRestrictedPodSecurity creates, with server-side dry-run, the worker
// and observer pods the operator builds for a LoadTest that uses every kind of volume
// (ConfigMap samples, TLS and SASL Secrets) in a namespace that enforces the "restricted"
// Pod Security Standard: the API server's own admission plugin must accept them.
func TestOperatorPodsMeetRestrictedPodSecurity(t *testing.T) {
	_, c := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := createNamespace(ctx, t, c, "restricted")
	var namespace corev1.Namespace
	if err := c.Get(ctx, client.ObjectKey{Name: ns}, &namespace); err != nil {
		t.Fatal(err)
	}
	namespace.Labels = map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}
	if err := c.Update(ctx, &namespace); err != nil {
		t.Fatal(err)
	}

	lt := &streamreplayv1alpha1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{Name: "psa", Namespace: ns, UID: types.UID("0b7e3f2c-1111-2222-3333-444455556666")},
		Spec: streamreplayv1alpha1.LoadTestSpec{
			TargetRate: ptr.To[int64](100),
			Duration:   &metav1.Duration{Duration: time.Minute},
			Workers:    2,
			SampleSet:  streamreplayv1alpha1.SampleSet{ConfigMapRef: &streamreplayv1alpha1.ConfigMapKeyRef{Name: "samples", Key: "samples.jsonl.gz"}},
			Kafka: streamreplayv1alpha1.Kafka{
				BootstrapServers: []string{"kafka:9093"},
				TLS: &streamreplayv1alpha1.KafkaTLS{
					CASecretRef:         &streamreplayv1alpha1.SecretKeyRef{Name: "kafka-ca", Key: "ca.crt"},
					ClientCertSecretRef: &streamreplayv1alpha1.SecretRef{Name: "kafka-client"},
				},
				SASL: &streamreplayv1alpha1.KafkaSASL{Mechanism: streamreplayv1alpha1.SASLScramSHA512, SecretRef: streamreplayv1alpha1.SecretRef{Name: "kafka-user"}},
			},
			Target:          streamreplayv1alpha1.Target{Topic: "in"},
			DeadLetterQueue: &streamreplayv1alpha1.DeadLetterQueue{Topic: "dlq"},
		},
	}
	worker, err := controllers.BuildWorkerPod(lt, 1, "streamreplay:test")
	if err != nil {
		t.Fatal(err)
	}
	observer, err := controllers.BuildObserverPod(lt, "streamreplay:test")
	if err != nil {
		t.Fatal(err)
	}
	for _, pod := range []*corev1.Pod{worker, observer} {
		if err := c.Create(ctx, pod.DeepCopy(), client.DryRunAll); err != nil {
			t.Errorf("pod %s is refused in a namespace that enforces the restricted Pod Security Standard: %v", pod.Name, err)
		}
	}

	// The plugin is on: the same pod running as root is refused.
	root := worker.DeepCopy()
	root.Spec.SecurityContext.RunAsNonRoot = ptr.To(false)
	root.Spec.SecurityContext.RunAsUser = ptr.To[int64](0)
	root.Spec.Containers[0].SecurityContext.RunAsNonRoot = nil
	if err := c.Create(ctx, root, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "PodSecurity") {
		t.Errorf("a worker pod running as root: err = %v, want a PodSecurity refusal", err)
	}
}
