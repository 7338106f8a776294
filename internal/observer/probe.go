package observer

import (
	"errors"
	"sync"
	"time"

	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/podrun"
	"github.com/streamreplay/streamreplay/internal/results"
)

var _ podrun.Prober = (*Observer)(nil)

// probeWindows are a Capacity search's probes in the observer: each window keeps the
// lag samples from its start, the dead letters since, and the end-to-end latency of the
// records intended during its hold.
type probeWindows struct {
	mu      sync.Mutex
	windows []*probeWindow
}

type probeWindow struct {
	req         control.ProbeRequest
	dlqBefore   int64
	lag         []control.LagPoint
	lagAfter    []int64 // samples taken after the hold
	lagFailed   bool    // the latest attempt after the hold failed
	e2e         *results.Histogram
	holdEndTime time.Time
}

// StartProbe opens probe req.Probe's window: the next index, or one already asked
// with the same values.
func (o *Observer) StartProbe(req control.ProbeRequest) error {
	ps := o.probes
	if ps == nil {
		return errors.New("this observer watches no capacity search")
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if repeat, err := podrun.ProbeOrder(req, len(ps.windows), func(i int) control.ProbeRequest { return ps.windows[i].req }); repeat || err != nil {
		return err
	}
	w := &probeWindow{req: req, e2e: results.NewHistogram(), holdEndTime: req.StartTime.Add(req.Hold)}
	if o.dlq != nil {
		w.dlqBefore, _ = o.dlq.counts()
	}
	ps.windows = append(ps.windows, w)
	o.log.Info("Probe window opened", "probe", req.Probe, "rate", req.Rate, "startTime", req.StartTime, "hold", req.Hold.String())
	return nil
}

// ProbeResult gives what the observer saw of probe n so far; Done from the end of its hold.
func (o *Observer) ProbeResult(n int) (*control.ProbeResult, bool) {
	ps := o.probes
	if ps == nil {
		return nil, false
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if n < 0 || n >= len(ps.windows) {
		return nil, false
	}
	w := ps.windows[n]
	f := &control.ObserverProbe{Lag: append([]control.LagPoint(nil), w.lag...), LagWatched: o.lag != nil}
	if k := len(w.lagAfter); k > 0 && !w.lagFailed {
		f.Drained = w.lagAfter[k-1] == 0
	}
	if o.dlq != nil {
		records, _ := o.dlq.counts()
		f.DeadLetters = records - w.dlqBefore
	}
	if w.e2e.Count() > 0 {
		f.EndToEndP99, f.HasEndToEnd = w.e2e.Quantile(0.99), true
	}
	return &control.ProbeResult{Probe: n, Done: !time.Now().Before(w.holdEndTime), Observer: f}, true
}

// current is the latest window; nil before the first probe.
func (ps *probeWindows) current() *probeWindow {
	if len(ps.windows) == 0 {
		return nil
	}
	return ps.windows[len(ps.windows)-1]
}

// lagSampled files a lag sample taken at at (ok false: the attempt failed).
func (ps *probeWindows) lagSampled(at time.Time, lag int64, ok bool) {
	if ps == nil {
		return
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	w := ps.current()
	if w == nil || at.Before(w.req.StartTime) {
		return
	}
	if !at.Before(w.holdEndTime) {
		w.lagFailed = !ok
		if ok {
			w.lagAfter = append(w.lagAfter, lag)
		}
	}
	if ok && len(w.lag) < maxProbeLagSamples {
		w.lag = append(w.lag, control.LagPoint{At: at.Sub(w.req.StartTime), Lag: lag})
	}
}

// maxProbeLagSamples bounds a window's samples (a 1 h hold and drain at 2 s intervals is 3,600).
const maxProbeLagSamples = 4096

// delivered files an output record of this run intended at intended and read at recv,
// copies included: the workers number each probe's records from 0 again.
func (ps *probeWindows) delivered(intended, recv time.Time) {
	if ps == nil {
		return
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for i := len(ps.windows) - 1; i >= 0; i-- {
		w := ps.windows[i]
		if !intended.Before(w.req.StartTime) && intended.Before(w.holdEndTime) {
			w.e2e.Record(max(0, recv.Sub(intended)))
			return
		}
	}
}
