package results

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSummary(t *testing.T) {
	ms := time.Millisecond
	d := &Document{
		RunID:             "5b0c9f4e",
		Workers:           make([]WorkerSummary, 4),
		Totals:            Totals{Scheduled: 3_000_000, Sent: 2_999_950, Acked: 2_999_900, Failed: 50},
		Window:            Window{Start: t0, End: t0.Add(10 * time.Minute), Seconds: 600},
		AchievedRate:      2_999_900.0 / 600,
		AchievedRateRatio: 2_999_900.0 / 3_000_000,
		ErrorRatio:        50.0 / 2_999_950,
		Errors:            map[string]int64{"TimeoutException": 40, "NotLeaderOrFollowerException": 10},
		Latency:           &Percentiles{Count: 2_999_900, P50: 1234 * time.Microsecond, P90: 3 * ms, P95: 4 * ms, P99: 12345 * time.Microsecond, P999: 40 * ms, Max: 1250 * ms},
		DLQ: &DLQResult{Records: 17, OtherRecords: 3, OmittedClasses: 1, OmittedRecords: 1, Classes: []DLQClass{
			{Name: "DataException", Count: 12}, {Name: "ValidationException", Count: 4},
		}},
		Lag:      &LagResult{Max: 1200, Final: 0, Drained: true, Samples: 60},
		EndToEnd: &EndToEndSummary{Delivered: 2_999_800, Duplicates: 2, Loss: 100, Latency: &Percentiles{Count: 2_999_800, P50: 150 * ms, P90: 300 * ms, P95: 400 * ms, P99: 800 * ms, P999: 1500 * ms, Max: 2 * time.Second}},
		Degraded: []string{"w-1: latency: 2 significant digits", "w-2: send latency: dropped"},
		Stopped:  true,
	}
	want := `run         5b0c9f4e
window      2026-11-25T10:00:00Z .. 2026-11-25T10:10:00Z, 10m0s (4 workers), stopped early: partial results
records     scheduled 3,000,000  sent 2,999,950  acked 2,999,900  failed 50
rate        achieved 4,999.8/s of 5,000/s asked (ratio 0.99997), error ratio 1.667e-05
latency     p50 1.234ms  p90 3ms  p95 4ms  p99 12.35ms  p99.9 40ms  max 1.25s (2,999,900 records)
errors      TimeoutException 40, NotLeaderOrFollowerException 10
dlq         17 records of this run (+3 of others): DataException 12, ValidationException 4, +1 more class (1)
lag         max 1,200  final 0, drained (60 samples)
end-to-end  delivered 2,999,800  duplicates 2  loss 100; p50 150ms  p90 300ms  p95 400ms  p99 800ms  p99.9 1.5s  max 2s (2,999,800 records)
findings    50 of 2,999,950 records failed (0.0017%): TimeoutException 40, NotLeaderOrFollowerException 10
            achieved 4,999.8/s of 5,000/s asked: 2,999,900 of 3,000,000 scheduled records acknowledged
            50 scheduled records never sent: the run was stopped early
            17 records dead-lettered
            100 acknowledged records lost in the pipeline (neither delivered nor dead-lettered by the end of the drain)
degraded    w-1: latency: 2 significant digits
            w-2: send latency: dropped
`
	if diff := cmp.Diff(want, d.Summary()); diff != "" {
		t.Errorf("Summary (-want +got)\n%s", diff)
	}

	// Many classes: the largest few by name, then how many more.
	d = &Document{RunID: "r", Errors: map[string]int64{}}
	for i := range 8 {
		d.Errors["E"+strconv.Itoa(i)] = int64(i + 1)
	}
	want = `run         r
window      0s (0 workers)
records     scheduled 0  sent 0  acked 0  failed 0
rate        achieved 0/s of 0/s asked (ratio 0), error ratio 0
errors      E7 8, E6 7, E5 6, E4 5, E3 4, +3 more classes (6)
`
	if diff := cmp.Diff(want, d.Summary()); diff != "" {
		t.Errorf("Summary (-want +got)\n%s", diff)
	}
}

func TestSummaryOfNilDocument(t *testing.T) {
	var d *Document
	if got := d.Summary(); got != "no results\n" {
		t.Errorf("Summary of nil = %q", got)
	}
}

func TestCount(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := count(in); got != want {
			t.Errorf("count(%d) = %q, want %q", in, got, want)
		}
	}
}
