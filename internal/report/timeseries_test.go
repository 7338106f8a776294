package report

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/streamreplay/streamreplay/internal/results"
)

// timelineRun is failedRun with a minute of series: 100/s asked, the acknowledgements
// falling behind in the second half with failures, latency rising, partition 3 holding
// 80% of the lag, and dead letters of two classes.
func timelineRun(t *testing.T) Run {
	t.Helper()
	r := failedRun()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := results.NewSeries(start)
	for sec := range 60 {
		lat, e2e := results.NewHistogram(), results.NewHistogram()
		acked, failed := int64(100), int64(0)
		if sec >= 30 {
			acked, failed = 70, 5
		}
		for i := range acked {
			lat.Record(time.Duration(10+sec+int(i%10)) * time.Millisecond)
			e2e.Record(time.Duration(200+10*sec+int(i%50)) * time.Millisecond)
		}
		p := &results.Point{Scheduled: 100, Sent: acked + failed, Acked: acked, Failed: failed, Latency: lat,
			Delivered: acked, EndToEnd: e2e}
		if sec%2 == 0 { // the observer samples the lag every 2 s: every other interval has none
			lag := int64(50 * sec)
			p.Lag, p.LagSamples = lag, 1
			p.PartitionLag = map[int32]int64{0: lag / 10, 1: lag * 3 / 50, 2: lag / 25, 3: lag * 8 / 10}
		}
		if sec%10 == 5 {
			p.DLQ = map[string]int64{"SchemaError": 3, "DataException": 1}
		}
		if err := s.Add(start.Add(time.Duration(sec)*time.Second), p); err != nil {
			t.Fatal(err)
		}
	}
	r.Document.Series = s.Timeline(nil)
	return r
}

func chartByID(t *testing.T, doc *html.Node, id string) *html.Node {
	t.Helper()
	return byID(t, doc, id)
}

// TestReportTimelineCharts: each chart over time is drawn with a path per line, as many
// points as the series has intervals, within the plot.
func TestReportTimelineCharts(t *testing.T) {
	_, doc := render(t, timelineRun(t))
	for id, lines := range map[string][]string{
		"rate-series":    {"target", "acknowledged", "failed"},
		"latency-series": {"p50", "p99", "max"},
		"e2e-series":     {"p50", "p99"},
		"lag-series":     {"total", "partition 3", "partition 0", "partition 1", "partition 2"},
		"dlq-series":     {"SchemaError", "DataException"},
	} {
		fig := chartByID(t, doc, id)
		paths := find(fig, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "path" })
		var names []string
		for _, p := range paths {
			names = append(names, attr(p, "data-name"))
			want := 60
			if id == "lag-series" {
				want = 30 // sampled every other interval, and drawn across the gaps
			}
			if n, _ := strconv.Atoi(attr(p, "data-points")); n != want {
				t.Errorf("%s: line %s draws %d points, want %d", id, attr(p, "data-name"), n, want)
			}
			if d := attr(p, "d"); strings.Count(d, "M") != 1 {
				t.Errorf("%s: line %s is broken in %d pieces, want one", id, attr(p, "data-name"), strings.Count(d, "M"))
			}
			for _, f := range strings.Fields(strings.NewReplacer("M", " ", "L", " ", "h", " ").Replace(attr(p, "d"))) {
				v, err := strconv.ParseFloat(f, 64)
				if err != nil || v < 0 || v > lineWidth {
					t.Errorf("%s: line %s has coordinate %q outside the chart", id, attr(p, "data-name"), f)
					break
				}
			}
		}
		if strings.Join(names, ",") != strings.Join(lines, ",") {
			t.Errorf("%s: lines %v, want %v", id, names, lines)
		}
	}
	findings := text(byID(t, doc, "findings"))
	if !strings.Contains(findings, "Partition 3 holds 80% of the consumer lag") {
		t.Errorf("findings do not point at the hot partition: %s", findings)
	}
}

// TestReportRateSeriesValues: the achieved line sits where the acknowledgements per
// second put it, on the same scale as the target.
func TestReportRateSeriesValues(t *testing.T) {
	r := timelineRun(t)
	charts := timelineCharts(r.Document.Series)
	c := charts[0]
	if c.ID != "rate-series" {
		t.Fatalf("first chart %s, want rate-series", c.ID)
	}
	// 100/s rounds to 4 ticks of 25: the target line is at the plot's top, the achieved
	// one at 70% of it in the second half.
	target, achieved := c.Lines[0].Path, c.Lines[1].Path
	if !strings.HasPrefix(target, "M"+px(linePlotLeft+0.5/60*(linePlotRight-linePlotLeft))+" "+px(linePlotTop)) {
		t.Errorf("target line starts %.40s, want at the top of the plot", target)
	}
	wantY := px(linePlotBottom - 0.7*(linePlotBottom-linePlotTop))
	if !strings.HasSuffix(achieved, " "+wantY) {
		t.Errorf("achieved line ends %s, want at y %s (70/s of 100)", achieved[len(achieved)-20:], wantY)
	}
}

// TestReportSeriesMissing: the report says whose series could not be collected, and
// draws the charts from the rest.
func TestReportSeriesMissing(t *testing.T) {
	r := timelineRun(t)
	r.Document.Series.Missing = []string{"crm-cdc-peak-worker-1"}
	_, doc := render(t, r)
	if got := text(byID(t, doc, "series-missing")); !strings.Contains(got, "crm-cdc-peak-worker-1 could not be collected") {
		t.Errorf("missing note: %s", got)
	}
	r.Document.Series = nil
	_, doc = render(t, r)
	if got := text(byID(t, doc, "no-series")); !strings.Contains(got, "no time series") {
		t.Errorf("note without a series: %s", got)
	}
}

// TestAxisLabels: the y axis ends on a round value just above the largest, in ticks that
// read well.
func TestAxisLabels(t *testing.T) {
	for _, tc := range []struct {
		top   float64
		whole bool
		want  float64
	}{{100, false, 100}, {1030, false, 1200}, {210, true, 240}, {3, true, 4}, {3, false, 3.2}, {0.5, false, 0.6}} {
		if got := axisTop(tc.top, tc.whole); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("top of %g (whole %v): %g, want %g", tc.top, tc.whole, got, tc.want)
		}
	}
	for v, want := range map[float64]string{1200: "1,200", 62.5: "62.5", 0: "0"} {
		if got := countLabel(v); got != want {
			t.Errorf("countLabel(%g) = %q, want %q", v, got, want)
		}
	}
}

// TestLinePieces: a line breaks where an interval has no value, unless it is sampled
// (the lag), and a piece of one point still draws a stroke.
func TestLinePieces(t *testing.T) {
	nan := math.NaN()
	tl := &results.Timeline{Step: time.Second, Points: make([]results.TimelinePoint, 5)}
	c := lineChart("c", "c", "", tl, []series{
		{name: "broken", values: []float64{1, 2, nan, 3, nan}},
		{name: "sampled", values: []float64{1, nan, 2, nan, 3}, sampled: true},
	}, countLabel)
	if got := c.Lines[0].Path; strings.Count(got, "M") != 2 || !strings.HasSuffix(got, "h 4") {
		t.Errorf("broken line %q: want two pieces, the second of one point with a stroke", got)
	}
	if got := c.Lines[1].Path; strings.Count(got, "M") != 1 || strings.Count(got, "L") != 2 {
		t.Errorf("sampled line %q: want one piece through its 3 samples", got)
	}
}
