package capacity

import (
	"testing"
	"time"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// Over many seeds of a noisy model (consumption ±10%, a lag read up to a
// commit interval of 1 s high, a slow start), the figure never reads more
// than 3% above the capacity, and nearly always lands within the precision.
// Noise can only fail a probe that held, so a search that goes wrong ends
// low, not high.
func TestSearchOverManySeeds(t *testing.T) {
	const seeds = 100
	for _, c := range []float64{300, 1234, 7777} {
		lo, hi, within := 10.0, 0.0, 0
		for seed := uint64(100); seed < 100+seeds; seed++ {
			m := newModel(seed, model{capacity: c, noise: 0.1, slowStart: 8 * time.Second, commitEvery: time.Second})
			res, probes := search(t, bounds(50, 20000), limits, m)
			r := res.Capacity / c
			lo, hi = min(lo, r), max(hi, r)
			if r > 1.03 {
				t.Errorf("capacity %g, seed %d: %.1f reads %.1f%% above it; probes:%s", c, seed, res.Capacity, 100*(r-1), describe(probes))
			}
			if r >= 0.95 && r <= 1.02 && res.Factor == streamreplayv1alpha1.LimitingPipeline {
				within++
			}
		}
		t.Logf("capacity %g: figure/capacity in [%.3f, %.3f], %d of %d within [0.95, 1.02] and limited by the pipeline", c, lo, hi, within, seeds)
		if within < seeds*85/100 {
			t.Errorf("capacity %g: only %d of %d searches within [0.95, 1.02] and limited by the pipeline", c, within, seeds)
		}
	}
}
