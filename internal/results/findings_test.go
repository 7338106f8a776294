package results

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestFindings: one finding per kind of trouble, each with its count; scheduled records
// never sent are split by cause, naming at most 3 workers per cause.
func TestFindings(t *testing.T) {
	ran := func(i int, samples int64) WorkerSummary {
		return WorkerSummary{Index: i, Scheduled: 1000, Sent: samples, Acked: samples, Samples: samples, SamplesExhausted: true}
	}
	d := &Document{
		Workers: []WorkerSummary{
			ran(0, 881), ran(1, 900), ran(2, 990), ran(3, 999),
			{Index: 4, Scheduled: 1000, Sent: 700, Acked: 690, Failed: 10, Samples: 5000, MaxBehind: 1250 * time.Millisecond},
			{Index: 5, Scheduled: 1000, Sent: 1000, Acked: 1000, Samples: 5000},
		},
		Totals:        Totals{Scheduled: 6000, Sent: 5470, Acked: 5460, Failed: 10},
		Errors:        map[string]int64{"RequestTimedOut": 10},
		AchievedRate:  546,
		ScheduledRate: 600,
		DLQ:           &DLQResult{Records: 1},
		Lag:           &LagResult{Max: 300, Final: 12, Samples: 30},
	}
	want := []string{
		"10 of 5,470 records failed (0.18%): RequestTimedOut 10",
		"achieved 546/s of 600/s asked: 5,460 of 6,000 scheduled records acknowledged",
		"230 scheduled records never sent: ran out of samples (loop: false): worker 0 after its 881, worker 1 after its 900, worker 2 after its 990 and 1 more",
		"300 scheduled records never sent: fell behind the schedule: worker 4 (700 of 1,000 sent, up to 1.25s behind)",
		"1 record dead-lettered",
		"the pipeline had not drained: consumer lag 12 at the end",
	}
	if diff := cmp.Diff(want, d.Findings()); diff != "" {
		t.Errorf("Findings (-want +got)\n%s", diff)
	}
	if got := (&Document{Totals: Totals{Scheduled: 10, Sent: 10, Acked: 10}}).Findings(); got != nil {
		t.Errorf("a clean run has findings %q", got)
	}
}
