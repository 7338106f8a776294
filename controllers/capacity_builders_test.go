package controllers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/capacity"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
)

func capacityLoadTest() *loadTestWrapper {
	return loadTest(testName).Workers(3).Capacity(streamreplayv1alpha1.CapacitySearch{
		StartRate: 100, MaxRate: 1000, ProbeDuration: dur(20 * time.Second), DrainTimeout: dur(10 * time.Second), Precision: ptr.To("0.02"),
	}).Pipeline("", "crm-enricher")
}

// A Capacity run's pods get the Capacity scenario (workers: their share of maxRate, which
// sizes their batches), a run length covering the most probes, and a deadline beyond it.
func TestBuildPlanForCapacity(t *testing.T) {
	lt := capacityLoadTest().Obj()
	search := capacity.MaxProbes * (20*time.Second + 10*time.Second + probeOverhead)
	cases := []struct {
		name  string
		role  results.Role
		index int32
		want  plan.Scenario
	}{
		{"worker 0 gets the remainder", results.RoleWorker, 0, plan.Scenario{Type: "Capacity", TargetRate: 334}},
		{"worker 2", results.RoleWorker, 2, plan.Scenario{Type: "Capacity", TargetRate: 333}},
		{"observer", results.RoleObserver, 0, plan.Scenario{Type: "Capacity"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := BuildPlan(lt, tc.role, tc.index)
			if diff := cmp.Diff(tc.want, p.Scenario); diff != "" {
				t.Errorf("scenario (-want +got):\n%s", diff)
			}
			if p.Duration.Duration != search {
				t.Errorf("run length %s, want %s (64 probes of hold, drain and overhead)", p.Duration.Duration, search)
			}
		})
	}
	want := int64((readyTimeout(&lt.Spec) + startTimeout(&lt.Spec) + search + drainPeriod(&lt.Spec) + deadlineMargin) / time.Second)
	if got := activeDeadline(&lt.Spec); got != want {
		t.Errorf("activeDeadlineSeconds %d, want %d", got, want)
	}
}

func TestSearchBoundsAndLimits(t *testing.T) {
	lt := capacityLoadTest().Thresholds(streamreplayv1alpha1.Thresholds{
		MinAchievedRateRatio: ptr.To("0.9"), MaxErrorRatio: ptr.To("0.01"), MaxConsumerLag: ptr.To[int64](5000),
		MaxP99Latency: dur(250 * time.Millisecond), MaxEndToEndP99Latency: dur(2 * time.Second),
	}).Obj()
	b, err := searchBounds(lt.Spec.Capacity)
	if err != nil {
		t.Fatal(err)
	}
	wantB := capacity.Bounds{StartRate: 100, MaxRate: 1000, Hold: 20 * time.Second, Precision: 0.02, Drain: 10 * time.Second, MinRate: 1}
	if diff := cmp.Diff(wantB, b); diff != "" {
		t.Errorf("bounds (-want +got):\n%s", diff)
	}
	l, err := searchLimits(lt.Spec.Thresholds)
	if err != nil {
		t.Fatal(err)
	}
	wantL := capacity.Limits{MinAchievedRateRatio: 0.9, MaxErrorRatio: 0.01, MaxDLQRatio: 1, MaxEndToEndP99: 2 * time.Second,
		MaxProduceP99: 250 * time.Millisecond, MaxConsumerLag: 5000, LagSlopeNoise: lagSlopeNoise}
	if diff := cmp.Diff(wantL, l); diff != "" {
		t.Errorf("limits (-want +got):\n%s", diff)
	}
	// Without thresholds, the API's default ratios apply: never a probe judged by nothing.
	l, err = searchLimits(nil)
	if err != nil || l.MinAchievedRateRatio != 0.95 || l.MaxErrorRatio != 0.001 {
		t.Errorf("limits without thresholds: %+v, %v; want the default ratios", l, err)
	}
	// Left out, the hold, the drain and the precision are the CRD's defaults.
	lt = loadTest(testName).Capacity(streamreplayv1alpha1.CapacitySearch{StartRate: 100, MaxRate: 1000}).Obj()
	b, err = searchBounds(lt.Spec.Capacity)
	if err != nil {
		t.Fatal(err)
	}
	wantB = capacity.Bounds{StartRate: 100, MaxRate: 1000, Hold: time.Minute, Precision: 0.05, Drain: time.Minute, MinRate: 1}
	if diff := cmp.Diff(wantB, b); diff != "" {
		t.Errorf("bounds with the CRD's defaults (-want +got):\n%s", diff)
	}
}
