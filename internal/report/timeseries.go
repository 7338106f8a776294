package report

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/streamreplay/streamreplay/internal/results"
)

// Line chart geometry, in SVG user units: the plot leaves room for the y labels on the
// left, the x labels below and the legend under them.
const (
	lineWidth      = 860
	lineHeight     = 300
	linePlotLeft   = 70
	linePlotRight  = lineWidth - 20
	linePlotTop    = 16
	linePlotBottom = 230
	legendY        = 280
	yTicks         = 4
	maxLines       = 6 // lines of one chart: the rest of the partitions or classes add up in "other"
)

// Names of the percentile lines.
const (
	labelP50 = "p50"
	labelP99 = "p99"
	labelMax = "max"
)

// Line colours: distinct from each other and from the bars' blue (#0969da), which the
// browser test looks for.
var (
	colTarget   = "#57606a"
	colAchieved = "#1a7f37"
	colFailed   = "#cf222e"
	palette     = []string{"#8250df", "#bc4c00", "#bf3989", "#116329", "#0550ae", "#9a6700"}
)

// LineChart is values over the run's time, drawn as inline SVG paths.
type LineChart struct {
	ID, Title     string
	Width, Height int
	Left, Right   float64
	Top, Bottom   float64
	Unit          string
	Lines         []Line
	XTicks        []Tick
	YTicks        []Tick
}

// Line is one series of a chart: its SVG path ("M x y L x y …", gaps start a new "M").
type Line struct {
	Name, Color string
	Dashed      bool
	Path        string
	// Points is how many values the path draws; LegendX places its legend entry.
	Points  int
	LegendX float64
}

// Tick is a label on an axis at X (x axis) or Y (y axis).
type Tick struct {
	Label string
	X, Y  float64
}

// series is one line before it is placed: a value per interval, NaN where there is none.
type series struct {
	name, color string
	dashed      bool
	values      []float64
	// sampled: a gauge sampled now and then (the lag), drawn across the intervals
	// without a sample; other lines break where there is no value.
	sampled bool
}

// lineChart places the series on a common scale from 0 to the largest value.
func lineChart(id, title, unit string, t *results.Timeline, lines []series, label func(float64) string) *LineChart {
	top := 0.0
	drawn := 0
	for _, l := range lines {
		for _, v := range l.values {
			if !math.IsNaN(v) {
				top = max(top, v)
				drawn++
			}
		}
	}
	if drawn == 0 {
		return nil
	}
	top = axisTop(top, unit == unitRecords)
	c := &LineChart{ID: id, Title: title, Unit: unit, Width: lineWidth, Height: lineHeight,
		Left: linePlotLeft, Right: linePlotRight, Top: linePlotTop, Bottom: linePlotBottom}
	n := len(t.Points)
	x := func(i int) float64 { // the interval's middle
		return linePlotLeft + (float64(i)+0.5)/float64(n)*(linePlotRight-linePlotLeft)
	}
	y := func(v float64) float64 { return linePlotBottom - v/top*(linePlotBottom-linePlotTop) }
	legendX := float64(linePlotLeft)
	for _, l := range lines {
		var b strings.Builder
		points, run := 0, 0 // run: the points of the piece being drawn
		for i, v := range l.values {
			if math.IsNaN(v) {
				if !l.sampled {
					endPiece(&b, run)
					run = 0
				}
				continue
			}
			op := "L"
			if run == 0 {
				op = "M"
			}
			fmt.Fprintf(&b, "%s%s %s ", op, px(x(i)), px(y(v)))
			run++
			points++
		}
		endPiece(&b, run)
		if points == 0 {
			continue
		}
		path := strings.TrimSpace(b.String())
		c.Lines = append(c.Lines, Line{Name: l.name, Color: l.color, Dashed: l.dashed, Path: path, Points: points, LegendX: legendX})
		legendX += 30 + 7*float64(len(l.name)) + 20
	}
	for k := 0; k <= yTicks; k++ {
		v := top * float64(k) / yTicks
		c.YTicks = append(c.YTicks, Tick{Label: label(v), Y: y(v)})
	}
	span := time.Duration(n) * t.Step
	for k := 0; k <= 5; k++ {
		at := time.Duration(float64(span) * float64(k) / 5)
		c.XTicks = append(c.XTicks, Tick{Label: clock(at), X: linePlotLeft + float64(k)/5*(linePlotRight-linePlotLeft)})
	}
	return c
}

// endPiece ends a piece of a line: a piece of one point gets a short flat stroke, so
// that it shows.
func endPiece(b *strings.Builder, points int) {
	if points == 1 {
		b.WriteString("h 4 ")
	}
}

// unitRecords marks the charts of whole records, whose ticks are whole numbers.
const unitRecords = "records"

// axisTop is the top of a y axis showing values up to v: yTicks round steps.
func axisTop(v float64, whole bool) float64 {
	step := niceCeiling(v / yTicks)
	if whole {
		step = max(1, math.Ceil(step))
	}
	return step * yTicks
}

// niceCeiling rounds v up to a round multiple of a power of ten, so the y labels read well.
func niceCeiling(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// clock writes an offset from the run's start as m:ss (or h:mm:ss).
func clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func px(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// countLabel writes an axis value: whole numbers with thousands separators, others with
// one decimal.
func countLabel(v float64) string {
	if v == math.Trunc(v) {
		return results.GroupThousands(strconv.FormatFloat(v, 'f', 0, 64))
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// timelineCharts are the charts of the run over time; none without a series.
func timelineCharts(t *results.Timeline) []*LineChart {
	if t == nil || len(t.Points) == 0 || t.Step <= 0 {
		return nil
	}
	perSecond := func(get func(p *results.TimelinePoint) int64) []float64 {
		out := make([]float64, len(t.Points))
		for i := range t.Points {
			out[i] = float64(get(&t.Points[i])) / t.Step.Seconds()
		}
		return out
	}
	latency := func(get func(p *results.TimelinePoint) *results.Percentiles, q func(p *results.Percentiles) time.Duration) []float64 {
		out := make([]float64, len(t.Points))
		for i := range t.Points {
			out[i] = math.NaN()
			if p := get(&t.Points[i]); p != nil && p.Count > 0 {
				out[i] = float64(q(p)) / float64(time.Millisecond)
			}
		}
		return out
	}
	msLabel := func(v float64) string { return results.FormatDuration(time.Duration(v * float64(time.Millisecond))) }
	rateLabel := func(v float64) string { return countLabel(v) + "/s" }

	var charts []*LineChart
	add := func(c *LineChart) {
		if c != nil {
			charts = append(charts, c)
		}
	}
	failed := perSecond(func(p *results.TimelinePoint) int64 { return p.Failed })
	rates := []series{
		{"target", colTarget, true, perSecond(func(p *results.TimelinePoint) int64 { return p.Scheduled }), false},
		{"acknowledged", colAchieved, false, perSecond(func(p *results.TimelinePoint) int64 { return p.Acked }), false},
	}
	if slices.ContainsFunc(failed, func(v float64) bool { return v > 0 }) {
		rates = append(rates, series{"failed", colFailed, false, failed, false})
	}
	add(lineChart("rate-series", "Rate over time: target and achieved, records per second", "records/s", t, rates, rateLabel))

	produce := func(p *results.TimelinePoint) *results.Percentiles { return p.Latency }
	add(lineChart("latency-series", "Acknowledgement latency over time (from the intended send time)", "ms", t, []series{
		{labelP50, palette[0], false, latency(produce, func(p *results.Percentiles) time.Duration { return p.P50 }), false},
		{labelP99, palette[2], false, latency(produce, func(p *results.Percentiles) time.Duration { return p.P99 }), false},
		{labelMax, palette[5], true, latency(produce, func(p *results.Percentiles) time.Duration { return p.Max }), false},
	}, msLabel))

	e2e := func(p *results.TimelinePoint) *results.Percentiles { return p.EndToEnd }
	add(lineChart("e2e-series", "End-to-end latency over time (intended send time to the output topic)", "ms", t, []series{
		{labelP50, palette[0], false, latency(e2e, func(p *results.Percentiles) time.Duration { return p.P50 }), false},
		{labelP99, palette[2], false, latency(e2e, func(p *results.Percentiles) time.Duration { return p.P99 }), false},
	}, msLabel))

	add(lineChart("lag-series", "Consumer lag over time: total and the most lagging partitions", unitRecords, t, lagLines(t), countLabel))
	add(lineChart("dlq-series", "Dead letters over time by class, records per interval", unitRecords, t, dlqLines(t), countLabel))
	return charts
}

// lagLines are the total lag and the most lagging partitions' (Timeline keeps them
// ordered by their lag summed over the run).
func lagLines(t *results.Timeline) []series {
	total := make([]float64, len(t.Points))
	sampled := false
	for i := range t.Points {
		total[i] = math.NaN()
		if l := t.Points[i].Lag; l != nil {
			total[i] = float64(*l)
			sampled = true
		}
	}
	if !sampled {
		return nil
	}
	lines := []series{{"total", colTarget, false, total, true}}
	for j, part := range t.Partitions {
		if j == maxLines-1 {
			break
		}
		values := make([]float64, len(t.Points))
		for i := range t.Points {
			values[i] = math.NaN()
			if t.Points[i].Lag != nil && i < len(t.PartitionLag) {
				values[i] = float64(t.PartitionLag[i][j])
			}
		}
		lines = append(lines, series{fmt.Sprintf("partition %d", part), palette[j%len(palette)], true, values, true})
	}
	return lines
}

// dlqLines are the dead letters per interval of the largest classes, the rest together.
func dlqLines(t *results.Timeline) []series {
	sums := map[string]int64{}
	for _, p := range t.Points {
		for c, n := range p.DLQ {
			sums[c] += n
		}
	}
	if len(sums) == 0 {
		return nil
	}
	classes := slices.SortedFunc(maps.Keys(sums), func(a, b string) int { return cmp.Or(cmp.Compare(sums[b], sums[a]), cmp.Compare(a, b)) })
	shown := classes
	if len(shown) > maxLines {
		shown = classes[:maxLines-1]
	}
	var lines []series
	for j, c := range shown {
		values := make([]float64, len(t.Points))
		for i, p := range t.Points {
			values[i] = float64(p.DLQ[c])
		}
		lines = append(lines, series{results.Shorten(c, 60), palette[j%len(palette)], false, values, false})
	}
	if len(shown) < len(classes) {
		values := make([]float64, len(t.Points))
		for i, p := range t.Points {
			for _, c := range classes[len(shown):] {
				values[i] += float64(p.DLQ[c])
			}
		}
		lines = append(lines, series{fmt.Sprintf("%d other classes", len(classes)-len(shown)), colTarget, true, values, false})
	}
	return lines
}

// timelineFindings say what the series shows that the totals do not.
func timelineFindings(t *results.Timeline) []string {
	if t == nil {
		return nil
	}
	var out []string
	if p, share, ok := t.HotPartition(); ok {
		out = append(out, fmt.Sprintf("Partition %d holds %d%% of the consumer lag (summed over the lag samples): a hot partition or key skew.",
			p, int(math.Floor(share*100))))
	}
	return out
}
