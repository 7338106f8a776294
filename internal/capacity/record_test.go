package capacity

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// A probe written to probes.json and read back is the same probe for Next: a restarted
// controller continues the search where it was.
func TestRecordRoundTrip(t *testing.T) {
	l := Limits{MinAchievedRateRatio: 0.95, MaxErrorRatio: 0.001, MaxDLQRatio: 1, LagSlopeNoise: 0.02}
	b := Bounds{StartRate: 100, MaxRate: 10000, Hold: 10 * time.Second, Precision: 0.05, Drain: time.Minute}
	model := func(rate float64) Signals {
		s := Signals{Rate: rate, Hold: 10 * time.Second, Scheduled: int64(rate * 10), Acknowledged: int64(rate * 10),
			ProduceP99: 3 * time.Millisecond, EndToEndP99: 40 * time.Millisecond, HasEndToEnd: true}
		for i := 1; i <= 5; i++ {
			lag := int64(0)
			if rate > 300 {
				lag = int64(float64(i) * 2 * (rate - 300))
			}
			s.Lag = append(s.Lag, LagSample{At: time.Duration(2*i) * time.Second, Lag: lag})
		}
		return s
	}
	var records []Record
	start := time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)
	for {
		rate, res := Next(b, Probes(records))
		if res.Done {
			if res.Factor != streamreplayv1alpha1.LimitingPipeline || res.Capacity < 285 || res.Capacity > 315 {
				t.Fatalf("search over records: %s, want about 300/s limited by the pipeline", res)
			}
			break
		}
		sent := int64(rate + 0.5)
		s := model(float64(sent))
		rec := NewRecord(len(records), rate, sent, start, l, s, true)
		data, err := json.Marshal(append(records, rec))
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeRecords(string(data))
		if err != nil {
			t.Fatal(err)
		}
		want := Probe{Rate: rate, Signals: s, Verdict: Evaluate(l, s)}
		if diff := cmp.Diff(want, back[len(back)-1].AsProbe()); diff != "" {
			t.Fatalf("probe %d after probes.json (-want +got):\n%s", len(records), diff)
		}
		records = back
	}
	if _, err := DecodeRecords(`[{"probe":1}]`); err == nil || !strings.Contains(err.Error(), "entry 0 is probe 1") {
		t.Errorf("records out of order: %v, want refused", err)
	}
	if _, err := DecodeRecords(`[{"probe":0,"hold":5}]`); err == nil || !strings.Contains(err.Error(), "duration") {
		t.Errorf("a hold that is not a duration string: %v, want refused", err)
	}
}

func TestJudge(t *testing.T) {
	cases := []struct {
		name        string
		res         Result
		minCapacity *int64
		passed      bool
		wants       []string
	}{
		{"pipeline limit above minCapacity", Result{Done: true, Capacity: 8123.9, Sustained: 8200, Factor: streamreplayv1alpha1.LimitingPipeline}, ptr.To[int64](8000),
			true, []string{"minCapacity: measured 8,123/s (limited by Pipeline), limit 8,000/s"}},
		{"pipeline limit below minCapacity", Result{Done: true, Capacity: 7999.99, Sustained: 8000, Factor: streamreplayv1alpha1.LimitingPipeline}, ptr.To[int64](8000),
			false, []string{"thresholds not met: minCapacity: measured 7,999/s (limited by Pipeline), limit 8,000/s"}},
		{"generator limit below minCapacity", Result{Done: true, Capacity: 5000, Sustained: 5000, Factor: streamreplayv1alpha1.LimitingGenerator, Reason: "at 10000/s: workers 3s behind"}, ptr.To[int64](8000),
			false, []string{"limited by Generator", "add workers: the pipeline was not measured above 5,000/s"}},
		{"generator limit above minCapacity", Result{Done: true, Capacity: 9000, Sustained: 9000, Factor: streamreplayv1alpha1.LimitingGenerator}, ptr.To[int64](8000),
			true, []string{"minCapacity: measured 9,000/s (limited by Generator)", "add workers"}},
		{"no minCapacity, pipeline", Result{Done: true, Capacity: 300, Sustained: 310, Factor: streamreplayv1alpha1.LimitingPipeline}, nil,
			true, []string{"capacity 300/s (limited by Pipeline)"}},
		{"no minCapacity, max rate", Result{Done: true, Capacity: 1000, Sustained: 1000, Factor: streamreplayv1alpha1.LimitingMaxRate}, nil,
			true, []string{"capacity 1,000/s (limited by MaxRate)"}},
		{"no minCapacity, generator", Result{Done: true, Capacity: 300, Sustained: 300, Factor: streamreplayv1alpha1.LimitingGenerator}, nil,
			false, []string{"measured the load generator, not the pipeline", "add workers"}},
		{"nothing sustained", Result{Done: true, Factor: streamreplayv1alpha1.LimitingBroker, Reason: "at 1/s: error ratio 1 > 0.001"}, nil,
			false, []string{"no rate was sustained (limited by Broker)", "error ratio 1 > 0.001"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := Judge(tc.res, tc.minCapacity)
			if o.Passed != tc.passed {
				t.Errorf("passed = %v, want %v: %s", o.Passed, tc.passed, o.Message)
			}
			for _, w := range tc.wants {
				if !strings.Contains(o.Message, w) {
					t.Errorf("message %q does not contain %q", o.Message, w)
				}
			}
			if (tc.minCapacity != nil) != (len(o.Checks) == 1) {
				t.Errorf("checks %v for minCapacity %v", o.Checks, tc.minCapacity)
			}
		})
	}
}
