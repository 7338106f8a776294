package podrun

import (
	"context"
	"time"

	"github.com/streamreplay/streamreplay/internal/results"
)

// DefaultReportGrace is how long a pod waits for the operator to collect its report:
// the operator tries as soon as the pod turns not Ready (a 2-second readiness probe).
const DefaultReportGrace = 30 * time.Second

// SeriesRunner is a Runner that also measured per interval; its series is served with
// the report on GET /report.
type SeriesRunner interface {
	Series() *results.Series
}

// awaitCollection serves the full report on GET /report and waits, at most ReportGrace,
// for the operator to say it stored it. The termination message is written already: a
// collection that fails or never comes loses the series, not the results.
func (p *pod) awaitCollection(ctx context.Context, runner Runner, report *results.Report) {
	if p.opts.ReportGrace <= 0 {
		return
	}
	full := &results.SeriesReport{Report: report}
	if sr, ok := runner.(SeriesRunner); ok {
		full.Series = sr.Series()
	}
	if err := p.reports.Set(full); err != nil {
		p.log.Error(err, "Serving the full report")
		return
	}
	began := time.Now()
	collected := p.reports.Wait(ctx, p.opts.ReportGrace)
	p.log.Info("Report collection", "collected", collected, "waitedSeconds", time.Since(began).Seconds())
}
