package controllers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
)

// TestCRDDefaultsAsTheAPIServerWrites: the defaulting the unit tests build their LoadTests
// with gives the spec and status the API server stores for the same LoadTests, with every
// field that has a default left out. No manager runs in the namespace: nothing else writes.
func TestCRDDefaultsAsTheAPIServerWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := fmt.Sprintf("test-%d", namespaceSeq.Add(1))
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	spec := func() streamreplayv1alpha1.LoadTestSpec {
		return streamreplayv1alpha1.LoadTestSpec{
			SampleSet: streamreplayv1alpha1.SampleSet{ConfigMapRef: &streamreplayv1alpha1.ConfigMapKeyRef{Name: "samples", Key: "samples.jsonl"}},
			Kafka:     streamreplayv1alpha1.Kafka{BootstrapServers: []string{"kafka:9092"}},
			Target:    streamreplayv1alpha1.Target{Topic: "in"},
		}
	}
	constant := spec()
	constant.TargetRate, constant.Duration = ptr.To[int64](100), &metav1.Duration{Duration: time.Minute}
	constant.EarlyStop = &streamreplayv1alpha1.EarlyStop{}
	capacity := spec()
	capacity.Scenario.Type = streamreplayv1alpha1.ScenarioCapacity
	capacity.Capacity = &streamreplayv1alpha1.CapacitySearch{StartRate: 10, MaxRate: 1000}
	capacity.Pipeline = &streamreplayv1alpha1.Pipeline{ConsumerGroup: "enricher"}
	for name, spec := range map[string]streamreplayv1alpha1.LoadTestSpec{"constant": constant, "capacity": capacity} {
		sent := &streamreplayv1alpha1.LoadTest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
		want := controllers.WithCRDDefaults(sent)
		if err := k8s.Create(ctx, sent.DeepCopy()); err != nil {
			t.Fatalf("creating LoadTest %s: %v", name, err)
		}
		got := &streamreplayv1alpha1.LoadTest{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(sent), got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want.Spec, got.Spec); diff != "" {
			t.Errorf("%s: spec defaulted by the unit tests' helper (-) and by the API server (+):\n%s", name, diff)
		}
		if diff := cmp.Diff(want.Status, got.Status); diff != "" {
			t.Errorf("%s: status defaulted by the unit tests' helper (-) and by the API server (+):\n%s", name, diff)
		}
	}
}
