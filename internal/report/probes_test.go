package report

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"
	"k8s.io/utils/ptr"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/capacity"
)

// A Capacity search's report shows its answer, one row per probe (rate asked and
// achieved, lag slope, p99s, errors, dead letters, verdict) and a bar per probe.
func TestReportProbes(t *testing.T) {
	r := failedRun()
	r.LoadTest.Spec.Scenario.Type = streamreplayv1alpha1.ScenarioCapacity
	r.LoadTest.Status.Capacity = ptr.To[int64](300)
	r.LoadTest.Status.LimitingFactor = streamreplayv1alpha1.LimitingPipeline
	l := capacity.Limits{MinAchievedRateRatio: 0.95, MaxErrorRatio: 0.001, MaxDLQRatio: 1, LagSlopeNoise: 0.02}
	start := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	signals := func(rate float64, growth int64) capacity.Signals {
		s := capacity.Signals{Rate: rate, Hold: 10 * time.Second, Scheduled: int64(rate) * 10, Acknowledged: int64(rate) * 10, Failed: 2,
			ProduceP99: 4 * time.Millisecond, EndToEndP99: 60 * time.Millisecond, HasEndToEnd: true, DeadLetters: 5}
		for i := int64(1); i <= 5; i++ {
			s.Lag = append(s.Lag, capacity.LagSample{At: time.Duration(2*i) * time.Second, Lag: growth * 2 * i})
		}
		return s
	}
	r.Probes = []capacity.Record{
		capacity.NewRecord(0, 200, 200, start, l, signals(200, 0), true),
		capacity.NewRecord(1, 400, 400, start.Add(time.Minute), l, signals(400, 100), false),
	}
	_, doc := render(t, r)
	if got := text(byID(t, doc, "capacity")); got != "Capacity 300/s , limited by Pipeline , after 2 probes." {
		t.Errorf("capacity line %q", got)
	}
	rows := rowTexts(byID(t, doc, "probes"), "probe")
	want := []string{
		"0 200/s 200.0/s +0.0 ± 0.0/s 4ms 60ms 2 5 yes held",
		"1 400/s 400.0/s +100.0 ± 0.0/s 4ms 60ms 2 5 no failed failed (Pipeline): lag grows 100.0±0.0/s",
	}
	if len(rows) != len(want) {
		t.Fatalf("probe rows %q, want %d", rows, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(rows[i], want[i]) {
			t.Errorf("probe row %d:\n got %q\nwant prefix %q", i, rows[i], want[i])
		}
	}
	var bars []string
	for _, b := range find(byID(t, doc, "probes-chart"), func(n *html.Node) bool { return hasClass(n, "bar") }) {
		bars = append(bars, attr(b, "data-label")+"="+attr(b, "data-value"))
	}
	if diff := cmp.Diff([]string{"#0 200/s=200", "#1 400/s=400"}, bars); diff != "" {
		t.Errorf("probe bars (-want +got):\n%s", diff)
	}

	// Other runs have no such section.
	plain := failedRun()
	if out, _ := render(t, plain); strings.Contains(out, `id="probes"`) {
		t.Error("a run without probes shows a probes table")
	}
}
