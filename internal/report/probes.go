package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"strings"
	"time"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/capacity"
	"github.com/streamreplay/streamreplay/internal/results"
)

//go:embed probes.html.tmpl
var probesTemplate string

func init() {
	template.Must(page.New("probes").Parse(probesTemplate))
}

// ProbeRow is one probe of a Capacity search in the report's table.
type ProbeRow struct {
	Index                int
	Asked, Achieved      string
	LagSlope             string
	ProduceP99, EndToEnd string
	Failed, DeadLetters  int64
	Sustained            bool
	Verdict              string
	Drained              bool
}

// ProbeSection is a Capacity search in the report: its answer, a chart of the rate
// achieved by each probe, and the table of probes.
type ProbeSection struct {
	Capacity string
	Factor   string
	Chart    *Chart
	Rows     []ProbeRow
}

// probeSection is nil for a run that is not a Capacity search or has no probe yet.
func probeSection(lt *streamreplayv1alpha1.LoadTest, records []capacity.Record) *ProbeSection {
	if len(records) == 0 {
		return nil
	}
	s := &ProbeSection{Capacity: "not found", Factor: string(lt.Status.LimitingFactor)}
	if c := lt.Status.Capacity; c != nil {
		s.Capacity = capacity.FormatRate(*c)
	}
	var bars []barValue
	for _, r := range records {
		p := r.AsProbe()
		row := ProbeRow{
			Index: r.Probe, Asked: capacity.FormatRate(r.SentRate), Achieved: rateText(r.Achieved),
			LagSlope:   fmt.Sprintf("%+.1f ± %.1f/s", r.LagSlope, 2*r.LagSlopeError),
			ProduceP99: results.FormatDuration(time.Duration(r.ProduceP99)), EndToEnd: "no data",
			Failed: r.Failed, DeadLetters: r.DeadLetters, Sustained: r.Sustained, Drained: r.Drained, Verdict: "held",
		}
		if r.EndToEndP99 != nil {
			row.EndToEnd = results.FormatDuration(time.Duration(*r.EndToEndP99))
		}
		if !r.Sustained {
			row.Verdict = fmt.Sprintf("failed (%s): %s", p.Verdict.Factor, strings.Join(p.Verdict.Reasons, "; "))
		}
		s.Rows = append(s.Rows, row)
		bars = append(bars, barValue{label: fmt.Sprintf("#%d %s", r.Probe, capacity.FormatRate(r.SentRate)), text: rateText(r.Achieved), value: r.Achieved})
	}
	s.Chart = barChart("probes-chart", "Rate achieved by each probe, records per second (label: probe and rate asked)", bars)
	return s
}
