package worker

import (
	"time"

	"github.com/streamreplay/streamreplay/internal/pacing"
	"github.com/streamreplay/streamreplay/internal/results"
)

// seriesSampler records the worker's measurements per interval (results.Series). It
// reads the cumulative stats at every interval's end and adds what changed, so the
// producer's hot path is untouched, and the last sample, taken after the flush, makes
// the intervals sum to the report's counters exactly.
type seriesSampler struct {
	st     *stats
	series *results.Series
	cursor results.HistogramCursor
	// The counters at the previous sample.
	sent, acked, failed int64

	ticker *results.StepTicker
}

// startSeries samples from the run's start, every results.BaseStep, until finish.
func (w *Worker) startSeries(start time.Time) *seriesSampler {
	s := &seriesSampler{st: &w.st, series: results.NewSeries(start)}
	s.ticker = results.EveryStep(start, s.sample)
	return s
}

// sample adds what the counters and the latency histogram gained since the last sample
// to the interval holding at.
func (s *seriesSampler) sample(at time.Time) {
	st := s.st
	st.mu.Lock()
	acked, failed := st.acked, st.failed
	sent := st.sent.Load()
	snap := st.latency.Snapshot() // a copy: acknowledgements wait no longer than that
	st.mu.Unlock()
	latency := s.cursor.Since(snap)
	p := &results.Point{Sent: sent - s.sent, Acked: acked - s.acked, Failed: failed - s.failed, Latency: latency}
	s.sent, s.acked, s.failed = sent, acked, failed
	if p.Sent == 0 && p.Acked == 0 && p.Failed == 0 && latency == nil {
		return
	}
	// Cannot fail: the worker's own histograms merge within their range and count.
	_ = s.series.Add(at, p)
}

// finish stops the sampling after the flush and takes the last sample, then spreads the
// records scheduled over their intervals: the schedule over [0, scheduledFor), which is
// what the report counts as scheduled.
func (s *seriesSampler) finish(sched pacing.Schedule, scheduled int64, scheduledFor time.Duration) *results.Series {
	s.ticker.Stop()
	s.sample(time.Now())
	var placed int64
	var last time.Time
	for from := time.Duration(0); from < scheduledFor; from += results.BaseStep {
		to := min(from+results.BaseStep, scheduledFor)
		n := min(sched.Due(to), scheduled) - min(sched.Due(from), scheduled)
		last = s.series.Start.Add(from)
		if n > 0 {
			_ = s.series.Add(last, &results.Point{Scheduled: n})
			placed += n
		}
	}
	if rest := scheduled - placed; rest > 0 { // not expected: Due(scheduledFor) is what was scheduled
		_ = s.series.Add(last, &results.Point{Scheduled: rest})
	}
	return s.series
}

// Series is the run's measurements per interval; nil before Run returned.
func (w *Worker) Series() *results.Series {
	return w.series
}
