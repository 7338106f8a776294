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
		// A measurement equal to its limit passes, for every kind of threshold.
		{"every value exactly at its limit passes", func(d *Document) {
			d.Totals = Totals{Scheduled: 20, Sent: 20, Acked: 19, Failed: 1}
			d.AchievedRateRatio = 19.0 / 20 // as Merge computes it: equal to the parsed "0.95"
			d.ErrorRatio = 1.0 / 20
			d.Latency.P99 = 250 * time.Millisecond
			d.EndToEnd.Latency.P99 = 2 * time.Second
		}, Thresholds{
			MinAchievedRateRatio:  ptr(0.95),
			MaxErrorRatio:         ptr(0.05),
			MaxDLQRecords:         ptr(int64(17)),
			MaxP99Latency:         ptr(250 * time.Millisecond),
			MaxEndToEndP99Latency: ptr(2 * time.Second),
			MaxConsumerLag:        ptr(int64(12_000)),
		}, []Check{
			{"minAchievedRateRatio", "0.95", "0.95", true},
			{"maxErrorRatio", "0.05", "0.05", true},
			{"maxDLQRecords", "17", "17", true},
			{"maxP99Latency", "250ms", "250ms", true},
			{"maxEndToEndP99Latency", "2s", "2s", true},
			{"maxConsumerLag", "12000", "12000", true},
		}, ""},
		{"one step past each limit fails", func(d *Document) {
			d.Totals = Totals{Scheduled: 20, Sent: 20, Acked: 19, Failed: 1}
			d.AchievedRateRatio = 19.0 / 20
			d.ErrorRatio = 1.0 / 20
			d.Latency.P99 = 250*time.Millisecond + time.Microsecond
			d.EndToEnd.Latency.P99 = 2*time.Second + time.Microsecond
			d.Lag.Max = 12_001
			d.DLQ.Records = 18
		}, Thresholds{
			MinAchievedRateRatio:  ptr(0.9500001),
			MaxErrorRatio:         ptr(0.0499999),
			MaxDLQRecords:         ptr(int64(17)),
			MaxP99Latency:         ptr(250 * time.Millisecond),
			MaxEndToEndP99Latency: ptr(2 * time.Second),
			MaxConsumerLag:        ptr(int64(12_000)),
		}, []Check{
			{"minAchievedRateRatio", "0.95", "0.9500001", false},
			{"maxErrorRatio", "0.05", "0.0499999", false},
			{"maxDLQRecords", "18", "17", false},
			{"maxP99Latency", "250.001ms", "250ms", false},
			{"maxEndToEndP99Latency", "2.000001s", "2s", false},
			{"maxConsumerLag", "12001", "12000", false},
		}, "minAchievedRateRatio: measured 0.95, limit 0.9500001; maxErrorRatio: measured 0.05, limit 0.0499999; " +
			"maxDLQRecords: measured 18, limit 17; maxP99Latency: measured 250.001ms, limit 250ms; " +
			"maxEndToEndP99Latency: measured 2.000001s, limit 2s; maxConsumerLag: measured 12001, limit 12000"},
		{"a perfect run passes minAchievedRateRatio 1 and maxErrorRatio 0", func(d *Document) {
			d.Totals = Totals{Scheduled: 1_000_000, Sent: 1_000_000, Acked: 1_000_000}
			d.AchievedRateRatio, d.ErrorRatio = 1, 0
		}, Thresholds{MinAchievedRateRatio: ptr(1.0), MaxErrorRatio: ptr(0.0)}, []Check{
			{"minAchievedRateRatio", "1", "1", true},
			{"maxErrorRatio", "0", "0", true},
		}, ""},
		{"a ratio just below 1 never reads as 1", func(d *Document) {
			d.AchievedRateRatio = 999_999.0 / 1_000_000
		}, Thresholds{MinAchievedRateRatio: ptr(0.95)}, []Check{{"minAchievedRateRatio", "0.999999", "0.95", true}}, ""},
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
		// 3 digits, more where rounding would move a value by more than a thousandth:
		// a latency must not read lower than it was measured.
		{400_127 * time.Microsecond, "400ms"}, // what a histogram keeps of 400ms
		{20_015 * time.Microsecond, "20ms"},
		{312_456 * time.Microsecond, "312.5ms"},
		{312 * time.Millisecond, "312ms"},
		{1_254_000 * time.Microsecond, "1.254s"},
		{1_250_000 * time.Microsecond, "1.25s"},
		{48_234 * time.Nanosecond, "48.2µs"},
		{250_400 * time.Microsecond, "250.4ms"},
		{999_999 * time.Microsecond, "1s"},
		{-1_254_000 * time.Microsecond, "-1.254s"},
		{0, "0s"},
		{90 * time.Minute, "1h30m0s"},
	}
	for _, tt := range tests {
		if got := FormatDuration(tt.in); got != tt.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestJudge: errors and shortfalls are named in the message whatever the thresholds say,
// and a run measured against no threshold at all is held to Implied.
func TestJudge(t *testing.T) {
	// 100,000 records asked at 200/s for 500 s; 3 failed.
	threeFailed := func() *Document {
		return &Document{
			Totals:            Totals{Scheduled: 100_000, Sent: 100_000, Acked: 99_997, Failed: 3},
			Window:            Window{Seconds: 500},
			AchievedRate:      99_997.0 / 500,
			ScheduledRate:     200,
			AchievedRateRatio: 99_997.0 / 100_000,
			ErrorRatio:        3.0 / 100_000,
			Errors:            map[string]int64{"Timeout": 3},
		}
	}
	// The run of issue 9: 50 of 100 records failed MessageSizeTooLarge.
	halfFailed := &Document{
		Totals:            Totals{Scheduled: 100, Sent: 100, Acked: 50, Failed: 50},
		Window:            Window{Seconds: 10},
		AchievedRate:      5,
		ScheduledRate:     10,
		AchievedRateRatio: 0.5,
		ErrorRatio:        0.5,
		Errors:            map[string]int64{"MessageSizeTooLarge": 50},
	}
	perfect := &Document{
		Totals: Totals{Scheduled: 2000, Sent: 2000, Acked: 2000}, Window: Window{Seconds: 10},
		AchievedRate: 200, ScheduledRate: 200, AchievedRateRatio: 1,
	}
	// loop: false, two uneven shards: worker 0 ran out after its 881 samples.
	ranOut := &Document{
		Workers: []WorkerSummary{
			{Index: 0, Scheduled: 1000, Sent: 881, Acked: 881, Samples: 881, SamplesExhausted: true},
			{Index: 1, Scheduled: 1000, Sent: 1000, Acked: 1000, Samples: 1119},
		},
		Totals: Totals{Scheduled: 2000, Sent: 1881, Acked: 1881}, Window: Window{Seconds: 10},
		AchievedRate: 188.1, ScheduledRate: 200, AchievedRateRatio: 0.9405,
	}
	defaults := Thresholds{MinAchievedRateRatio: ptr(0.95), MaxErrorRatio: ptr(0.001)}
	tests := []struct {
		name   string
		doc    *Document
		t      Thresholds
		passed bool
		want   string
	}{
		{"errors are named on a pass", threeFailed(), defaults, true,
			"all thresholds met: minAchievedRateRatio: measured 0.99997, limit 0.95; maxErrorRatio: measured 0.00003, limit 0.001; " +
				"findings: 3 of 100,000 records failed (0.003%): Timeout 3; " +
				"achieved 199.99/s of 200/s asked: 99,997 of 100,000 scheduled records acknowledged"},
		{"a shortfall is named on a pass", ranOut, Thresholds{MinAchievedRateRatio: ptr(0.9)}, true,
			"all thresholds met: minAchievedRateRatio: measured 0.9405, limit 0.9; " +
				"findings: achieved 188.1/s of 200/s asked: 1,881 of 2,000 scheduled records acknowledged; " +
				"119 scheduled records never sent: ran out of samples (loop: false): worker 0 after its 881"},
		{"samples that ran out fail the default ratio", ranOut, defaults, false,
			"thresholds not met: minAchievedRateRatio: measured 0.9405, limit 0.95; " +
				"findings: achieved 188.1/s of 200/s asked: 1,881 of 2,000 scheduled records acknowledged; " +
				"119 scheduled records never sent: ran out of samples (loop: false): worker 0 after its 881"},
		{"half the records failed and no thresholds: not a silent pass", halfFailed, Thresholds{}, false,
			"no thresholds were set, so every scheduled record must be acknowledged and none may fail: " +
				"minAchievedRateRatio: measured 0.5, limit 1; maxErrorRatio: measured 0.5, limit 0; " +
				"findings: 50 of 100 records failed (50%): MessageSizeTooLarge 50; " +
				"achieved 5/s of 10/s asked: 50 of 100 scheduled records acknowledged"},
		{"a perfect run with no thresholds passes", perfect, Thresholds{}, true,
			"no thresholds were set; every scheduled record was acknowledged and none failed"},
		{"a perfect run passes minAchievedRateRatio 1", perfect, Thresholds{MinAchievedRateRatio: ptr(1.0)}, true,
			"all thresholds met: minAchievedRateRatio: measured 1, limit 1"},
		{"only a latency threshold: errors still named", halfFailed, Thresholds{MaxDLQRecords: ptr(int64(0))}, false,
			"thresholds not met: maxDLQRecords: measured no data, limit 0; " +
				"findings: 50 of 100 records failed (50%): MessageSizeTooLarge 50; " +
				"achieved 5/s of 10/s asked: 50 of 100 scheduled records acknowledged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Judge(tt.doc, tt.t)
			if got.Passed != tt.passed {
				t.Errorf("Passed = %v, want %v", got.Passed, tt.passed)
			}
			if got.Message != tt.want {
				t.Errorf("Message:\n got %q\nwant %q", got.Message, tt.want)
			}
			if len(got.Checks) == 0 {
				t.Error("no checks: implied thresholds must show as checks")
			}
		})
	}
}
