package results

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// decoded returns reports as the controller gets them: through the
// termination message.
func decoded(t *testing.T, reports ...Report) []Report {
	t.Helper()
	var out []Report
	for _, r := range reports {
		d, err := Decode(mustEncode(t, r))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, *d)
	}
	return out
}

func TestMergeSumsWorkersAndObserver(t *testing.T) {
	w0, w1, w2 := workerReport(0, 1), workerReport(1, 2), workerReport(2, 3)
	w1.Worker.Errors = map[string]int64{"TimeoutException": 50, "RecordTooLargeException": 10}
	w2.Stopped = true
	w2.End = w2.End.Add(-time.Minute)
	obs := observerReport()
	obs.Observer.EndToEnd.Delivered = 2_249_000
	// The same class twice: merged by name, examples capped.
	extra := obs.Observer.DLQ.Classes[1]
	extra.Count = 0
	extra.Examples = slices.Repeat(extra.Examples, 4)
	obs.Observer.DLQ.Classes = append(obs.Observer.DLQ.Classes, extra)

	// Out of order on purpose: the document lists workers by index.
	doc, err := Merge([]Report{w2, obs, w0, w1})
	if err != nil {
		t.Fatal(err)
	}

	window := 10*time.Minute + time.Millisecond // w0's start to w1's end
	want := &Document{
		RunID: w0.RunID,
		Totals: Totals{Scheduled: 3 * 750_000, Sent: 3 * 749_990, Acked: 3 * 749_900, Failed: 3 * 60,
			Bytes: 3 * 1_234_567_890},
		Window:            Window{Start: w0.Start, End: w1.End, Seconds: window.Seconds()},
		AchievedRate:      3 * 749_900 / window.Seconds(),
		ScheduledRate:     3 * 750_000 / 600, // over the 10 minutes scheduled, not the window
		AchievedRateRatio: 749_900.0 / 750_000,
		ErrorRatio:        60.0 / (749_900 + 60),
		Errors:            map[string]int64{"TimeoutException": 45 + 50 + 45, "NotLeaderOrFollowerException": 30, "RecordTooLargeException": 10},
		DLQ: &DLQResult{Records: 17, OtherRecords: 3, Classes: []DLQClass{
			obs.Observer.DLQ.Classes[0],
			{Name: extra.Name, Count: 5, Examples: slices.Repeat(extra.Examples[:1], 3)},
		}},
		Lag:      &LagResult{Max: 1200, Final: 0, Drained: true, Samples: 64},
		EndToEnd: &EndToEndSummary{Delivered: 2_249_000, Duplicates: 2, Loss: 3*749_900 - 2_249_000 - 17},
		Stopped:  true,
	}
	for i, w := range []Report{w0, w1, w2} {
		want.Workers = append(want.Workers, WorkerSummary{
			Pod: w.Pod, Index: i, Scheduled: 750_000, Sent: 749_990, Acked: 749_900, Failed: 60, Samples: 12_345,
			AchievedRate: 749_900 / w.End.Sub(w.Start).Seconds(),
			P50:          w.Worker.Latency.Quantile(0.5), P99: w.Worker.Latency.Quantile(0.99),
			LateStart: w.LateStart, MaxBehind: 42 * time.Millisecond, Stopped: w.Stopped,
		})
	}
	ignore := cmpIgnorePercentiles()
	if diff := cmp.Diff(want, doc, ignore); diff != "" {
		t.Errorf("Merge (-want +got)\n%s", diff)
	}
	if doc.Latency == nil || doc.SendLatency == nil || doc.EndToEnd.Latency == nil {
		t.Fatal("missing percentiles")
	}
	if doc.Latency.Count != 3*20_000 || doc.EndToEnd.Latency.Count != 20_000 {
		t.Errorf("latency counts %d, %d", doc.Latency.Count, doc.EndToEnd.Latency.Count)
	}
}

// cmpIgnorePercentiles leaves the merged percentiles to the histogram tests.
func cmpIgnorePercentiles() cmp.Option {
	return cmp.FilterPath(func(p cmp.Path) bool {
		s := p.String()
		return s == "Latency" || s == "SendLatency" || s == "EndToEnd.Latency"
	}, cmp.Ignore())
}

func TestMergeHistograms(t *testing.T) {
	var all []time.Duration
	var reports []Report
	for i := range 4 {
		r := workerReport(i, 1)
		values := latencies(uint64(10+i), 5000, time.Duration(i+1)*4*time.Millisecond, 0.6)
		all = append(all, values...)
		r.Worker.Latency = histOf(values)
		reports = append(reports, r)
	}
	reference := percentilesOf(histOf(all))

	t.Run("same precision is exact", func(t *testing.T) {
		doc, err := Merge(reports)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(reference, doc.Latency); diff != "" {
			t.Errorf("merged percentiles (-reference +got)\n%s", diff)
		}
	})
	t.Run("through termination messages", func(t *testing.T) {
		doc, err := Merge(decoded(t, reports...))
		if err != nil {
			t.Fatal(err)
		}
		// Encode may lower precision to fit: p99 is then within that precision, and never lower.
		withinPrecision(t, "p99", reference.P99, doc.Latency.P99, 2)
		withinPrecision(t, "p50", reference.P50, doc.Latency.P50, 2)
		if doc.Latency.Count != reference.Count {
			t.Errorf("count %d, want %d", doc.Latency.Count, reference.Count)
		}
	})
	t.Run("mixed precision", func(t *testing.T) {
		mixed := slices.Clone(reports)
		for i, d := range []int{3, 2, 1, 2} {
			w := *mixed[i].Worker
			w.Latency = w.Latency.withDigits(d)
			mixed[i].Worker = &w
		}
		doc, err := Merge(mixed)
		if err != nil {
			t.Fatal(err)
		}
		withinPrecision(t, "p99", reference.P99, doc.Latency.P99, 1)
		withinPrecision(t, "p999", reference.P999, doc.Latency.P999, 1)
		withinPrecision(t, "max", reference.Max, doc.Latency.Max, 1)
	})
}

// withinPrecision checks got >= want and got within the relative width of a
// bucket at digits significant digits (1/16 at 1 digit, 1/128 at 2).
func withinPrecision(t *testing.T, name string, want, got time.Duration, digits int) {
	t.Helper()
	width := map[int]float64{1: 1.0 / 16, 2: 1.0 / 128, 3: 1.0 / 1024}[digits]
	if got < want || float64(got) > float64(want)*(1+width) {
		t.Errorf("%s = %v, want %v up to +%.2f%%", name, got, want, width*100)
	}
}

func TestMergeRejects(t *testing.T) {
	other := workerReport(2, 1)
	other.RunID = "another-run"
	dup := workerReport(1, 1)
	dup.Pod = "crm-test-worker-1b"
	obs2 := observerReport()
	obs2.Pod = "crm-test-observer-2"
	bad := workerReport(3, 1)
	bad.Worker.Acked = bad.Worker.Sent + 1

	tests := []struct {
		name    string
		reports []Report
		want    string
	}{
		{"none", nil, "no reports to merge"},
		{"run id mismatch", []Report{workerReport(0, 1), workerReport(1, 1), other},
			`reports of different runs: run "5b0c9f4e-1c7a-4d3e-9a51-0f7e2d9c6b11" from crm-test-worker-0, crm-test-worker-1; run "another-run" from crm-test-worker-2`},
		{"duplicate index", []Report{workerReport(0, 1), workerReport(1, 1), dup},
			"worker index 1 reported by two pods: crm-test-worker-1 and crm-test-worker-1b"},
		{"two observers", []Report{observerReport(), obs2}, "two observer reports, from pods crm-test-observer and crm-test-observer-2"},
		{"invalid report", []Report{workerReport(0, 1), bad}, "pod crm-test-worker-3 reported bad results: worker: acked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Merge(tt.reports)
			if doc != nil {
				t.Error("Merge returned a document with an error")
			}
			wantErrContains(t, err, tt.want)
		})
	}
}

func TestMergeDegradedAndEdgeCases(t *testing.T) {
	w := workerReport(0, 1)
	w.Version = 0 // built in-process: counts as the current version
	w.Degraded = []string{"latency: 2 significant digits"}
	w.Worker.Latency, w.Worker.SendLatency = nil, nil
	obs := observerReport()
	obs.Observer.EndToEnd.Delivered = 10_000_000 // more than acked: no loss
	obs.Observer.EndToEnd.Latency = nil
	obs.Degraded = []string{"dlq examples: dropped"}
	doc, err := Merge([]Report{obs, w})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"crm-test-observer: dlq examples: dropped", "crm-test-worker-0: latency: 2 significant digits"}, doc.Degraded); diff != "" {
		t.Errorf("degraded (-want +got)\n%s", diff)
	}
	if doc.Latency != nil || doc.EndToEnd.Latency != nil || doc.EndToEnd.Loss != 0 || doc.Workers[0].P99 != 0 {
		t.Errorf("without histograms: latency %+v, e2e %+v, worker p99 %v", doc.Latency, doc.EndToEnd, doc.Workers[0].P99)
	}

	empty := workerReport(0, 1)
	empty.End = empty.Start
	empty.Worker = &WorkerResult{}
	doc, err = Merge([]Report{empty})
	if err != nil {
		t.Fatal(err)
	}
	if doc.AchievedRate != 0 || doc.AchievedRateRatio != 0 || doc.ErrorRatio != 0 || doc.Workers[0].AchievedRate != 0 {
		t.Errorf("an empty run must have zero rates, got %+v", doc)
	}
}

func TestDocumentJSON(t *testing.T) {
	doc, err := Merge([]Report{workerReport(0, 1), observerReport()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"p99":"`, `"maxBehind":"42ms"`, `"latency":{"count":20000,"p50":"`, `"seconds":600}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("document JSON lacks %s:\n%s", want, b)
		}
	}
	pretty, err := doc.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(pretty), "\n  \"runID\": ") || !strings.Contains(string(pretty), "<null>") {
		t.Errorf("JSON() is not indented or escapes HTML:\n%s", pretty)
	}
	var back Document
	if err := json.Unmarshal(pretty, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(doc, &back); diff != "" {
		t.Errorf("JSON round trip (-want +got)\n%s", diff)
	}
}

// TestMergeUndrainedIsNotLoss: acknowledged records that the pipeline has neither
// delivered nor dead-lettered are in flight while its consumer lag counts them, or when
// the observer was stopped before the drain ended; they are lost only once it drained.
func TestMergeUndrainedIsNotLoss(t *testing.T) {
	for _, tc := range []struct {
		name           string
		stopped        bool
		lag            *LagResult
		loss, inFlight int64
		summary        string
	}{
		{"aborted, lag not drained", true, &LagResult{Max: 40, Final: 4, Samples: 3}, 0, 4,
			"delivered 96  duplicates 0  loss 0, not drained, 4 records in flight"},
		{"aborted, no lag measured", true, nil, 0, 4,
			"delivered 96  duplicates 0  loss 0, not drained, 4 records in flight"},
		{"drained: what is missing is lost", false, &LagResult{Max: 40, Final: 0, Drained: true, Samples: 9}, 4, 0,
			"delivered 96  duplicates 0  loss 4"},
		{"part still queued, part lost", false, &LagResult{Max: 40, Final: 1, Samples: 9}, 3, 1,
			"delivered 96  duplicates 0  loss 3, not drained, 1 record in flight"},
		{"drain period over, no lag measured: lost", false, nil, 4, 0,
			"delivered 96  duplicates 0  loss 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := workerReport(0, 1)
			w.Worker.Scheduled, w.Worker.Sent, w.Worker.Acked, w.Worker.Failed, w.Worker.Errors = 100, 100, 100, 0, nil
			obs := observerReport()
			obs.Stopped = tc.stopped
			obs.Observer.DLQ = nil
			obs.Observer.Lag = tc.lag
			obs.Observer.EndToEnd.Delivered, obs.Observer.EndToEnd.Duplicates = 96, 0
			doc, err := Merge(decoded(t, w, obs))
			if err != nil {
				t.Fatal(err)
			}
			if e := doc.EndToEnd; e.Loss != tc.loss || e.InFlight != tc.inFlight {
				t.Errorf("loss %d, in flight %d; want %d and %d", e.Loss, e.InFlight, tc.loss, tc.inFlight)
			}
			summary := doc.Summary()
			if !strings.Contains(summary, "end-to-end  "+tc.summary+";") {
				t.Errorf("summary does not say %q:\n%s", tc.summary, summary)
			}
			findings := strings.Join(doc.Findings(), "; ")
			if tc.inFlight > 0 && !strings.Contains(findings, fmt.Sprintf("not drained, %d record", tc.inFlight)) {
				t.Errorf("findings %q do not say the pipeline had not drained", findings)
			}
			if lost := strings.Contains(findings, "lost in the pipeline"); lost != (tc.loss > 0) {
				t.Errorf("findings %q: loss named %v, want %v", findings, lost, tc.loss > 0)
			}
		})
	}
}

// TestMergePercentilesAreLiteral checks the merged percentiles against values worked out
// by hand, not against the histogram code under test: worker 0 measured 1µs to 500µs and
// worker 1 501µs to 1000µs, one value each (below 2048µs a 3-digit histogram is exact).
// The q-quantile of the 1000 values is the ⌈1000·q⌉-th smallest.
func TestMergePercentilesAreLiteral(t *testing.T) {
	var reports []Report
	for i := range 2 {
		r := workerReport(i, 1)
		h := NewHistogram()
		for v := 1; v <= 500; v++ {
			h.Record(time.Duration(i*500+v) * time.Microsecond)
		}
		r.Worker.Latency, r.Worker.SendLatency = h, nil
		reports = append(reports, r)
	}
	obs := observerReport()
	e2e := NewHistogram()
	for range 99 {
		e2e.Record(100 * time.Microsecond)
	}
	e2e.Record(1900 * time.Microsecond)
	obs.Observer.EndToEnd.Latency = e2e
	for _, through := range []string{"directly", "through termination messages"} {
		in := append(slices.Clone(reports), obs)
		if through != "directly" {
			in = decoded(t, in...)
		}
		doc, err := Merge(in)
		if err != nil {
			t.Fatal(err)
		}
		us := time.Microsecond
		want := &Percentiles{Count: 1000, P50: 500 * us, P90: 900 * us, P95: 950 * us, P99: 990 * us, P999: 999 * us, Max: 1000 * us}
		if diff := cmp.Diff(want, doc.Latency); diff != "" {
			t.Errorf("%s: latency percentiles (-want +got)\n%s", through, diff)
		}
		wantE2E := &Percentiles{Count: 100, P50: 100 * us, P90: 100 * us, P95: 100 * us, P99: 100 * us, P999: 1900 * us, Max: 1900 * us}
		if diff := cmp.Diff(wantE2E, doc.EndToEnd.Latency); diff != "" {
			t.Errorf("%s: end-to-end percentiles (-want +got)\n%s", through, diff)
		}
		for i, w := range doc.Workers {
			if p50, p99 := time.Duration(i*500+250)*us, time.Duration(i*500+495)*us; w.P50 != p50 || w.P99 != p99 {
				t.Errorf("%s: worker %d p50 %v p99 %v, want %v and %v", through, i, w.P50, w.P99, p50, p99)
			}
		}
	}
}
