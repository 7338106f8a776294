package results

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Time series bounds. A series starts at BaseStep per interval and doubles its step
// (merging adjacent intervals) whenever it would hold more than MaxPoints, so a run of
// any length stays within MaxPoints intervals: 1s up to 6 minutes, 2s up to 12, ...
const (
	BaseStep  = time.Second
	MaxPoints = 360
	// seriesDigits is the precision of the per-interval histograms: percentiles within
	// 1%, at a sixteenth of the memory and encoding of the totals' 3 digits.
	seriesDigits = 2
	// maxPartitions bounds the per-partition lag kept per interval.
	maxPartitions = 4096
	// maxSeriesClasses bounds the dead-letter classes kept per interval; the rest fold
	// into OtherClass.
	maxSeriesClasses = 32
)

// Series is what one pod (or, merged, a whole run) measured per interval. Interval i
// covers [Start+i*Step, Start+(i+1)*Step); Start is the run's agreed start time, the
// same for every pod, so that the series of all pods merge interval by interval.
//
// Counters are per interval: summed over the intervals they equal the report's totals.
type Series struct {
	Start  time.Time     `json:"start"`
	Step   time.Duration `json:"-"`
	Points []Point       `json:"points"`
}

// Point is one interval of a Series. Lag is a gauge: the highest sample of the interval,
// with the partitions' lags of that sample; LagSamples 0 means it was not sampled.
type Point struct {
	Scheduled int64      `json:"scheduled,omitempty"`
	Sent      int64      `json:"sent,omitempty"`
	Acked     int64      `json:"acked,omitempty"`
	Failed    int64      `json:"failed,omitempty"`
	Latency   *Histogram `json:"latency,omitempty"` // acknowledgement, from the intended send time

	Delivered int64            `json:"delivered,omitempty"` // on the output topic
	EndToEnd  *Histogram       `json:"e2e,omitempty"`
	DLQ       map[string]int64 `json:"dlq,omitempty"` // dead letters of the run by class

	Lag          int64           `json:"lag,omitempty"`
	LagSamples   int             `json:"lagSamples,omitempty"`
	PartitionLag map[int32]int64 `json:"partitionLag,omitempty"`
}

// NewSeries is an empty series of a run that starts at start.
func NewSeries(start time.Time) *Series {
	return &Series{Start: start, Step: BaseStep}
}

// Add adds p to the interval holding at (times before Start count in the first),
// coarsening the series when at lies past MaxPoints intervals.
func (s *Series) Add(at time.Time, p *Point) error {
	i := s.index(at)
	for i >= MaxPoints {
		if err := s.Coarsen(); err != nil {
			return err
		}
		i = s.index(at)
	}
	if n := len(s.Points); i >= n {
		s.Points = append(s.Points, make([]Point, i+1-n)...)
	}
	return s.Points[i].merge(p)
}

func (s *Series) index(at time.Time) int {
	d := at.Sub(s.Start)
	if d < 0 {
		return 0
	}
	return int(d / s.Step)
}

// Coarsen doubles the step, merging each pair of intervals.
func (s *Series) Coarsen() error {
	out := make([]Point, (len(s.Points)+1)/2)
	for i := range s.Points {
		if err := out[i/2].merge(&s.Points[i]); err != nil {
			return err
		}
	}
	s.Points, s.Step = out, s.Step*2
	return nil
}

// Merge adds the intervals of other, a series of the same run, into s. Its Start must be
// s's (both are the run's start time); the coarser step wins.
func (s *Series) Merge(other *Series) error {
	if other == nil {
		return nil
	}
	if !other.Start.Equal(s.Start) {
		return fmt.Errorf("series start at %s, not at the run's start %s",
			other.Start.UTC().Format(time.RFC3339Nano), s.Start.UTC().Format(time.RFC3339Nano))
	}
	if err := other.check(); err != nil {
		return err
	}
	for s.Step < other.Step {
		if err := s.Coarsen(); err != nil {
			return err
		}
	}
	for i := range other.Points {
		if err := s.Add(other.Start.Add(time.Duration(i)*other.Step), &other.Points[i]); err != nil {
			return err
		}
	}
	return nil
}

// check refuses what a pod could not have measured: a step that is not BaseStep doubled,
// too many intervals, negative counters.
func (s *Series) check() error {
	if s.Step < BaseStep || s.Step%BaseStep != 0 || (s.Step/BaseStep)&(s.Step/BaseStep-1) != 0 {
		return fmt.Errorf("series step %s is not %s times a power of two", s.Step, BaseStep)
	}
	if len(s.Points) > MaxPoints {
		return fmt.Errorf("series has %d intervals, more than %d", len(s.Points), MaxPoints)
	}
	for i := range s.Points {
		p := &s.Points[i]
		if p.Scheduled < 0 || p.Sent < 0 || p.Acked < 0 || p.Failed < 0 || p.Delivered < 0 || p.Lag < 0 || p.LagSamples < 0 {
			return fmt.Errorf("series interval %d has a negative counter", i)
		}
		if len(p.PartitionLag) > maxPartitions {
			return fmt.Errorf("series interval %d has the lag of %d partitions, more than %d", i, len(p.PartitionLag), maxPartitions)
		}
		for c, n := range p.DLQ {
			if n < 0 {
				return fmt.Errorf("series interval %d: negative count for dead-letter class %q", i, Shorten(c, 64))
			}
		}
	}
	return nil
}

// merge adds o into p: counters and histograms add up, the lag keeps the higher sample.
func (p *Point) merge(o *Point) error {
	p.Scheduled += o.Scheduled
	p.Sent += o.Sent
	p.Acked += o.Acked
	p.Failed += o.Failed
	p.Delivered += o.Delivered
	var err error
	if p.Latency, err = mergeSeriesHist(p.Latency, o.Latency); err != nil {
		return err
	}
	if p.EndToEnd, err = mergeSeriesHist(p.EndToEnd, o.EndToEnd); err != nil {
		return err
	}
	for c, n := range o.DLQ {
		if p.DLQ == nil {
			p.DLQ = map[string]int64{}
		}
		if _, ok := p.DLQ[c]; !ok && len(p.DLQ) >= maxSeriesClasses {
			c = OtherClass
		}
		p.DLQ[c] += n
	}
	if o.LagSamples > 0 && (p.LagSamples == 0 || o.Lag > p.Lag) {
		p.Lag, p.PartitionLag = o.Lag, maps.Clone(o.PartitionLag)
	}
	p.LagSamples += o.LagSamples
	return nil
}

func mergeSeriesHist(acc, h *Histogram) (*Histogram, error) {
	if h.Count() == 0 {
		return acc, nil
	}
	if acc == nil {
		acc = newHistogramDigits(min(seriesDigits, h.SignificantDigits()))
	}
	if err := acc.Merge(h); err != nil {
		return nil, err
	}
	return acc, nil
}

// HistogramCursor yields what was recorded into a growing histogram since the last call.
type HistogramCursor struct {
	prev []int64
}

// HistogramSnapshot is a histogram's counts at one moment (Histogram.Snapshot).
type HistogramSnapshot struct {
	s *hdrhistogram.Snapshot
}

// Snapshot copies h's counts: cheap enough to take while recording is held off, so that
// HistogramCursor.Since can do the rest after.
func (h *Histogram) Snapshot() HistogramSnapshot {
	if h.Count() == 0 {
		return HistogramSnapshot{}
	}
	return HistogramSnapshot{h.h.Export()}
}

// Since returns the values snap holds beyond the previous call's, at the series'
// precision; nil when there are none.
func (c *HistogramCursor) Since(snap HistogramSnapshot) *Histogram {
	if snap.s == nil {
		return nil
	}
	counts := snap.s.Counts
	diff := make([]int64, len(counts))
	var changed bool
	for i, n := range counts {
		if i < len(c.prev) {
			n -= c.prev[i]
		}
		diff[i] = n
		changed = changed || n != 0
	}
	c.prev = counts // Export copied them: nobody else holds them
	if !changed {
		return nil
	}
	full := &Histogram{h: hdrhistogram.Import(&hdrhistogram.Snapshot{
		LowestTrackableValue: snap.s.LowestTrackableValue, HighestTrackableValue: snap.s.HighestTrackableValue,
		SignificantFigures: snap.s.SignificantFigures, Counts: diff,
	})}
	return full.withDigits(seriesDigits)
}

// Timeline is the run's series in the results document: per interval, what a chart
// shows. Missing names the pods whose series could not be collected: their intervals
// lack what they measured, while the totals (from the termination messages) have it.
type Timeline struct {
	Start   time.Time       `json:"start"`
	Step    time.Duration   `json:"-"`
	Points  []TimelinePoint `json:"points"`
	Missing []string        `json:"missing,omitempty"`
	// Partitions lists the input topic's partitions by their lag, summed over the run,
	// highest first; PartitionLag[i][j] is partition Partitions[j]'s lag in interval i.
	Partitions   []int32   `json:"partitions,omitempty"`
	PartitionLag [][]int64 `json:"partitionLag,omitempty"`
	// PartitionLagSum is every partition's lag summed over the run, those not kept included.
	PartitionLagSum int64 `json:"partitionLagSum,omitempty"`
}

// TimelinePoint is one interval of the Timeline.
type TimelinePoint struct {
	Scheduled int64        `json:"scheduled"`
	Sent      int64        `json:"sent"`
	Acked     int64        `json:"acked"`
	Failed    int64        `json:"failed"`
	Latency   *Percentiles `json:"latency,omitempty"`
	Delivered int64        `json:"delivered,omitempty"`
	EndToEnd  *Percentiles `json:"e2e,omitempty"`
	// Lag is nil when the lag was not sampled in the interval.
	Lag *int64           `json:"lag,omitempty"`
	DLQ map[string]int64 `json:"dlq,omitempty"`
}

// maxTimelinePartitions is how many partitions the Timeline keeps, the most lagging.
const maxTimelinePartitions = 16

// Timeline turns a merged series into the document's form; missing names the pods
// whose series is not in it.
func (s *Series) Timeline(missing []string) *Timeline {
	t := &Timeline{Start: s.Start, Step: s.Step, Points: make([]TimelinePoint, len(s.Points)), Missing: missing}
	sums := map[int32]int64{}
	for i := range s.Points {
		p := &s.Points[i]
		tp := TimelinePoint{Scheduled: p.Scheduled, Sent: p.Sent, Acked: p.Acked, Failed: p.Failed,
			Latency: percentilesOf(p.Latency), Delivered: p.Delivered, EndToEnd: percentilesOf(p.EndToEnd),
			DLQ: maps.Clone(p.DLQ)}
		if p.LagSamples > 0 {
			tp.Lag = ptrTo(p.Lag)
		}
		for part, n := range p.PartitionLag {
			sums[part] += n
			t.PartitionLagSum += n
		}
		t.Points[i] = tp
	}
	parts := slices.Collect(maps.Keys(sums))
	slices.SortFunc(parts, func(a, b int32) int { return cmp.Or(cmp.Compare(sums[b], sums[a]), cmp.Compare(a, b)) })
	if len(parts) > maxTimelinePartitions {
		parts = parts[:maxTimelinePartitions]
	}
	if len(parts) > 0 {
		t.Partitions = parts
		t.PartitionLag = make([][]int64, len(s.Points))
		for i := range s.Points {
			row := make([]int64, len(parts))
			for j, part := range parts {
				row[j] = s.Points[i].PartitionLag[part]
			}
			t.PartitionLag[i] = row
		}
	}
	return t
}

// HotPartition names the partition holding the largest share of the lag summed over
// the run, when it holds at least half of it and there are other partitions.
func (t *Timeline) HotPartition() (partition int32, share float64, ok bool) {
	if t == nil || len(t.Partitions) < 2 {
		return 0, 0, false
	}
	var top int64
	for _, row := range t.PartitionLag {
		top += row[0]
	}
	total := t.PartitionLagSum
	if total == 0 {
		return 0, 0, false
	}
	share = float64(top) / float64(total)
	return t.Partitions[0], share, share >= 0.5
}

// Reconcile checks that the timeline's intervals sum to the document's totals; it fails
// when a pod's series is missing, since its records are then in the totals only.
func (d *Document) Reconcile() error {
	t := d.Series
	if t == nil {
		return errors.New("the results have no time series")
	}
	var sum Totals
	var delivered, dlq int64
	for _, p := range t.Points {
		sum.Scheduled += p.Scheduled
		sum.Sent += p.Sent
		sum.Acked += p.Acked
		sum.Failed += p.Failed
		delivered += p.Delivered
		for _, n := range p.DLQ {
			dlq += n
		}
	}
	var errs []error
	for _, c := range []struct {
		name       string
		sum, total int64
	}{{"scheduled", sum.Scheduled, d.Totals.Scheduled}, {"sent", sum.Sent, d.Totals.Sent},
		{"acked", sum.Acked, d.Totals.Acked}, {"failed", sum.Failed, d.Totals.Failed}} {
		if c.sum != c.total {
			errs = append(errs, fmt.Errorf("%s: the intervals sum to %d, the totals say %d", c.name, c.sum, c.total))
		}
	}
	if e := d.EndToEnd; e != nil && delivered != e.Delivered {
		errs = append(errs, fmt.Errorf("delivered: the intervals sum to %d, the totals say %d", delivered, e.Delivered))
	}
	if q := d.DLQ; q != nil && dlq != q.Records {
		errs = append(errs, fmt.Errorf("dead letters: the intervals sum to %d, the totals say %d", dlq, q.Records))
	}
	return errors.Join(errs...)
}

// SeriesReport is what a pod serves on GET /report once its run is over: its full
// report, which its termination message may carry only in part, and its series.
type SeriesReport struct {
	Report *Report `json:"report"`
	Series *Series `json:"series,omitempty"`
}

type seriesJSON struct {
	*seriesFields
	Step jsonDuration `json:"step"`
}

type seriesFields Series

// MarshalJSON writes the step as a duration string.
func (s Series) MarshalJSON() ([]byte, error) {
	return json.Marshal(seriesJSON{(*seriesFields)(&s), jsonDuration(s.Step)})
}

// UnmarshalJSON reads what MarshalJSON writes and checks the series' bounds.
func (s *Series) UnmarshalJSON(b []byte) error {
	aux := seriesJSON{seriesFields: (*seriesFields)(s)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	s.Step = time.Duration(aux.Step)
	return s.check()
}

type timelineJSON struct {
	*timelineFields
	Step jsonDuration `json:"step"`
}

type timelineFields Timeline

// MarshalJSON writes the step as a duration string.
func (t Timeline) MarshalJSON() ([]byte, error) {
	return json.Marshal(timelineJSON{(*timelineFields)(&t), jsonDuration(t.Step)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (t *Timeline) UnmarshalJSON(b []byte) error {
	aux := timelineJSON{timelineFields: (*timelineFields)(t)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	t.Step = time.Duration(aux.Step)
	return nil
}

// Check validates a report collected from pod of run runID, as Decode checks a
// termination message; the series was checked when it was decoded.
func (r *SeriesReport) Check(runID, pod string) error {
	switch {
	case r.Report == nil:
		return errors.New("no report")
	case r.Report.RunID != runID:
		return fmt.Errorf("run id %q is not this run's %q", r.Report.RunID, runID)
	case r.Report.Pod != pod:
		return fmt.Errorf("report of pod %q, not of %q", r.Report.Pod, pod)
	}
	if r.Report.Version == 0 {
		r.Report.Version = FormatVersion
	}
	return r.Report.validate()
}

// StepTicker calls a pod's sampler at the end of every BaseStep interval of its run.
type StepTicker struct {
	stop, done chan struct{}
}

// EveryStep calls sample with the last instant of each BaseStep interval from start, as
// each one ends, until Stop. A late wake-up skips the intervals it slept through: the next
// sample adds what they gained to the interval holding it.
func EveryStep(start time.Time, sample func(at time.Time)) *StepTicker {
	t := &StepTicker{stop: make(chan struct{}), done: make(chan struct{})}
	go t.run(start, sample)
	return t
}

func (t *StepTicker) run(start time.Time, sample func(at time.Time)) {
	defer close(t.done)
	k := max(0, time.Since(start)/BaseStep) + 1
	timer := time.NewTimer(time.Until(start.Add(k * BaseStep)))
	defer timer.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-timer.C:
			sample(start.Add(k*BaseStep - time.Nanosecond)) // the interval that just ended
			k = max(k, time.Since(start)/BaseStep) + 1
			timer.Reset(time.Until(start.Add(k * BaseStep)))
		}
	}
}

// Stop ends the ticks and waits for a sample in progress.
func (t *StepTicker) Stop() {
	close(t.stop)
	<-t.done
}
