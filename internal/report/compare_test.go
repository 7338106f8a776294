package report

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/results"
)

func run(name string, phase streamreplayv1alpha1.Phase, checks []streamreplayv1alpha1.ThresholdCheck, doc *results.Document) Run {
	lt := &streamreplayv1alpha1.LoadTest{ObjectMeta: metav1.ObjectMeta{Name: name}}
	lt.Status.Phase = phase
	switch phase {
	case streamreplayv1alpha1.PhasePassed:
		lt.Status.Verdict = streamreplayv1alpha1.VerdictPass
	case streamreplayv1alpha1.PhaseFailed:
		lt.Status.Verdict = streamreplayv1alpha1.VerdictFail
	}
	lt.Status.Thresholds = checks
	return Run{LoadTest: lt, Document: doc}
}

// figureRow is what a test checks of a row: the texts and the change.
type figureRow struct {
	Figure, A, B, Delta, Percent string
	Change                       Change
}

func rowsOf(c Comparison, figures ...string) []figureRow {
	var out []figureRow
	for _, r := range c.Rows {
		for _, f := range figures {
			if r.Figure == f {
				out = append(out, figureRow{r.Figure, r.A, r.B, r.DeltaText, r.PercentText(), r.Change})
			}
		}
	}
	return out
}

func TestCompare(t *testing.T) {
	base := func() *results.Document {
		return &results.Document{
			Totals:            results.Totals{Scheduled: 10000, Sent: 10000, Acked: 10000},
			ScheduledRate:     1000,
			AchievedRate:      1000,
			AchievedRateRatio: 1,
			Latency:           &results.Percentiles{Count: 10000, P50: 2 * time.Millisecond, P99: 10 * time.Millisecond, Max: 20 * time.Millisecond},
			DLQ:               &results.DLQResult{Records: 0},
			Lag:               &results.LagResult{Max: 100, Final: 0, Drained: true},
		}
	}
	slower := base()
	slower.Latency.P99 = 15 * time.Millisecond
	slower.Latency.P50 = time.Millisecond
	capped := base()
	capped.Totals.Acked, capped.Totals.Failed = 9000, 1000
	capped.AchievedRate, capped.AchievedRateRatio, capped.ErrorRatio = 900, 0.9, 0.1
	capped.DLQ.Records = 25
	capped.Lag.Max = 50

	passed := []streamreplayv1alpha1.ThresholdCheck{{Name: "maxP99Latency", Measured: "10ms", Limit: "12ms", Passed: true}}
	failed := []streamreplayv1alpha1.ThresholdCheck{{Name: "maxP99Latency", Measured: "15ms", Limit: "12ms"}}

	tests := []struct {
		name    string
		a, b    Run
		figures []string
		want    []figureRow
	}{{
		name:    "higher latency is worse, lower is better",
		a:       run("a", streamreplayv1alpha1.PhasePassed, passed, base()),
		b:       run("b", streamreplayv1alpha1.PhaseFailed, failed, slower),
		figures: []string{"verdict", "threshold maxP99Latency", "latency p50", "latency p99", "latency max"},
		want: []figureRow{
			{"verdict", "Pass", "Fail", "", "", Same},
			{"threshold maxP99Latency", "pass: 10ms (limit 12ms)", "fail: 15ms (limit 12ms)", "", "", Same},
			{"latency p50", "2ms", "1ms", "-1ms", "-50.0%", Better},
			{"latency p99", "10ms", "15ms", "+5ms", "+50.0%", Worse},
			{"latency max", "20ms", "20ms", "0", "0.0%", Same},
		},
	}, {
		name:    "lower rate, more failures, more dead letters are worse; less lag is better",
		a:       run("a", streamreplayv1alpha1.PhasePassed, nil, base()),
		b:       run("b", streamreplayv1alpha1.PhaseFailed, nil, capped),
		figures: []string{"scheduled", "acknowledged", "failed", "achieved rate", "achieved rate ratio", "error ratio", "dead letters", "max consumer lag"},
		want: []figureRow{
			{"scheduled", "10,000", "10,000", "0", "0.0%", Same},
			{"acknowledged", "10,000", "9,000", "-1,000", "-10.0%", Worse},
			{"failed", "0", "1,000", "+1,000", "n/a", Worse},
			{"achieved rate", "1,000.0/s", "900.0/s", "-100.0/s", "-10.0%", Worse},
			{"achieved rate ratio", "1", "0.9", "-0.1", "-10.0%", Worse},
			{"error ratio", "0", "0.1", "+0.1", "n/a", Worse},
			{"dead letters", "0", "25", "+25", "n/a", Worse},
			{"max consumer lag", "100", "50", "-50", "-50.0%", Better},
		},
	}, {
		name:    "a run without results has no data and no change",
		a:       run("a", streamreplayv1alpha1.PhasePassed, nil, base()),
		b:       run("b", streamreplayv1alpha1.PhaseError, nil, nil),
		figures: []string{"phase", "verdict", "latency p99", "dead letters"},
		want: []figureRow{
			{"phase", "Passed", "Error", "", "", Same},
			{"verdict", "Pass", "no data", "", "", Same},
			{"latency p99", "10ms", "no data", "", "", Same},
			{"dead letters", "0", "no data", "", "", Same},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rowsOf(Compare(tt.a, tt.b), tt.figures...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Compare rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompareLeavesOutFiguresNeitherRunHas(t *testing.T) {
	doc := &results.Document{Totals: results.Totals{Scheduled: 1}}
	c := Compare(run("a", streamreplayv1alpha1.PhasePassed, nil, doc), run("b", streamreplayv1alpha1.PhasePassed, nil, doc))
	for _, r := range c.Rows {
		if strings.HasPrefix(r.Figure, "end-to-end") || r.Figure == "dead letters" || strings.HasPrefix(r.Figure, "latency") {
			t.Errorf("row %q shown though neither run measured it", r.Figure)
		}
	}
}

func TestPercentTextNeverReadsZeroForAChange(t *testing.T) {
	d, p := 0.0001, 0.0004
	got := Row{Delta: &d, DeltaPercent: &p}.PercentText()
	if got == "+0.0%" || got == "0%" {
		t.Errorf("a change of 0.0004%% reads %q", got)
	}
}

func TestRateIsCutNotRounded(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{{4999.96, "4,999.9/s"}, {5000, "5,000.0/s"}, {0.04, "0.04/s"}, {-100, "-100.0/s"}, {0, "0.0/s"}} {
		if got := format(kindRate, tc.v); got != tc.want {
			t.Errorf("rate %v reads %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestText(t *testing.T) {
	c := Compare(run("before", streamreplayv1alpha1.PhasePassed, nil, &results.Document{AchievedRate: 100}),
		run("after", streamreplayv1alpha1.PhasePassed, nil, &results.Document{AchievedRate: 50}))
	text := c.Text()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if !strings.HasPrefix(lines[0], "FIGURE") || !strings.Contains(lines[0], "before") || !strings.Contains(lines[0], "after") {
		t.Errorf("header line %q does not name the runs", lines[0])
	}
	var found bool
	for _, l := range lines {
		if strings.HasPrefix(l, "achieved rate ") && !strings.HasPrefix(l, "achieved rate ratio") {
			found = true
			if !strings.HasSuffix(l, "WORSE") || !strings.Contains(l, "-50.0%") {
				t.Errorf("achieved rate line %q: want -50.0%% marked WORSE", l)
			}
		}
	}
	if !found {
		t.Errorf("no achieved rate line in:\n%s", text)
	}
}
