package capacity

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

var limits = Limits{
	MinAchievedRateRatio: 0.95,
	MaxErrorRatio:        0.001,
	MaxDLQRatio:          0.001,
	MaxEndToEndP99:       2 * time.Second,
	MaxProduceP99:        500 * time.Millisecond,
	LagSlopeNoise:        0.02,
}

func bounds(start, maxRate float64) Bounds {
	return Bounds{StartRate: start, MaxRate: maxRate, Hold: 30 * time.Second, Precision: 0.05}
}

func search(t *testing.T, b Bounds, l Limits, m *model) (Result, []Probe) {
	t.Helper()
	res, probes, err := Search(context.Background(), b, l, m, 5*time.Minute, nil)
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	if !res.Done {
		t.Fatalf("Search returned a result not done: %+v", res)
	}
	return res, probes
}

func describe(probes []Probe) string {
	var sb strings.Builder
	for _, p := range probes {
		fmt.Fprintf(&sb, "\n  %.1f/s sustained=%v %s processed=%.1f slope=%.2f %v", p.Rate, p.Verdict.Sustained, p.Verdict.Factor, p.Verdict.Processed, p.Verdict.LagSlope, p.Verdict.Reasons)
	}
	return sb.String()
}

// The search finds a pipeline's capacity within the precision asked, with a
// noisy consumer, a slow start and a lag read up to a commit interval high,
// and says the pipeline limited it. The figure never reads above what the
// pipeline kept up with by more than the slope noise tolerated.
func TestSearchFindsPipelineCapacity(t *testing.T) {
	for _, tc := range []struct {
		capacity, start, maxRate float64
		seed                     uint64
	}{
		{capacity: 300, start: 50, maxRate: 5000, seed: 1},
		{capacity: 300, start: 50, maxRate: 5000, seed: 2},
		{capacity: 1234, start: 100, maxRate: 100000, seed: 3},
		{capacity: 7777, start: 1000, maxRate: 20000, seed: 4},
		{capacity: 300, start: 1000, maxRate: 5000, seed: 5}, // starts above it: halves first
		{capacity: 45.5, start: 10, maxRate: 1000, seed: 6},
	} {
		t.Run(fmt.Sprintf("%g-from-%g-seed%d", tc.capacity, tc.start, tc.seed), func(t *testing.T) {
			m := newModel(tc.seed, model{capacity: tc.capacity, noise: 0.1, slowStart: 8 * time.Second, commitEvery: time.Second})
			b := bounds(tc.start, tc.maxRate)
			res, probes := search(t, b, limits, m)
			t.Logf("capacity %.1f (%.1f%% of %g) after %d probes", res.Capacity, 100*res.Capacity/tc.capacity, tc.capacity, len(probes))
			if res.Factor != streamreplayv1alpha1.LimitingPipeline {
				t.Errorf("factor %q, want %q; probes:%s", res.Factor, streamreplayv1alpha1.LimitingPipeline, describe(probes))
			}
			lowest, highest := tc.capacity*(1-b.Precision), tc.capacity*(1+limits.LagSlopeNoise)
			if res.Capacity < lowest || res.Capacity > highest {
				t.Errorf("capacity %.1f, want within [%.1f, %.1f]; probes:%s", res.Capacity, lowest, highest, describe(probes))
			}
			if res.Capacity > res.Sustained {
				t.Errorf("capacity %.1f above the rate asked of its probe %.1f", res.Capacity, res.Sustained)
			}
			_, hi, _ := bracket(probes)
			if hi-res.Sustained > b.Precision*res.Sustained {
				t.Errorf("bracket [%.1f, %.1f] wider than %.0f%%", res.Sustained, hi, b.Precision*100)
			}
			if !strings.Contains(res.Reason, "lag grows") && !strings.Contains(res.Reason, "end-to-end p99") {
				t.Errorf("reason %q names neither the lag nor the end-to-end p99", res.Reason)
			}
		})
	}
}

func TestSearchNamesTheLimitingFactor(t *testing.T) {
	for _, tc := range []struct {
		name     string
		m        model
		maxRate  float64
		want     streamreplayv1alpha1.LimitingFactor
		low, top float64 // the capacity's bounds
		reason   string
	}{
		{
			name: "broker", m: model{capacity: 10000, broker: 2000, noise: 0.05},
			maxRate: 50000, want: streamreplayv1alpha1.LimitingBroker, low: 1900, top: 2000, reason: "error ratio",
		},
		{
			// The generator tops out at 800/s: the probe at 800 is sustained,
			// the next one at 1600 is behind, and the search stops there
			// instead of calling 800 the pipeline's limit.
			name: "generator", m: model{capacity: 5000, generator: 800, noise: 0.05},
			maxRate: 50000, want: streamreplayv1alpha1.LimitingGenerator, low: 760, top: 800, reason: "add workers",
		},
		{
			name: "maximum rate", m: model{capacity: 10000, noise: 0.05},
			maxRate: 3000, want: streamreplayv1alpha1.LimitingMaxRate, low: 2900, top: 3000, reason: "maximum rate 3000/s",
		},
		{
			name: "stuck pipeline", m: model{capacity: 1000, stuck: true},
			maxRate: 3000, want: streamreplayv1alpha1.LimitingPipeline, low: 0, top: 0, reason: "backlog of the probe at 100/s not drained",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, probes := search(t, bounds(100, tc.maxRate), limits, newModel(7, tc.m))
			if res.Factor != tc.want {
				t.Errorf("factor %q, want %q; probes:%s", res.Factor, tc.want, describe(probes))
			}
			if res.Capacity < tc.low || res.Capacity > tc.top {
				t.Errorf("capacity %.1f, want within [%g, %g]; probes:%s", res.Capacity, tc.low, tc.top, describe(probes))
			}
			if !strings.Contains(res.Reason, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", res.Reason, tc.reason)
			}
		})
	}
}

// The probe sequence doubles, caps at the maximum and then bisects.
func TestSearchProbeSequence(t *testing.T) {
	_, probes := search(t, bounds(100, 1000), limits, newModel(1, model{capacity: 700}))
	var got []float64
	for _, p := range probes {
		got = append(got, p.Rate)
	}
	// 100, 200, 400, 800 fails, then bisect [400, 800] until 725 fails
	// within 5% of 700.
	want := []float64{100, 200, 400, 800, 600, 700, 750, 725}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rates (-want +got):\n%s%s", diff, describe(probes))
	}
}

// Next depends only on the probes done: a controller restarted after any
// probe, given the probes it stored, asks for the same next probe, and one
// restarted after the last gets the same result.
func TestNextIsRestartSafe(t *testing.T) {
	b := bounds(50, 5000)
	res, probes := search(t, b, limits, newModel(9, model{capacity: 300, noise: 0.1, slowStart: 8 * time.Second, commitEvery: time.Second}))
	for k := range probes {
		rate, r := Next(b, append([]Probe(nil), probes[:k]...))
		if r.Done || rate != probes[k].Rate {
			t.Errorf("after %d probes: next %.2f (done %v), the search ran %.2f", k, rate, r.Done, probes[k].Rate)
		}
	}
	if _, r := Next(b, probes); r != res {
		t.Errorf("after every probe: %+v, the search ended with %+v", r, res)
	}
}

func sustained(rate float64) Probe {
	return Probe{Rate: rate, Verdict: Verdict{Sustained: true, Processed: rate}}
}

func failed(rate float64, f streamreplayv1alpha1.LimitingFactor) Probe {
	return Probe{Rate: rate, Verdict: Verdict{Factor: f, Reasons: []string{"x"}}}
}

func TestNext(t *testing.T) {
	b := bounds(100, 1000)
	for _, tc := range []struct {
		name   string
		probes []Probe
		rate   float64
		want   Result
	}{
		{name: "first", rate: 100},
		{name: "doubles", probes: []Probe{sustained(100), sustained(200)}, rate: 400},
		{name: "caps at the maximum", probes: []Probe{sustained(100), sustained(200), sustained(400), sustained(800)}, rate: 1000},
		{name: "maximum sustained", probes: []Probe{sustained(800), sustained(1000)},
			want: Result{Done: true, Capacity: 1000, Sustained: 1000, Factor: streamreplayv1alpha1.LimitingMaxRate, Reason: "sustained the maximum rate 1000/s"}},
		{name: "bisects", probes: []Probe{sustained(100), sustained(200), failed(400, streamreplayv1alpha1.LimitingPipeline)}, rate: 300},
		{name: "halves when the first fails", probes: []Probe{failed(100, streamreplayv1alpha1.LimitingBroker)}, rate: 50},
		{name: "within precision", probes: []Probe{sustained(200), failed(400, streamreplayv1alpha1.LimitingPipeline), sustained(300), sustained(350), sustained(375), failed(390, streamreplayv1alpha1.LimitingPipeline)},
			want: Result{Done: true, Capacity: 375, Sustained: 375, Factor: streamreplayv1alpha1.LimitingPipeline, Reason: "at 390/s: x"}},
		{
			// 350 sustained after 300 failed is noise: it is not believed.
			name: "a sustained probe above a failed one", probes: []Probe{sustained(200), failed(400, streamreplayv1alpha1.LimitingPipeline), failed(300, streamreplayv1alpha1.LimitingPipeline), sustained(350)},
			rate: 250,
		},
		{name: "generator ends it", probes: []Probe{sustained(100), sustained(200), failed(400, streamreplayv1alpha1.LimitingGenerator)},
			want: Result{Done: true, Capacity: 200, Sustained: 200, Factor: streamreplayv1alpha1.LimitingGenerator, Reason: "at 400/s: x"}},
		{name: "nothing sustained down to the minimum", probes: []Probe{failed(100, streamreplayv1alpha1.LimitingPipeline), failed(0.05, streamreplayv1alpha1.LimitingPipeline)},
			want: Result{Done: true, Factor: streamreplayv1alpha1.LimitingPipeline, Reason: "at 0.05/s: x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rate, got := Next(b, tc.probes)
			if rate != tc.rate {
				t.Errorf("rate %.4g, want %.4g", rate, tc.rate)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNextStopsAfterMaxProbes(t *testing.T) {
	probes := make([]Probe, MaxProbes)
	for i := range probes {
		probes[i] = sustained(100)
	}
	if _, r := Next(bounds(100, 1e6), probes); !r.Done || !strings.Contains(r.Reason, "stopped after 64 probes") {
		t.Errorf("result %+v, want done after %d probes", r, MaxProbes)
	}
}

// A backlog that does not drain ends the search: the next probe would
// measure it too.
func TestSearchEndsWhenTheBacklogDoesNotDrain(t *testing.T) {
	m := newModel(1, model{capacity: 300})
	res, probes, err := Search(context.Background(), bounds(100, 5000), limits, m, 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 100, 200 sustained; 400 builds 3000 records of backlog, 10 s at 300/s.
	if res.Factor != streamreplayv1alpha1.LimitingPipeline || !strings.Contains(res.Reason, "not drained within 5s") || len(probes) != 3 {
		t.Errorf("result %+v, want limited by a backlog not drained after the 3rd probe; probes:%s", res, describe(probes))
	}
	if res.Capacity != 200 {
		t.Errorf("capacity %.1f, want 200", res.Capacity)
	}
}

func TestBoundsValidate(t *testing.T) {
	err := Bounds{StartRate: 0, MaxRate: -1, Hold: 0, Precision: 0.9}.Validate()
	for _, want := range []string{"startRate 0: must be above 0", "maxRate -1: must be at least startRate 0", "probeDuration 0s", "precision 0.9"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to contain %q", err, want)
		}
	}
	if err := bounds(1, 1).Validate(); err != nil {
		t.Errorf("valid bounds: %v", err)
	}
}

func TestResultString(t *testing.T) {
	r := Result{Done: true, Factor: streamreplayv1alpha1.LimitingPipeline, Reason: "at 0.05/s: lag grows"}
	if got, want := r.String(), "no rate sustained, limited by Pipeline: at 0.05/s: lag grows"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
