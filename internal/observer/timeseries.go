package observer

import (
	"sync"
	"time"

	"github.com/streamreplay/streamreplay/internal/results"
)

// seriesSampler records what the observer sees per interval (results.Series): dead
// letters by class and records delivered with their end-to-end latency, sampled from the
// tallies at each interval's end, and every lag sample as it is taken. The last sample,
// after the readers stopped, makes the intervals sum to the report's counters.
type seriesSampler struct {
	o *Observer

	mu     sync.Mutex // guards series: the ticker and the lag sampler both add
	series *results.Series

	cursor    results.HistogramCursor
	delivered int64
	classes   map[string]int64 // the dead letters by class at the previous sample

	ticker *results.StepTicker
}

// startSeries samples from the run's start every results.BaseStep until finish.
func (o *Observer) startSeries(start time.Time) *seriesSampler {
	s := &seriesSampler{o: o, series: results.NewSeries(start), classes: map[string]int64{}}
	o.sampler.Store(s)
	s.ticker = results.EveryStep(start, s.sample)
	return s
}

// sample adds what the tallies gained since the last sample to the interval holding at.
func (s *seriesSampler) sample(at time.Time) {
	p := &results.Point{}
	if t := s.o.dlq; t != nil {
		t.mu.Lock()
		for name, e := range t.classes {
			if n := e.class.Count - s.classes[name]; n > 0 {
				if p.DLQ == nil {
					p.DLQ = map[string]int64{}
				}
				p.DLQ[name] = n
				s.classes[name] = e.class.Count
			}
		}
		t.mu.Unlock()
	}
	if t := s.o.e2e; t != nil {
		t.mu.Lock()
		p.Delivered = t.delivered - s.delivered
		s.delivered = t.delivered
		snap := t.latency.Snapshot()
		t.mu.Unlock()
		p.EndToEnd = s.cursor.Since(snap)
	}
	if p.DLQ == nil && p.Delivered == 0 && p.EndToEnd == nil {
		return
	}
	s.add(at, p)
}

func (s *seriesSampler) add(at time.Time, p *results.Point) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Cannot fail: the observer's own histograms merge within their range and count.
	_ = s.series.Add(at, p)
}

// lag records one lag sample: the total and each partition's.
func (s *seriesSampler) lag(at time.Time, total int64, partitions map[int32]int64) {
	if s == nil {
		return
	}
	s.add(at, &results.Point{Lag: total, LagSamples: 1, PartitionLag: partitions})
}

// finish stops the sampling once the readers stopped and takes the last sample.
func (s *seriesSampler) finish() *results.Series {
	s.ticker.Stop()
	s.sample(time.Now())
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.series
}

// noteLag gives a lag sample to the running series, if there is one.
func (o *Observer) noteLag(total int64, partitions map[int32]int64) {
	s, _ := o.sampler.Load().(*seriesSampler)
	s.lag(time.Now(), total, partitions)
}

// Series is the run's measurements per interval; nil before Run returned.
func (o *Observer) Series() *results.Series {
	return o.series
}
