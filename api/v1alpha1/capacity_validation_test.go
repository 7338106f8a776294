package v1alpha1_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// capacityBase is a valid Capacity LoadTest: no targetRate, no duration, spec.capacity.
func capacityBase(name string) *v1alpha1.LoadTest {
	lt := base(name)
	lt.Spec.Scenario = v1alpha1.Scenario{Type: v1alpha1.ScenarioCapacity}
	lt.Spec.TargetRate, lt.Spec.Duration = nil, nil
	lt.Spec.Capacity = &v1alpha1.CapacitySearch{StartRate: 100, MaxRate: 1000}
	lt.Spec.Pipeline = &v1alpha1.Pipeline{ConsumerGroup: "crm-enricher"}
	return lt
}

func TestInvalidCapacityLoadTestsAreRefused(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*v1alpha1.LoadTest)
		raw    func(map[string]any)
		wants  []string
	}{
		{
			name:   "Capacity without capacity",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Capacity = nil },
			wants:  []string{"capacity must be set for scenario Capacity and only for it"},
		},
		{
			name: "capacity with Constant",
			mutate: func(lt *v1alpha1.LoadTest) {
				*lt = *base(lt.Name)
				lt.Spec.Capacity = &v1alpha1.CapacitySearch{StartRate: 100, MaxRate: 1000}
			},
			wants: []string{"capacity must be set for scenario Capacity and only for it"},
		},
		{
			name:   "Capacity with targetRate",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.TargetRate = ptr.To[int64](100) },
			wants:  []string{"targetRate and duration must not be set for a Capacity scenario"},
		},
		{
			name:   "Capacity with duration",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Duration = duration(time.Minute) },
			wants:  []string{"targetRate and duration must not be set for a Capacity scenario"},
		},
		{
			name: "Capacity with stages",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Scenario.Stages = []v1alpha1.Stage{{Duration: *duration(time.Minute), TargetRate: 10}}
			},
			wants: []string{"stages must be set for type Stages and only for it"},
		},
		{
			name:   "startRate above maxRate",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Capacity.StartRate = 2000 },
			wants:  []string{"spec.capacity", "capacity.startRate must be at most capacity.maxRate"},
		},
		{
			name:  "startRate 0",
			raw:   set(int64(0), "spec.capacity.startRate"),
			wants: []string{"spec.capacity.startRate", "should be greater than or equal to 1"},
		},
		{
			name:   "maxRate above the maximum",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Capacity.MaxRate = 10_000_001 },
			wants:  []string{"spec.capacity.maxRate", "should be less than or equal to 10000000"},
		},
		{
			name: "startRate below one per worker",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Capacity.StartRate = 3
				lt.Spec.Workers = 4
			},
			wants: []string{"spec.capacity.startRate", "capacity.startRate must be at least one record per second per worker"},
		},
		{
			name:   "probeDuration below 10s",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Capacity.ProbeDuration = duration(5 * time.Second) },
			wants:  []string{"spec.capacity.probeDuration", "probeDuration must be between 10s and 1h"},
		},
		{
			name:  "probeDuration not a duration",
			raw:   set("a minute", "spec.capacity.probeDuration"),
			wants: []string{"spec.capacity.probeDuration", "probeDuration must be between 10s and 1h"},
		},
		{
			name:   "drainTimeout above 1h",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Capacity.DrainTimeout = duration(2 * time.Hour) },
			wants:  []string{"spec.capacity.drainTimeout", "drainTimeout must be between 0s and 1h"},
		},
		{
			name:   "precision 0.6",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Capacity.Precision = ptr.To("0.6") },
			wants:  []string{"spec.capacity.precision", "precision must be a decimal between 0.001 and 0.5"},
		},
		{
			name:   "precision not a decimal",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Capacity.Precision = ptr.To("5%") },
			wants:  []string{"spec.capacity.precision", "precision must be a decimal between 0.001 and 0.5"},
		},
		{
			name: "minCapacity without Capacity",
			mutate: func(lt *v1alpha1.LoadTest) {
				*lt = *base(lt.Name)
				lt.Spec.Thresholds.MinCapacity = ptr.To[int64](100)
			},
			wants: []string{"thresholds.minCapacity needs scenario Capacity"},
		},
		{
			name:   "Capacity without a consumer group",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Pipeline = nil },
			wants:  []string{"scenario Capacity needs pipeline.consumerGroup"},
		},
		{
			name:   "minCapacity above maxRate",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Thresholds.MinCapacity = ptr.To[int64](1001) },
			wants:  []string{"spec.thresholds.minCapacity", "thresholds.minCapacity must be at most capacity.maxRate"},
		},
		{
			name:   "Capacity with earlyStop",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.EarlyStop = &v1alpha1.EarlyStop{} },
			wants:  []string{"earlyStop does not apply to scenario Capacity"},
		},
		{
			name:   "minCapacity negative",
			raw:    set(int64(-1), "spec.thresholds.minCapacity"),
			wants:  []string{"spec.thresholds.minCapacity", "should be greater than or equal to 0"},
			mutate: nil,
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			lt := capacityBase(fmt.Sprintf("invalid-capacity-%02d", i))
			if tc.mutate != nil {
				tc.mutate(lt)
			}
			u := toUnstructured(t, lt)
			if tc.raw != nil {
				tc.raw(u.Object)
			}
			err := k8sClient.Create(ctx, u)
			if err == nil {
				_ = k8sClient.Delete(ctx, u)
			}
			expectInvalid(t, err, tc.wants...)
		})
	}
}

func TestCapacityLoadTestIsAcceptedWithDefaults(t *testing.T) {
	ctx := testContext(t)
	lt := capacityBase("valid-capacity")
	lt.Spec.Thresholds.MinCapacity = ptr.To[int64](500)
	if err := k8sClient.Create(ctx, lt); err != nil {
		t.Fatalf("creating a valid Capacity LoadTest: %v", err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(ctx, lt) })
	want := &v1alpha1.CapacitySearch{
		StartRate: 100, MaxRate: 1000,
		ProbeDuration: duration(time.Minute), Precision: ptr.To("0.05"), DrainTimeout: duration(time.Minute),
	}
	if diff := cmp.Diff(want, lt.Spec.Capacity); diff != "" {
		t.Errorf("spec.capacity after admission (-want +got):\n%s", diff)
	}
	if got := lt.Spec.Thresholds.MinCapacity; got == nil || *got != 500 {
		t.Errorf("thresholds.minCapacity = %v, want 500", got)
	}

	// spec.capacity is immutable like the rest of the spec.
	lt.Spec.Capacity.MaxRate = 2000
	expectInvalid(t, k8sClient.Update(ctx, lt), "capacity is immutable")
}
