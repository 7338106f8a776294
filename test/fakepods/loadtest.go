package fakepods

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// NewLoadTest is a LoadTest of the shape the suites drive: targetRate records/s for 10s
// from a sample ConfigMap, shared by workers; a dead letter queue, so an observer pod too;
// and thresholds that the reports of WorkerReport and ObserverReport pass with a rate
// ratio of at least 0.95, no DLQ record and a p99 latency of at most 250ms. Set the
// namespace and anything else a test needs on the result. Create SamplesConfigMap in the
// same namespace: the operator reports a missing sample ConfigMap and ends the run.
func NewLoadTest(name string, workers int32, targetRate int64) *streamreplayv1alpha1.LoadTest {
	return &streamreplayv1alpha1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: streamreplayv1alpha1.LoadTestSpec{
			TargetRate: ptr.To(targetRate),
			Duration:   &metav1.Duration{Duration: 10 * time.Second},
			Workers:    workers,
			SampleSet: streamreplayv1alpha1.SampleSet{
				ConfigMapRef: &streamreplayv1alpha1.ConfigMapKeyRef{Name: "samples", Key: "samples.jsonl"},
			},
			Kafka:           streamreplayv1alpha1.Kafka{BootstrapServers: []string{"kafka:9092"}},
			Target:          streamreplayv1alpha1.Target{Topic: "dbserver1.dbo.customers"},
			DeadLetterQueue: &streamreplayv1alpha1.DeadLetterQueue{Topic: "crm.dlq"},
			Thresholds: &streamreplayv1alpha1.Thresholds{
				MinAchievedRateRatio: ptr.To("0.95"),
				MaxDLQRecords:        ptr.To[int64](0),
				MaxP99Latency:        &metav1.Duration{Duration: 250 * time.Millisecond},
			},
		},
	}
}

// SamplesConfigMap is the sample ConfigMap that NewLoadTest names, in namespace, as a user
// would create it next to the LoadTests.
func SamplesConfigMap(namespace string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "samples"},
		Data:       map[string]string{"samples.jsonl": `{"key":"1","value":{"id":1}}` + "\n"},
	}
}
