// Package report turns finished LoadTests (their status and the results document of their
// results ConfigMap) into what `kubectl streamreplay compare` and `report` show: a
// side-by-side comparison and a self-contained HTML report. It is pure: the plugin reads the
// objects, this package only formats them.
package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/capacity"
	"github.com/streamreplay/streamreplay/internal/results"
)

// Run is one LoadTest as the plugin read it: the object and its results document, nil when
// the results ConfigMap holds none (the run has not finished, or ended before it had results).
type Run struct {
	LoadTest *streamreplayv1alpha1.LoadTest
	Document *results.Document
	// Probes are a Capacity search's probes (probes.json); nil for other runs.
	Probes []capacity.Record
}

// Direction says which way a figure gets worse.
type Direction string

const (
	// HigherIsWorse is for latencies, failures, dead letters, lag and loss.
	HigherIsWorse Direction = "HigherIsWorse"
	// LowerIsWorse is for achieved rates and delivered records.
	LowerIsWorse Direction = "LowerIsWorse"
	// Neutral is for what the user asked (scheduled records, the rate asked) and text.
	Neutral Direction = "Neutral"
)

// Change is how B compares with A on one figure.
type Change string

const (
	// Worse means B is worse than A.
	Worse Change = "Worse"
	// Better means B is better than A.
	Better Change = "Better"
	// Same means no change, or a neutral figure.
	Same Change = ""
)

// Row is one figure of a comparison. Durations are in seconds in the numeric fields.
type Row struct {
	Figure string `json:"figure"`
	A      string `json:"a"`
	B      string `json:"b"`
	// AValue and BValue are the figures as numbers; nil when a run has no data or the
	// figure is text.
	AValue *float64 `json:"aValue,omitempty"`
	BValue *float64 `json:"bValue,omitempty"`
	// Delta is B - A, in the figure's unit; DeltaPercent is Delta over A, nil when A is 0.
	Delta        *float64  `json:"delta,omitempty"`
	DeltaText    string    `json:"deltaText,omitempty"`
	DeltaPercent *float64  `json:"deltaPercent,omitempty"`
	Direction    Direction `json:"direction"`
	Change       Change    `json:"change,omitempty"`
}

// Comparison is two runs side by side.
type Comparison struct {
	A    string `json:"a"`
	B    string `json:"b"`
	Rows []Row  `json:"rows"`
}

const noData = "no data"

type kind int

const (
	kindCount kind = iota
	kindRate
	kindRatio
	kindDuration
)

// Compare puts two runs side by side: B's change from A for every figure either has.
func Compare(a, b Run) Comparison {
	c := Comparison{A: a.LoadTest.Name, B: b.LoadTest.Name}
	text := func(name string, f func(r Run) string) {
		c.Rows = append(c.Rows, Row{Figure: name, A: orNoData(f(a)), B: orNoData(f(b)), Direction: Neutral})
	}
	text("phase", func(r Run) string { return string(r.LoadTest.Status.Phase) })
	text("verdict", func(r Run) string { return string(r.LoadTest.Status.Verdict) })
	for _, name := range thresholdNames(a, b) {
		text("threshold "+name, func(r Run) string { return thresholdText(r.LoadTest, name) })
	}
	for _, f := range figures {
		av, aok := f.get(a.Document)
		bv, bok := f.get(b.Document)
		if !aok && !bok {
			continue
		}
		c.Rows = append(c.Rows, numericRow(f, av, aok, bv, bok))
	}
	return c
}

func orNoData(s string) string {
	if s == "" {
		return noData
	}
	return s
}

// thresholdNames are the thresholds either run was judged on, A's order first.
func thresholdNames(runs ...Run) []string {
	var names []string
	seen := map[string]bool{}
	for _, r := range runs {
		for _, t := range r.LoadTest.Status.Thresholds {
			if !seen[t.Name] {
				seen[t.Name] = true
				names = append(names, t.Name)
			}
		}
	}
	return names
}

func thresholdText(lt *streamreplayv1alpha1.LoadTest, name string) string {
	for _, t := range lt.Status.Thresholds {
		if t.Name == name {
			verdict := "fail"
			if t.Passed {
				verdict = "pass"
			}
			return fmt.Sprintf("%s: %s (limit %s)", verdict, t.Measured, t.Limit)
		}
	}
	return ""
}

// figure is one number of the results document.
type figure struct {
	name string
	kind kind
	dir  Direction
	get  func(d *results.Document) (float64, bool)
}

func docFigure(name string, k kind, dir Direction, f func(d *results.Document) float64) figure {
	return figure{name, k, dir, func(d *results.Document) (float64, bool) {
		if d == nil {
			return 0, false
		}
		return f(d), true
	}}
}

func percentileFigures(prefix string, p func(d *results.Document) *results.Percentiles) []figure {
	pick := []struct {
		name string
		get  func(p *results.Percentiles) time.Duration
	}{
		{"p50", func(p *results.Percentiles) time.Duration { return p.P50 }},
		{"p90", func(p *results.Percentiles) time.Duration { return p.P90 }},
		{"p95", func(p *results.Percentiles) time.Duration { return p.P95 }},
		{"p99", func(p *results.Percentiles) time.Duration { return p.P99 }},
		{"p99.9", func(p *results.Percentiles) time.Duration { return p.P999 }},
		{"max", func(p *results.Percentiles) time.Duration { return p.Max }},
	}
	out := make([]figure, 0, len(pick))
	for _, q := range pick {
		out = append(out, figure{prefix + " " + q.name, kindDuration, HigherIsWorse, func(d *results.Document) (float64, bool) {
			if d == nil || p(d) == nil || p(d).Count == 0 {
				return 0, false
			}
			return q.get(p(d)).Seconds(), true
		}})
	}
	return out
}

func optional[T any](get func(d *results.Document) *T, f func(v *T) float64) func(d *results.Document) (float64, bool) {
	return func(d *results.Document) (float64, bool) {
		if d == nil || get(d) == nil {
			return 0, false
		}
		return f(get(d)), true
	}
}

func dlq(d *results.Document) *results.DLQResult           { return d.DLQ }
func lag(d *results.Document) *results.LagResult           { return d.Lag }
func e2e(d *results.Document) *results.EndToEndSummary     { return d.EndToEnd }
func latency(d *results.Document) *results.Percentiles     { return d.Latency }
func sendLatency(d *results.Document) *results.Percentiles { return d.SendLatency }
func e2eLatency(d *results.Document) *results.Percentiles {
	if d.EndToEnd == nil {
		return nil
	}
	return d.EndToEnd.Latency
}

var figures = func() []figure {
	fs := []figure{
		docFigure("scheduled", kindCount, Neutral, func(d *results.Document) float64 { return float64(d.Totals.Scheduled) }),
		docFigure("sent", kindCount, LowerIsWorse, func(d *results.Document) float64 { return float64(d.Totals.Sent) }),
		docFigure("acknowledged", kindCount, LowerIsWorse, func(d *results.Document) float64 { return float64(d.Totals.Acked) }),
		docFigure("failed", kindCount, HigherIsWorse, func(d *results.Document) float64 { return float64(d.Totals.Failed) }),
		docFigure("rate asked", kindRate, Neutral, func(d *results.Document) float64 { return d.ScheduledRate }),
		docFigure("achieved rate", kindRate, LowerIsWorse, func(d *results.Document) float64 { return d.AchievedRate }),
		docFigure("achieved rate ratio", kindRatio, LowerIsWorse, func(d *results.Document) float64 { return d.AchievedRateRatio }),
		docFigure("error ratio", kindRatio, HigherIsWorse, func(d *results.Document) float64 { return d.ErrorRatio }),
	}
	fs = append(fs, percentileFigures("latency", latency)...)
	fs = append(fs, percentileFigures("send latency", sendLatency)...)
	fs = append(fs,
		figure{"dead letters", kindCount, HigherIsWorse, optional(dlq, func(v *results.DLQResult) float64 { return float64(v.Records) })},
		figure{"max consumer lag", kindCount, HigherIsWorse, optional(lag, func(v *results.LagResult) float64 { return float64(v.Max) })},
		figure{"final consumer lag", kindCount, HigherIsWorse, optional(lag, func(v *results.LagResult) float64 { return float64(v.Final) })},
		figure{"delivered", kindCount, LowerIsWorse, optional(e2e, func(v *results.EndToEndSummary) float64 { return float64(v.Delivered) })},
		figure{"duplicates", kindCount, HigherIsWorse, optional(e2e, func(v *results.EndToEndSummary) float64 { return float64(v.Duplicates) })},
		figure{"lost", kindCount, HigherIsWorse, optional(e2e, func(v *results.EndToEndSummary) float64 { return float64(v.Loss) })},
		figure{"in flight", kindCount, HigherIsWorse, optional(e2e, func(v *results.EndToEndSummary) float64 { return float64(v.InFlight) })},
	)
	fs = append(fs, percentileFigures("end-to-end", e2eLatency)...)
	return fs
}()

func numericRow(f figure, av float64, aok bool, bv float64, bok bool) Row {
	r := Row{Figure: f.name, A: noData, B: noData, Direction: f.dir}
	if aok {
		r.A, r.AValue = format(f.kind, av), &av
	}
	if bok {
		r.B, r.BValue = format(f.kind, bv), &bv
	}
	if !aok || !bok {
		return r
	}
	delta := bv - av
	r.Delta = &delta
	r.DeltaText = signed(f.kind, delta)
	if av != 0 {
		pct := delta / math.Abs(av) * 100
		r.DeltaPercent = &pct
	}
	switch {
	case delta == 0 || f.dir == Neutral:
	case (delta > 0) == (f.dir == HigherIsWorse):
		r.Change = Worse
	default:
		r.Change = Better
	}
	return r
}

func format(k kind, v float64) string {
	switch k {
	case kindCount:
		return results.GroupThousands(strconv.FormatFloat(v, 'f', 0, 64))
	case kindRate:
		return rateText(v)
	case kindRatio:
		return results.FormatRatio(v, v != math.Trunc(v))
	default:
		return results.FormatDuration(time.Duration(math.Round(v * float64(time.Second))))
	}
}

func signed(k kind, v float64) string {
	if v > 0 {
		return "+" + format(k, v)
	}
	if v < 0 {
		return "-" + format(k, -v)
	}
	return "0"
}

// rateText writes records per second cut, not rounded, to one decimal, as the status does:
// 4,999.96 reads 4,999.9/s, never 5,000/s; a rate below 0.1 keeps two significant digits.
func rateText(v float64) string {
	cut := math.Trunc(v*10) / 10
	if cut == 0 && v != 0 {
		return strconv.FormatFloat(v, 'g', 2, 64) + "/s"
	}
	whole, frac, _ := strings.Cut(strconv.FormatFloat(cut, 'f', 1, 64), ".")
	return results.GroupThousands(whole) + "." + frac + "/s"
}

// PercentText writes a change in percent with one decimal and its sign, "n/a" when the
// base is zero (the change is not a proportion of anything).
func (r Row) PercentText() string {
	switch {
	case r.Delta == nil:
		return ""
	case r.DeltaPercent == nil && *r.Delta == 0:
		return "0%"
	case r.DeltaPercent == nil:
		return "n/a"
	}
	p := *r.DeltaPercent
	s := strconv.FormatFloat(p, 'f', 1, 64)
	// A change that is not zero never reads as 0.0%.
	if p != 0 && (s == "0.0" || s == "-0.0") {
		s = strconv.FormatFloat(p, 'g', 2, 64)
	}
	if p > 0 {
		s = "+" + s
	}
	return s + "%"
}

// Text writes the comparison as an aligned table; the last column marks the figures where
// B is worse than A.
func (c Comparison) Text() string {
	rows := make([][]string, 0, 1+len(c.Rows))
	rows = append(rows, []string{"FIGURE", c.A, c.B, "CHANGE", "%", ""})
	for _, r := range c.Rows {
		mark := ""
		switch r.Change {
		case Worse:
			mark = "WORSE"
		case Better:
			mark = "better"
		}
		rows = append(rows, []string{r.Figure, r.A, r.B, r.DeltaText, r.PercentText(), mark})
	}
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], len([]rune(cell)))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		var line strings.Builder
		for i, cell := range row {
			line.WriteString(cell)
			if i < len(row)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-len([]rune(cell))+2))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	return b.String()
}
