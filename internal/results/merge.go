package results

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Document is the full results of a run: what the controller writes into
// the results ConfigMap as JSON, and what the verdict is computed from.
//
// Durations (latencies, lateStart, maxBehind) are JSON strings in Go's
// duration format, such as "12.345ms" or "1.5s": readable, exact to the
// microsecond the histograms keep, and parsed by time.ParseDuration (and
// Kubernetes' metav1.Duration). The spec's thresholds use the same format.
type Document struct {
	RunID   string          `json:"runID"`
	Workers []WorkerSummary `json:"workers"` // by index
	Totals  Totals          `json:"totals"`
	Window  Window          `json:"window"`
	// AchievedRate is acked records per second over Window.
	AchievedRate float64 `json:"achievedRate"`
	// ScheduledRate is the rate the user asked for: scheduled records per second of the
	// schedule they cover (the run's length, or until the stop), all workers together.
	ScheduledRate float64 `json:"scheduledRate"`
	// AchievedRateRatio is acked / scheduled; 0 when nothing was scheduled. Scheduled is
	// what the user asked for, never lowered to what the workers could send, so samples
	// that ran out or a worker that fell behind show here.
	AchievedRateRatio float64 `json:"achievedRateRatio"`
	// ErrorRatio is failed / (acked + failed); 0 when neither.
	ErrorRatio float64 `json:"errorRatio"`
	// Errors counts failed records by error class over all workers.
	Errors map[string]int64 `json:"errors,omitempty"`
	// Latency (acknowledgement, from the intended send time) and SendLatency
	// (from the actual send time) over all workers; nil when no worker sent a
	// histogram.
	Latency     *Percentiles `json:"latency,omitempty"`
	SendLatency *Percentiles `json:"sendLatency,omitempty"`
	// DLQ, Lag and EndToEnd come from the observer; nil without one.
	DLQ      *DLQResult       `json:"dlq,omitempty"`
	Lag      *LagResult       `json:"lag,omitempty"`
	EndToEnd *EndToEndSummary `json:"endToEnd,omitempty"`
	// Degraded lists, per pod, what a pod's report lost to fit its message.
	Degraded []string `json:"degraded,omitempty"`
	// Stopped is set when any pod ended early: the results are partial.
	Stopped bool `json:"stopped,omitempty"`
	// Series is the run per interval, collected from the pods (timeseries.go).
	Series *Timeline `json:"series,omitempty"`
}

// JSON returns the document as indented JSON without HTML escaping (an
// exception message's "<null>" stays readable), for the results ConfigMap.
func (d *Document) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("encode results document: %w", err)
	}
	return buf.Bytes(), nil
}

// WorkerSummary is one worker's line in the document.
type WorkerSummary struct {
	Pod       string `json:"pod"`
	Index     int    `json:"index"`
	Scheduled int64  `json:"scheduled"`
	Sent      int64  `json:"sent"`
	Acked     int64  `json:"acked"`
	Failed    int64  `json:"failed"`
	// Samples is how many samples the worker's shard had; SamplesExhausted says it ran
	// out of them before the end of its schedule (loop: false).
	Samples          int64 `json:"samples,omitempty"`
	SamplesExhausted bool  `json:"samplesExhausted,omitempty"`
	// AchievedRate is acked records per second over the worker's own window.
	AchievedRate float64       `json:"achievedRate"`
	P50          time.Duration `json:"p50,omitempty"`
	P99          time.Duration `json:"p99,omitempty"`
	LateStart    time.Duration `json:"lateStart,omitempty"`
	MaxBehind    time.Duration `json:"maxBehind,omitempty"`
	Stopped      bool          `json:"stopped,omitempty"`
}

// Totals sums the workers' counters.
type Totals struct {
	Scheduled int64 `json:"scheduled"`
	Sent      int64 `json:"sent"`
	Acked     int64 `json:"acked"`
	Failed    int64 `json:"failed"`
	Bytes     int64 `json:"bytes"`
}

// Window is the time the workers ran: from the earliest start to the latest end.
type Window struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Seconds float64   `json:"seconds"`
}

// Percentiles summarises a latency histogram. Values are rounded up to the
// histogram's precision (3 significant digits unless a report was degraded).
type Percentiles struct {
	Count int64
	P50   time.Duration
	P90   time.Duration
	P95   time.Duration
	P99   time.Duration
	P999  time.Duration
	Max   time.Duration
}

// EndToEndSummary is the observer's view of the pipeline's output.
type EndToEndSummary struct {
	Delivered  int64 `json:"delivered"`
	Duplicates int64 `json:"duplicates"`
	// Loss is the records the pipeline took but neither delivered nor
	// dead-lettered by the end of the drain period, less those still in flight.
	Loss int64 `json:"loss"`
	// InFlight is records still in the pipeline when the observer stopped: acknowledged,
	// neither delivered nor dead-lettered, and not yet consumed. They are not lost.
	InFlight int64        `json:"inFlight,omitempty"`
	Latency  *Percentiles `json:"latency,omitempty"`
}

// Merge builds the results document from the reports of all pods of one run:
// at most one observer and workers of distinct indexes. Reports are checked
// as Decode checks them (a zero Version counts as FormatVersion).
func Merge(reports []Report) (*Document, error) {
	if len(reports) == 0 {
		return nil, errors.New("no reports to merge")
	}
	runs := map[string][]string{}
	for i := range reports {
		r := &reports[i]
		runs[r.RunID] = append(runs[r.RunID], r.Pod)
	}
	if len(runs) > 1 {
		var parts []string
		for _, id := range slices.Sorted(maps.Keys(runs)) {
			parts = append(parts, fmt.Sprintf("run %q from %s", id, strings.Join(runs[id], ", ")))
		}
		return nil, fmt.Errorf("reports of different runs: %s", strings.Join(parts, "; "))
	}

	var workers []*Report
	var observer *Report
	for i := range reports {
		r := reports[i]
		if r.Version == 0 {
			r.Version = FormatVersion
		}
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("pod %s reported bad results: %w", r.Pod, err)
		}
		if r.Role == RoleObserver {
			if observer != nil {
				return nil, fmt.Errorf("two observer reports, from pods %s and %s", observer.Pod, r.Pod)
			}
			observer = &r
			continue
		}
		workers = append(workers, &r)
	}
	slices.SortStableFunc(workers, func(a, b *Report) int { return cmp.Compare(a.Index, b.Index) })
	for i := 1; i < len(workers); i++ {
		if a, b := workers[i-1], workers[i]; a.Index == b.Index {
			return nil, fmt.Errorf("worker index %d reported by two pods: %s and %s", a.Index, a.Pod, b.Pod)
		}
	}

	d := &Document{RunID: reports[0].RunID, Workers: []WorkerSummary{}}
	if err := d.addWorkers(workers); err != nil {
		return nil, err
	}
	if observer != nil {
		d.addObserver(observer)
	}
	for _, r := range reports {
		d.Stopped = d.Stopped || r.Stopped
		for _, n := range r.Degraded {
			d.Degraded = append(d.Degraded, r.Pod+": "+n)
		}
	}
	slices.Sort(d.Degraded)
	return d, nil
}

func (d *Document) addWorkers(workers []*Report) error {
	var lat, send *Histogram
	var scheduledFor time.Duration
	for _, r := range workers {
		w := r.Worker
		scheduledFor = max(scheduledFor, w.ScheduledFor)
		d.Workers = append(d.Workers, WorkerSummary{
			Pod: r.Pod, Index: r.Index,
			Scheduled: w.Scheduled, Sent: w.Sent, Acked: w.Acked, Failed: w.Failed,
			Samples: w.Samples, SamplesExhausted: w.SamplesExhausted,
			AchievedRate: perSecond(w.Acked, r.End.Sub(r.Start)),
			P50:          w.Latency.Quantile(0.5),
			P99:          w.Latency.Quantile(0.99),
			LateStart:    r.LateStart,
			MaxBehind:    w.MaxBehind,
			Stopped:      r.Stopped,
		})
		t := &d.Totals
		var ok [5]bool
		t.Scheduled, ok[0] = addInt64(t.Scheduled, w.Scheduled)
		t.Sent, ok[1] = addInt64(t.Sent, w.Sent)
		t.Acked, ok[2] = addInt64(t.Acked, w.Acked)
		t.Failed, ok[3] = addInt64(t.Failed, w.Failed)
		t.Bytes, ok[4] = addInt64(t.Bytes, w.Bytes)
		if slices.Contains(ok[:], false) {
			return fmt.Errorf("totals overflow at pod %s", r.Pod)
		}
		for class, n := range w.Errors {
			if d.Errors == nil {
				d.Errors = map[string]int64{}
			}
			var sumOK bool
			if d.Errors[class], sumOK = addInt64(d.Errors[class], n); !sumOK {
				return fmt.Errorf("error class total overflows at pod %s", r.Pod)
			}
		}
		if d.Window.Start.IsZero() || r.Start.Before(d.Window.Start) {
			d.Window.Start = r.Start
		}
		if r.End.After(d.Window.End) {
			d.Window.End = r.End
		}
		var err error
		if lat, err = mergeInto(lat, w.Latency); err != nil {
			return fmt.Errorf("latency histogram of pod %s: %w", r.Pod, err)
		}
		if send, err = mergeInto(send, w.SendLatency); err != nil {
			return fmt.Errorf("send latency histogram of pod %s: %w", r.Pod, err)
		}
	}
	window := d.Window.End.Sub(d.Window.Start)
	d.Window.Seconds = window.Seconds()
	d.AchievedRate = perSecond(d.Totals.Acked, window)
	if scheduledFor == 0 { // reports of older workers: the window is the best guess
		scheduledFor = window
	}
	d.ScheduledRate = perSecond(d.Totals.Scheduled, scheduledFor)
	d.AchievedRateRatio = ratio(d.Totals.Acked, d.Totals.Scheduled)
	d.ErrorRatio = ratio(d.Totals.Failed, d.Totals.Acked+d.Totals.Failed) // cannot overflow: both <= sent
	d.Latency = percentilesOf(lat)
	d.SendLatency = percentilesOf(send)
	return nil
}

func (d *Document) addObserver(r *Report) {
	o := r.Observer
	if o.DLQ != nil {
		dlq := *o.DLQ
		dlq.Classes = mergeClasses(dlq.Classes, maxDocExamples)
		slices.SortStableFunc(dlq.Classes, func(a, b DLQClass) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name))
		})
		d.DLQ = &dlq
	}
	if o.Lag != nil {
		lag := *o.Lag
		d.Lag = &lag
	}
	if e := o.EndToEnd; e != nil {
		var deadLettered int64
		if d.DLQ != nil {
			deadLettered = d.DLQ.Records
		}
		// Acknowledged records neither delivered nor dead-lettered are lost only once the
		// pipeline drained: those its consumer lag still counts are in flight, and so are
		// all of them when the observer was stopped before the drain ended and measured no
		// lag. Undrained is not lost.
		unaccounted := max(0, d.Totals.Acked-e.Delivered-deadLettered)
		var inFlight int64
		switch {
		case d.Lag != nil && d.Lag.Samples > 0:
			inFlight = min(unaccounted, d.Lag.Final)
		case r.Stopped:
			inFlight = unaccounted
		}
		d.EndToEnd = &EndToEndSummary{
			Delivered:  e.Delivered,
			Duplicates: e.Duplicates,
			Loss:       unaccounted - inFlight,
			InFlight:   inFlight,
		}
		if e.Latency != nil {
			d.EndToEnd.Latency = percentilesOf(e.Latency)
		}
	}
}

// maxDocExamples is how many examples per DLQ class the document keeps.
const maxDocExamples = 3

// mergeInto merges h into acc at full precision, creating acc on first use.
func mergeInto(acc, h *Histogram) (*Histogram, error) {
	if h == nil {
		return acc, nil
	}
	if acc == nil {
		acc = NewHistogram()
	}
	if err := acc.Merge(h); err != nil {
		return nil, err
	}
	return acc, nil
}

func percentilesOf(h *Histogram) *Percentiles {
	if h == nil {
		return nil
	}
	return &Percentiles{
		Count: h.Count(),
		P50:   h.Quantile(0.50),
		P90:   h.Quantile(0.90),
		P95:   h.Quantile(0.95),
		P99:   h.Quantile(0.99),
		P999:  h.Quantile(0.999),
		Max:   h.Max(),
	}
}

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

type percentilesJSON struct {
	Count int64        `json:"count"`
	P50   jsonDuration `json:"p50"`
	P90   jsonDuration `json:"p90"`
	P95   jsonDuration `json:"p95"`
	P99   jsonDuration `json:"p99"`
	P999  jsonDuration `json:"p999"`
	Max   jsonDuration `json:"max"`
}

// MarshalJSON writes the durations as strings such as "12.345ms".
func (p Percentiles) MarshalJSON() ([]byte, error) {
	return json.Marshal(percentilesJSON{p.Count, jsonDuration(p.P50), jsonDuration(p.P90),
		jsonDuration(p.P95), jsonDuration(p.P99), jsonDuration(p.P999), jsonDuration(p.Max)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *Percentiles) UnmarshalJSON(b []byte) error {
	var v percentilesJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = Percentiles{v.Count, time.Duration(v.P50), time.Duration(v.P90),
		time.Duration(v.P95), time.Duration(v.P99), time.Duration(v.P999), time.Duration(v.Max)}
	return nil
}

type (
	workerSummaryFields WorkerSummary
	workerSummaryJSON   struct {
		*workerSummaryFields
		P50       jsonDuration `json:"p50,omitempty"`
		P99       jsonDuration `json:"p99,omitempty"`
		LateStart jsonDuration `json:"lateStart,omitempty"`
		MaxBehind jsonDuration `json:"maxBehind,omitempty"`
	}
)

// MarshalJSON writes the durations as strings such as "12.345ms".
func (w WorkerSummary) MarshalJSON() ([]byte, error) {
	return json.Marshal(workerSummaryJSON{(*workerSummaryFields)(&w),
		jsonDuration(w.P50), jsonDuration(w.P99), jsonDuration(w.LateStart), jsonDuration(w.MaxBehind)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (w *WorkerSummary) UnmarshalJSON(b []byte) error {
	aux := workerSummaryJSON{workerSummaryFields: (*workerSummaryFields)(w)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	w.P50, w.P99 = time.Duration(aux.P50), time.Duration(aux.P99)
	w.LateStart, w.MaxBehind = time.Duration(aux.LateStart), time.Duration(aux.MaxBehind)
	return nil
}
