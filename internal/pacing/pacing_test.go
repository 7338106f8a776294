package pacing

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/streamreplay/streamreplay/internal/plan"
)

func mustNew(t testing.TB, sc plan.Scenario, length time.Duration, recorded []time.Time, loop bool) Schedule {
	t.Helper()
	s, err := New(sc, length, recorded, loop)
	if err != nil {
		t.Fatalf("New(%+v, %v): %v", sc, length, err)
	}
	return s
}

func offsets(t *testing.T, s Schedule, count int64) []time.Duration {
	t.Helper()
	out := make([]time.Duration, 0, count)
	for n := range count {
		d, ok := s.Offset(n)
		if !ok {
			t.Fatalf("Offset(%d) not ok, Total %d", n, s.Total())
		}
		out = append(out, d)
	}
	return out
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func planStage(d time.Duration, rate int64) plan.Stage {
	return plan.Stage{Duration: metav1.Duration{Duration: d}, TargetRate: rate}
}

func TestConstantOffsets(t *testing.T) {
	for _, tc := range []struct {
		rate int64
		want []time.Duration
	}{
		{3, []time.Duration{0, 333333333, 666666666, time.Second, 1333333333}},
		{7, []time.Duration{0, 142857142, 285714285, 428571428}},
		{1000, []time.Duration{0, time.Millisecond, 2 * time.Millisecond}},
		{1_000_000_000, []time.Duration{0, 1, 2, 3}},
		{2_000_000_000, []time.Duration{0, 0, 1, 1, 2}}, // more than one per ns: floors coincide
	} {
		s := mustNew(t, plan.Scenario{Type: "Constant", TargetRate: tc.rate}, 10*time.Second, nil, false)
		if got := offsets(t, s, int64(len(tc.want))); !equalDurations(got, tc.want) {
			t.Errorf("rate %d: offsets %v, want %v", tc.rate, got, tc.want)
		}
	}
}

func TestConstantTotal(t *testing.T) {
	for _, tc := range []struct {
		rate   int64
		length time.Duration
		want   int64
	}{
		{3, time.Second, 3},
		{3, 1500 * time.Millisecond, 5}, // 0, ⅓, ⅔, 1, 1⅓ s are before 1.5 s
		{2, 1200 * time.Millisecond, 3},
		{1000, 10 * time.Second, 10_000},
		{7, time.Second, 7},
		{1, 500 * time.Millisecond, 1},
		{3, 1, 1}, // record 0 is due at 0, before 1ns
		{5000, 24 * time.Hour, 432_000_000},
		{0, time.Hour, 0},
		{5, 0, 0},
	} {
		s := mustNew(t, plan.Scenario{Type: "Constant", TargetRate: tc.rate}, tc.length, nil, false)
		if got := s.Total(); got != tc.want {
			t.Errorf("rate %d over %v: Total %d, want %d", tc.rate, tc.length, got, tc.want)
		}
		if s.Length() != tc.length {
			t.Errorf("rate %d over %v: Length %v", tc.rate, tc.length, s.Length())
		}
		if got := s.Due(tc.length); got != tc.want {
			t.Errorf("rate %d over %v: Due(length) %d, want the total %d", tc.rate, tc.length, got, tc.want)
		}
		if _, ok := s.Offset(tc.want); ok {
			t.Errorf("rate %d over %v: Offset(Total) is ok", tc.rate, tc.length)
		}
	}
}

func TestConstantNoDriftOver24h(t *testing.T) {
	for _, rate := range []int64{10_000_000, 9_999_991, 3} {
		s := mustNew(t, plan.Scenario{Type: "Constant", TargetRate: rate}, 24*time.Hour, nil, false)
		length := big.NewInt(int64(24 * time.Hour))
		// Total = ceil(rate·length/1e9), last = floor((Total−1)·1e9/rate), in big integers.
		total := new(big.Int).Mul(big.NewInt(rate), length)
		total.Add(total, big.NewInt(int64(time.Second)-1))
		total.Quo(total, big.NewInt(int64(time.Second)))
		if s.Total() != total.Int64() {
			t.Fatalf("rate %d: Total %d, want %d", rate, s.Total(), total.Int64())
		}
		last := new(big.Int).Sub(total, big.NewInt(1))
		want := new(big.Int).Mul(last, big.NewInt(int64(time.Second)))
		want.Quo(want, big.NewInt(rate))
		got, ok := s.Offset(last.Int64())
		if !ok || int64(got) != want.Int64() {
			t.Errorf("rate %d: last offset %d (ok %v), want %d", rate, got, ok, want.Int64())
		}
		if s.Due(got) != s.Total() || s.Due(got-1) != s.Total()-1 {
			t.Errorf("rate %d: Due around the last offset: %d, %d; total %d", rate, s.Due(got-1), s.Due(got), s.Total())
		}
	}
}

// rampCount is N(t) = r0·t + (r1−r0)·t²/(2L), t and L in seconds.
func rampCount(r0, r1 int64, length, t time.Duration) float64 {
	ts, ls := t.Seconds(), length.Seconds()
	return float64(r0)*ts + float64(r1-r0)*ts*ts/(2*ls)
}

func TestRampMatchesIntegral(t *testing.T) {
	for _, tc := range []struct {
		name   string
		r0, r1 int64
		length time.Duration
	}{
		{"up", 100, 1000, 10 * time.Second},
		{"down", 1000, 100, 10 * time.Second},
		{"from zero", 0, 5000, time.Minute},
		{"down to zero", 800, 0, 5 * time.Second},
		{"odd rates", 7, 13, 3 * time.Second},
		{"24h to 10M/s", 0, 10_000_000, 24 * time.Hour},
		{"24h down from 10M/s", 10_000_000, 1, 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustNew(t, plan.Scenario{Type: "Ramp", StartRate: tc.r0, TargetRate: tc.r1}, tc.length, nil, false)
			if want := rampCount(tc.r0, tc.r1, tc.length, tc.length); math.Abs(float64(s.Total())-want) > 1 {
				t.Errorf("Total %d, integral %.3f", s.Total(), want)
			}
			for _, frac := range []float64{0, 0.01, 1.0 / 7, 1.0 / 3, 0.5, 2.0 / 3, 0.999} {
				at := time.Duration(frac * float64(tc.length))
				want := rampCount(tc.r0, tc.r1, tc.length, at)
				if got := s.Due(at); math.Abs(float64(got)-want) > 1 {
					t.Errorf("Due(%v) = %d, integral %.3f", at, got, want)
				}
			}
			last, ok := s.Offset(s.Total() - 1)
			if !ok || last >= tc.length {
				t.Errorf("last offset %v (ok %v) is not within the run of %v", last, ok, tc.length)
			}
		})
	}
}

func TestRampFlatEqualsConstant(t *testing.T) {
	for _, tc := range []struct {
		rate   int64
		length time.Duration
	}{
		{3, 2 * time.Second},
		{7, 1500 * time.Millisecond},
		{12_345, 3 * time.Second},
		{2_000_000_000, 10 * time.Microsecond},
	} {
		c := mustNew(t, plan.Scenario{Type: "Constant", TargetRate: tc.rate}, tc.length, nil, false)
		r := mustNew(t, plan.Scenario{Type: "Ramp", StartRate: tc.rate, TargetRate: tc.rate}, tc.length, nil, false)
		if c.Total() != r.Total() {
			t.Fatalf("rate %d: Ramp Total %d, Constant %d", tc.rate, r.Total(), c.Total())
		}
		if got, want := offsets(t, r, r.Total()), offsets(t, c, c.Total()); !equalDurations(got, want) {
			t.Errorf("rate %d: Ramp offsets differ from Constant's", tc.rate)
		}
		for d := time.Duration(-1); d < tc.length; d += tc.length / 97 {
			if r.Due(d) != c.Due(d) {
				t.Errorf("rate %d: Due(%v): Ramp %d, Constant %d", tc.rate, d, r.Due(d), c.Due(d))
			}
		}
	}
}

func TestStagesCountsPerStage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stages []plan.Stage
		want   []float64 // records per stage: the trapezoids' areas
	}{
		{"design example, 1 worker", []plan.Stage{planStage(2*time.Minute, 1000), planStage(5*time.Minute, 8000)}, []float64{60_000, 1_350_000}},
		{"design example, share of 4", []plan.Stage{planStage(2*time.Minute, 250), planStage(5*time.Minute, 2000)}, []float64{15_000, 337_500}},
		{"share of 3, odd", []plan.Stage{planStage(2*time.Minute, 334), planStage(5*time.Minute, 2667)}, []float64{20_040, 450_150}},
		{"zero stage sends nothing", []plan.Stage{planStage(10*time.Second, 100), planStage(10*time.Second, 0), planStage(10*time.Second, 0), planStage(10*time.Second, 100)}, []float64{500, 500, 0, 500}},
		{"hold then step", []plan.Stage{planStage(3*time.Second, 10), planStage(4*time.Second, 10), planStage(0*time.Second, 50), planStage(2*time.Second, 50)}, []float64{15, 40, 0, 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var length time.Duration
			for _, st := range tc.stages {
				length += st.Duration.Duration
			}
			s := mustNew(t, plan.Scenario{Type: "Stages", Stages: tc.stages}, length, nil, false)
			var start time.Duration
			var sum float64
			for i, st := range tc.stages {
				end := start + st.Duration.Duration
				got := s.Due(end-1) - s.Due(start-1) // records with start ≤ Offset < end
				if math.Abs(float64(got)-tc.want[i]) > 1 {
					t.Errorf("stage %d: %d records, area %.1f", i, got, tc.want[i])
				}
				if tc.want[i] == 0 && got != 0 {
					t.Errorf("stage %d of rate 0 has %d records", i, got)
				}
				start, sum = end, sum+tc.want[i]
			}
			if math.Abs(float64(s.Total())-sum) > 1 {
				t.Errorf("Total %d, area %.1f", s.Total(), sum)
			}
		})
	}
}

func TestStagesZeroStageHasNoOffsets(t *testing.T) {
	s := mustNew(t, plan.Scenario{Type: "Stages", Stages: []plan.Stage{planStage(time.Second, 100), planStage(time.Second, 0), planStage(time.Second, 0), planStage(time.Second, 100)}}, 4*time.Second, nil, false)
	// The first record after the ramp down is the first of the last stage, not at 2s.
	n := s.Due(2*time.Second - 1)
	d, ok := s.Offset(n)
	if !ok || d < 3*time.Second {
		t.Errorf("record %d after the zero stage is due at %v (ok %v), want ≥ 3s", n, d, ok)
	}
	prev, _ := s.Offset(n - 1)
	if prev >= 2*time.Second {
		t.Errorf("record %d is due at %v, after the ramp down ended", n-1, prev)
	}

	all := mustNew(t, plan.Scenario{Type: "Stages", Stages: []plan.Stage{planStage(time.Minute, 0), planStage(time.Minute, 0)}}, 2*time.Minute, nil, false)
	if _, ok := all.Offset(0); ok || all.Total() != 0 || all.Due(time.Hour) != 0 {
		t.Errorf("all-zero stages: Total %d, Offset(0) ok %v, Due %d", all.Total(), ok, all.Due(time.Hour))
	}
}

func TestNewErrors(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		sc       plan.Scenario
		length   time.Duration
		recorded []time.Time
		loop     bool
		want     string
	}{
		{"stages length mismatch", plan.Scenario{Type: "Stages", Stages: []plan.Stage{planStage(2*time.Minute, 1000), planStage(5*time.Minute, 8000)}}, 10 * time.Minute, nil, false, "the stages last 7m0s but the run length is 10m0s"},
		{"no stages", plan.Scenario{Type: "Stages"}, time.Minute, nil, false, "no stages"},
		{"negative stage rate", plan.Scenario{Type: "Stages", Stages: []plan.Stage{planStage(time.Minute, -1)}}, time.Minute, nil, false, "stage 0: targetRate -1 is negative"},
		{"negative stage duration", plan.Scenario{Type: "Stages", Stages: []plan.Stage{planStage(2*time.Minute, 1), planStage(-time.Minute, 1)}}, time.Minute, nil, false, "stage 1: duration -1m0s is negative"},
		{"negative constant rate", plan.Scenario{Type: "Constant", TargetRate: -5}, time.Minute, nil, false, "targetRate -5 is negative"},
		{"negative ramp rate", plan.Scenario{Type: "Ramp", StartRate: -1, TargetRate: 5}, time.Minute, nil, false, "a rate is negative"},
		{"negative length", plan.Scenario{Type: "Constant", TargetRate: 5}, -time.Second, nil, false, "run length -1s is negative"},
		{"unknown type", plan.Scenario{Type: "Sine"}, time.Minute, nil, false, `unknown scenario type "Sine"`},
		{"too many records", plan.Scenario{Type: "Constant", TargetRate: math.MaxInt64}, math.MaxInt64, nil, false, "more records than an int64 counts"},
		{"speed zero", plan.Scenario{Type: "Replay", Speed: "0"}, time.Minute, []time.Time{at}, false, `speed "0" is not positive`},
		{"speed negative", plan.Scenario{Type: "Replay", Speed: "-2"}, time.Minute, []time.Time{at}, false, `speed "-2" is not positive`},
		{"speed not a number", plan.Scenario{Type: "Replay", Speed: "fast"}, time.Minute, []time.Time{at}, false, `speed "fast": strconv.ParseFloat`},
		{"speed infinite", plan.Scenario{Type: "Replay", Speed: "Inf"}, time.Minute, []time.Time{at}, false, `speed "Inf" is not a decimal number`},
		{"loop over no time without a cap", plan.Scenario{Type: "Replay"}, time.Minute, []time.Time{at, at}, true, "span no time"},
		{"missing timestamp", plan.Scenario{Type: "Replay"}, time.Minute, []time.Time{at, at, {}, {}}, false, "sample 2: no recorded timestamp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.sc, tc.length, tc.recorded, tc.loop)
			if err == nil {
				t.Fatalf("no error; schedule of %d records", s.Total())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestReplayMissingTimestampIsErrNoTimestamp(t *testing.T) {
	at := time.Now()
	_, err := New(plan.Scenario{Type: "Replay"}, time.Minute, []time.Time{at, {}}, true)
	if !errors.Is(err, ErrNoTimestamp) {
		t.Errorf("error %v does not wrap ErrNoTimestamp", err)
	}
	if !strings.Contains(err.Error(), "sample 1") {
		t.Errorf("error %v does not name sample 1", err)
	}
}

func TestEmptyTypeIsConstant(t *testing.T) {
	s := mustNew(t, plan.Scenario{TargetRate: 3}, time.Second, nil, false)
	if got := offsets(t, s, 3); !equalDurations(got, []time.Duration{0, 333333333, 666666666}) || s.Total() != 3 {
		t.Errorf("empty type: offsets %v, Total %d", got, s.Total())
	}
}

func TestZeroRateSendsNothing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sc       plan.Scenario
		recorded []time.Time
	}{
		{"constant", plan.Scenario{Type: "Constant"}, nil},
		{"ramp", plan.Scenario{Type: "Ramp"}, nil},
		{"stages", plan.Scenario{Type: "Stages", Stages: []plan.Stage{planStage(time.Minute, 0)}}, nil},
		{"replay without samples", plan.Scenario{Type: "Replay"}, nil},
		{"replay with an empty shard and a cap", plan.Scenario{Type: "Replay", TargetRate: 10}, []time.Time{}},
	} {
		s := mustNew(t, tc.sc, time.Minute, tc.recorded, true)
		if _, ok := s.Offset(0); ok || s.Total() != 0 || s.Due(time.Hour) != 0 {
			t.Errorf("%s: Total %d, Offset(0) ok %v, Due %d", tc.name, s.Total(), ok, s.Due(time.Hour))
		}
	}
}
