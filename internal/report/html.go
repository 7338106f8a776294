package report

import (
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"time"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/results"
)

//go:embed report.html.tmpl
var reportTemplate string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"count":    func(n int64) string { return format(kindCount, float64(n)) },
	"rate":     func(v float64) string { return format(kindRate, v) },
	"ratio":    func(v float64) string { return format(kindRatio, v) },
	"duration": results.FormatDuration,
	"px":       func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) },
	"add":      func(a, b float64) float64 { return a + b },
	"legendY":  func() float64 { return legendY },
}).Parse(reportTemplate))

// Chart geometry, in SVG user units.
const (
	chartWidth   = 640
	chartHeight  = 240
	plotTop      = 20
	plotBottom   = 200 // the bars' base line; labels go below it
	plotLeft     = 20
	barGap       = 16
	plotRight    = chartWidth - 20
	plotHeight   = plotBottom - plotTop
	valueLabelDy = 4
)

// Bar is one bar of a chart: its label, its value in words and its place.
type Bar struct {
	Label string
	Value string
	// Raw is the value the bar's height is proportional to (data-value on the page):
	// nanoseconds for latencies, records per second for rates.
	Raw        float64
	X, Y, W, H float64
	// LabelX is the centre of the bar, LabelY the top of its value label.
	LabelX, LabelY float64
}

// Chart is a bar chart drawn as inline SVG.
type Chart struct {
	ID            string
	Title         string
	Width, Height int
	Base          float64
	Bars          []Bar
}

// percentileChart draws p50 to max as bars whose heights are proportional to the latency,
// the tallest filling the plot; nil without a histogram.
func percentileChart(id, title string, p *results.Percentiles) *Chart {
	if p == nil || p.Count == 0 {
		return nil
	}
	var values []barValue
	for _, v := range []struct {
		label string
		d     time.Duration
	}{{"p50", p.P50}, {"p90", p.P90}, {"p95", p.P95}, {"p99", p.P99}, {"p99.9", p.P999}, {"max", p.Max}} {
		values = append(values, barValue{v.label, results.FormatDuration(v.d), float64(v.d)})
	}
	return barChart(id, title, values)
}

// rateChart draws the rate asked next to the rate achieved; nil when nothing was asked.
func rateChart(d *results.Document) *Chart {
	if d.ScheduledRate <= 0 {
		return nil
	}
	return barChart("rate-chart", "Rate asked and achieved, records per second", []barValue{
		{"asked", rateText(d.ScheduledRate), d.ScheduledRate},
		{"achieved", rateText(d.AchievedRate), d.AchievedRate},
	})
}

// barValue is one bar before it is placed: its label, its value in words and as a number.
type barValue struct {
	label, text string
	value       float64
}

// barChart places the bars side by side, their heights proportional to their values, the
// largest filling the plot.
func barChart(id, title string, values []barValue) *Chart {
	top := 0.0
	for _, v := range values {
		top = max(top, v.value)
	}
	c := &Chart{ID: id, Title: title, Width: chartWidth, Height: chartHeight, Base: plotBottom}
	step := float64(plotRight-plotLeft) / float64(max(len(values), 6))
	for i, v := range values {
		h := 0.0
		if top > 0 {
			h = v.value / top * plotHeight
		}
		x := plotLeft + float64(i)*step + barGap/2
		w := step - barGap
		c.Bars = append(c.Bars, Bar{
			Label: v.label, Value: v.text, Raw: v.value,
			X: x, Y: plotBottom - h, W: w, H: h,
			LabelX: x + w/2, LabelY: plotBottom - h - valueLabelDy,
		})
	}
	return c
}

// Threshold is one line of the verdict table.
type Threshold struct {
	Name, Measured, Limit string
	Passed                bool
}

type pageData struct {
	Name, Namespace string
	Phase, Verdict  string
	VerdictClass    string
	Message         string
	Started         string
	Completed       string
	Generated       string
	Thresholds      []Threshold
	Doc             *results.Document
	Errors          []results.DLQClass
	Findings        []string
	Rate            *Chart
	Latency         *Chart
	EndToEnd        *Chart
	// Timeline are the charts over time (timeseries.go); SeriesMissing names the pods
	// whose series could not be collected.
	Timeline      []*LineChart
	SeriesMissing []string
	NoSeries      bool
	Probes        *ProbeSection // a Capacity search's probes (probes.go)
}

// WriteHTML writes the run's report: one HTML page with its CSS and SVG charts inline, and
// nothing fetched from anywhere (no script, font, image or style sheet).
func WriteHTML(w io.Writer, r Run, generated time.Time) error {
	lt := r.LoadTest
	d := pageData{
		Name: lt.Name, Namespace: lt.Namespace,
		Phase: orNoData(string(lt.Status.Phase)), Verdict: orNoData(string(lt.Status.Verdict)),
		Message:   lt.Status.Message,
		Generated: generated.UTC().Format(time.RFC3339),
		Doc:       r.Document,
	}
	switch lt.Status.Verdict {
	case streamreplayv1alpha1.VerdictPass:
		d.VerdictClass = "pass"
	case streamreplayv1alpha1.VerdictFail:
		d.VerdictClass = "fail"
	default:
		d.VerdictClass = "other"
	}
	if t := lt.Status.StartTime; t != nil {
		d.Started = t.UTC().Format(time.RFC3339Nano)
	}
	if t := lt.Status.CompletionTime; t != nil {
		d.Completed = t.UTC().Format(time.RFC3339)
	}
	for _, t := range lt.Status.Thresholds {
		d.Thresholds = append(d.Thresholds, Threshold{t.Name, t.Measured, t.Limit, t.Passed})
	}
	if doc := r.Document; doc != nil {
		d.Findings = append(doc.Findings(), timelineFindings(doc.Series)...)
		d.Timeline = timelineCharts(doc.Series)
		if doc.Series != nil {
			d.SeriesMissing = doc.Series.Missing
		} else {
			d.NoSeries = true
		}
		d.Rate = rateChart(doc)
		d.Latency = percentileChart("latency-chart", "Acknowledgement latency (from the intended send time)", doc.Latency)
		if doc.EndToEnd != nil {
			d.EndToEnd = percentileChart("e2e-chart", "End-to-end latency (intended send time to the output topic)", doc.EndToEnd.Latency)
		}
		for name, n := range doc.Errors {
			d.Errors = append(d.Errors, results.DLQClass{Name: name, Count: n})
		}
		slices.SortFunc(d.Errors, func(a, b results.DLQClass) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name))
		})
	}
	d.Probes = probeSection(lt, r.Probes)
	if err := page.Execute(w, d); err != nil {
		return fmt.Errorf("rendering the report of loadtest %s: %w", lt.Name, err)
	}
	return nil
}
