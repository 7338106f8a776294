package capacity

import (
	"strings"
	"testing"
	"time"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// lagLine returns samples every 2 s over 30 s of a lag growing by slope/s.
func lagLine(slope float64) []LagSample {
	var out []LagSample
	for at := 2 * time.Second; at <= 30*time.Second; at += 2 * time.Second {
		out = append(out, LagSample{At: at, Lag: int64(100 + slope*at.Seconds())})
	}
	return out
}

func TestEvaluate(t *testing.T) {
	held := Signals{
		Rate: 1000, Hold: 30 * time.Second, Scheduled: 30000, Acknowledged: 30000,
		ProduceP99: 10 * time.Millisecond, EndToEndP99: 50 * time.Millisecond, HasEndToEnd: true, Lag: lagLine(0),
	}
	for _, tc := range []struct {
		name      string
		change    func(*Signals)
		factor    streamreplayv1alpha1.LimitingFactor
		reason    string
		processed float64
	}{
		{name: "sustained", change: func(*Signals) {}, processed: 1000},
		{name: "lag growth within the noise", change: func(s *Signals) { s.Lag = lagLine(15) }, processed: 985},
		{name: "lag grows", change: func(s *Signals) { s.Lag = lagLine(50) }, factor: streamreplayv1alpha1.LimitingPipeline, reason: "lag grows 50"},
		{name: "lag grows only in the settle", change: func(s *Signals) {
			s.Lag = lagLine(0)
			for i := range 4 { // the first 8 s of 30: inside the first third
				s.Lag[i].Lag = int64(5000 - 1000*i)
			}
		}, processed: 1000},
		{name: "end-to-end p99", change: func(s *Signals) { s.EndToEndP99 = 3 * time.Second }, factor: streamreplayv1alpha1.LimitingPipeline, reason: "end-to-end p99 3s > 2s"},
		{name: "no end-to-end data", change: func(s *Signals) { s.HasEndToEnd = false }, factor: streamreplayv1alpha1.LimitingPipeline, reason: "end-to-end p99: no data"},
		{name: "dead letters", change: func(s *Signals) { s.DeadLetters = 60 }, factor: streamreplayv1alpha1.LimitingPipeline, reason: "dead-letter ratio 0.002 > 0.001"},
		{name: "too few lag samples", change: func(s *Signals) { s.Lag = s.Lag[:3] }, factor: streamreplayv1alpha1.LimitingPipeline, reason: "too few to fit a slope"},
		{name: "produce errors while the pipeline keeps up", change: func(s *Signals) { s.Failed, s.Acknowledged = 600, 29400 }, factor: streamreplayv1alpha1.LimitingBroker, reason: "error ratio 0.02 > 0.001"},
		{
			// 30 of the 28,830 sent failed: 0.00104, over the limit as the
			// verdict reads it, though 30 of the 30,000 scheduled is 0.001.
			name: "error ratio of what was sent", change: func(s *Signals) { s.Acknowledged, s.Failed = 28800, 30 }, factor: streamreplayv1alpha1.LimitingBroker, reason: "error ratio 0.001041 > 0.001",
		},
		{name: "produce latency and lag", change: func(s *Signals) { s.ProduceP99, s.Lag = time.Second, lagLine(50) }, factor: streamreplayv1alpha1.LimitingBroker, reason: "produce p99 1s > 500ms"},
		{name: "workers behind, broker in time", change: func(s *Signals) { s.MaxBehind, s.Acknowledged = 5*time.Second, 25000 }, factor: streamreplayv1alpha1.LimitingGenerator, reason: "add workers"},
		{
			// Behind with lag growing is still the generator's: the probe
			// never asked the pipeline for its rate.
			name: "workers behind and lag grows", change: func(s *Signals) { s.MaxBehind, s.Lag = 5*time.Second, lagLine(50) }, factor: streamreplayv1alpha1.LimitingGenerator, reason: "add workers",
		},
		{name: "short without errors", change: func(s *Signals) { s.Acknowledged = 20000 }, factor: streamreplayv1alpha1.LimitingGenerator, reason: "the workers did not send it"},
		{name: "short with errors", change: func(s *Signals) { s.Acknowledged, s.Failed = 20000, 10000 }, factor: streamreplayv1alpha1.LimitingBroker, reason: "achieved 666.7/s of 1000/s"},
		{name: "not measured", change: func(s *Signals) { s.Scheduled = 0 }, factor: streamreplayv1alpha1.LimitingGenerator, reason: "probe not measured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := held
			s.Lag = append([]LagSample(nil), held.Lag...)
			tc.change(&s)
			v := Evaluate(limits, s)
			if v.Sustained != (tc.factor == "") || v.Factor != tc.factor {
				t.Fatalf("sustained %v factor %q, want factor %q; reasons %q", v.Sustained, v.Factor, tc.factor, v.Reasons)
			}
			if got := strings.Join(v.Reasons, "; "); !strings.Contains(got, tc.reason) {
				t.Errorf("reasons %q, want %q", got, tc.reason)
			}
			if d := v.Processed - tc.processed; d < -1 || d > 1 {
				t.Errorf("processed %.2f, want %.2f", v.Processed, tc.processed)
			}
		})
	}
}

func TestSlope(t *testing.T) {
	got, se, ok := Slope(lagLine(12.5), 10*time.Second)
	if !ok || got < 12.4 || got > 12.6 || se > 0.1 {
		t.Errorf("slope %g±%g ok %v, want 12.5±0", got, se, ok)
	}
	if _, _, ok := Slope(lagLine(1)[:2], 0); ok {
		t.Error("slope of 2 samples: ok, want not ok")
	}
}
