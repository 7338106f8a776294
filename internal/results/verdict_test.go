package results

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ptr[T any](v T) *T { return &v }

// verdictDoc is a run that measured everything.
func verdictDoc() *Document {
	return &Document{
		Totals:            Totals{Scheduled: 1_000_000, Sent: 999_000, Acked: 998_000, Failed: 1000},
		AchievedRateRatio: 0.998,
		ErrorRatio:        1000.0 / 999_000,
		Latency:           &Percentiles{Count: 998_000, P99: 312 * time.Millisecond},
		DLQ:               &DLQResult{Records: 17},
		Lag:               &LagResult{Max: 12_000, Samples: 60},
		EndToEnd:          &EndToEndSummary{Delivered: 998_000, Latency: &Percentiles{Count: 998_000, P99: 1250 * time.Millisecond}},
	}
}

func TestEvaluate(t *testing.T) {
	all := Thresholds{
		MinAchievedRateRatio:  ptr(0.95),
		MaxErrorRatio:         ptr(0.01),
		MaxDLQRecords:         ptr(int64(20)),
		MaxP99Latency:         ptr(500 * time.Millisecond),
		MaxEndToEndP99Latency: ptr(2 * time.Second),
		MaxConsumerLag:        ptr(int64(12_000)),
	}
	tests := []struct {
		name  string
		doc   func(*Document)
		t     Thresholds
		want  []Check
		fails string
	}{
		{"none set", nil, Thresholds{}, nil, ""},
		{"all pass, in spec order", nil, all, []Check{
			{"minAchievedRateRatio", "0.998", "0.95", true},
			{"maxErrorRatio", "0.001001", "0.01", true},
			{"maxDLQRecords", "17", "20", true},
			{"maxP99Latency", "312ms", "500ms", true},
			{"maxEndToEndP99Latency", "1.25s", "2s", true},
			{"maxConsumerLag", "12000", "12000", true}, // the limit itself passes
		}, ""},
		{"all fail", nil, Thresholds{
			MinAchievedRateRatio:  ptr(0.999),
			MaxErrorRatio:         ptr(0.0001),
			MaxDLQRecords:         ptr(int64(0)),
			MaxP99Latency:         ptr(250 * time.Millisecond),
			MaxEndToEndP99Latency: ptr(time.Second),
			MaxConsumerLag:        ptr(int64(10_000)),
		}, []Check{
			{"minAchievedRateRatio", "0.998", "0.999", false},
			{"maxErrorRatio", "0.001001", "0.0001", false},
			{"maxDLQRecords", "17", "0", false},
			{"maxP99Latency", "312ms", "250ms", false},
			{"maxEndToEndP99Latency", "1.25s", "1s", false},
			{"maxConsumerLag", "12000", "10000", false},
		}, "minAchievedRateRatio: measured 0.998, limit 0.999; maxErrorRatio: measured 0.001001, limit 0.0001; " +
			"maxDLQRecords: measured 17, limit 0; maxP99Latency: measured 312ms, limit 250ms; " +
			"maxEndToEndP99Latency: measured 1.25s, limit 1s; maxConsumerLag: measured 12000, limit 10000"},
		{"no data fails", func(d *Document) {
			d.Totals = Totals{}
			d.Latency = &Percentiles{} // workers reported empty histograms
			d.DLQ, d.Lag = nil, nil
			d.EndToEnd.Latency = nil // no records reached the output topic
		}, all, []Check{
			{"minAchievedRateRatio", "no data", "0.95", false},
			{"maxErrorRatio", "no data", "0.01", false},
			{"maxDLQRecords", "no data", "20", false},
			{"maxP99Latency", "no data", "500ms", false},
			{"maxEndToEndP99Latency", "no data", "2s", false},
			{"maxConsumerLag", "no data", "12000", false},
		}, "minAchievedRateRatio: measured no data, limit 0.95; maxErrorRatio: measured no data, limit 0.01; " +
			"maxDLQRecords: measured no data, limit 20; maxP99Latency: measured no data, limit 500ms; " +
			"maxEndToEndP99Latency: measured no data, limit 2s; maxConsumerLag: measured no data, limit 12000"},
		{"lag without samples and no end-to-end section", func(d *Document) {
			d.Lag.Samples = 0
			d.EndToEnd = nil
			d.Latency = nil
		}, Thresholds{MaxConsumerLag: ptr(int64(1)), MaxEndToEndP99Latency: ptr(time.Second), MaxP99Latency: ptr(time.Second)}, []Check{
			{"maxP99Latency", "no data", "1s", false},
			{"maxEndToEndP99Latency", "no data", "1s", false},
			{"maxConsumerLag", "no data", "1", false},
		}, "maxP99Latency: measured no data, limit 1s; maxEndToEndP99Latency: measured no data, limit 1s; maxConsumerLag: measured no data, limit 1"},
		{"near misses show enough digits", func(d *Document) {
			d.AchievedRateRatio = 0.94996
			d.Latency.P99 = 250_400 * time.Microsecond
		}, Thresholds{MinAchievedRateRatio: ptr(0.95), MaxP99Latency: ptr(250 * time.Millisecond)}, []Check{
			{"minAchievedRateRatio", "0.94996", "0.95", false},
			{"maxP99Latency", "250.4ms", "250ms", false},
		}, "minAchievedRateRatio: measured 0.94996, limit 0.95; maxP99Latency: measured 250.4ms, limit 250ms"},
		{"zero DLQ records measured", func(d *Document) { d.DLQ.Records = 0 },
			Thresholds{MaxDLQRecords: ptr(int64(0))}, []Check{{"maxDLQRecords", "0", "0", true}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := verdictDoc()
			if tt.doc != nil {
				tt.doc(d)
			}
			got := Evaluate(d, tt.t)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Evaluate (-want +got)\n%s", diff)
			}
			if msg := FailedMessage(got); msg != tt.fails {
				t.Errorf("FailedMessage:\n got %q\nwant %q", msg, tt.fails)
			}
		})
	}
}

func TestEvaluateNilDocumentFailsSafe(t *testing.T) {
	got := Evaluate(nil, Thresholds{MaxDLQRecords: ptr(int64(5))})
	if diff := cmp.Diff([]Check{{"maxDLQRecords", NoData, "5", false}}, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{312_456 * time.Microsecond, "312ms"},
		{1_254_000 * time.Microsecond, "1.25s"},
		{48_234 * time.Nanosecond, "48.2µs"},
		{999_999 * time.Microsecond, "1s"},
		{0, "0s"},
		{90 * time.Minute, "1h30m0s"},
	}
	for _, tt := range tests {
		if got := FormatDuration(tt.in); got != tt.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
