package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/capacity"
	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/pacing"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/podrun"
	"github.com/streamreplay/streamreplay/internal/results"
)

// probes is a Capacity search's state in a worker: the probes asked (index = probe) and
// their figures. The operator asks one probe at a time, after the last one's figures.
type probes struct {
	mu      sync.Mutex
	asked   []control.ProbeRequest
	figures map[int]*control.WorkerProbe
	next    chan control.ProbeRequest
	// scheduled adds up the probes' schedules, sendLatency their latencies from the
	// actual send time, for the final report.
	scheduled   int64
	sendLatency *results.Histogram
}

var _ podrun.Prober = (*Worker)(nil)

func isCapacity(p *plan.Plan) bool {
	return p.Scenario.Type == streamreplayv1alpha1.ScenarioCapacity
}

// prepareProbes is schedule for a Capacity search: each probe gets its own schedule when
// asked; until then the schedule is the share of the maximum rate, which sizes batches.
func (w *Worker) prepareProbes(shard int) error {
	p := w.plan
	sched, err := pacing.New(plan.Scenario{Type: streamreplayv1alpha1.ScenarioConstant, TargetRate: p.Scenario.TargetRate}, time.Second, nil, true)
	if err != nil {
		return fmt.Errorf("building the schedule: %w", err)
	}
	if shard == 0 && p.Scenario.TargetRate > 0 {
		return fmt.Errorf("worker %d of %d has no samples but its share of the maximum rate is %d records/s: "+
			"every sample's key hashes to another worker; use a sample set with more distinct keys, or fewer workers",
			p.Index, p.Workers, p.Scenario.TargetRate)
	}
	w.sched, w.limit = sched, sched.Total()
	w.probes = &probes{figures: map[int]*control.WorkerProbe{}, next: make(chan control.ProbeRequest, capacity.MaxProbes+1),
		sendLatency: results.NewHistogram()}
	return nil
}

// StartProbe accepts probe req.Probe: the next index, or one already asked with the same values.
func (w *Worker) StartProbe(req control.ProbeRequest) error {
	ps := w.probes
	if ps == nil {
		return errors.New("this worker runs no capacity search")
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if repeat, err := podrun.ProbeOrder(req, len(ps.asked), func(i int) control.ProbeRequest { return ps.asked[i] }); repeat || err != nil {
		return err
	}
	ps.asked = append(ps.asked, req)
	ps.next <- req
	w.log.Info("Probe accepted", "probe", req.Probe, "rate", req.Rate, "startTime", req.StartTime, "hold", req.Hold.String())
	return nil
}

// ProbeResult gives probe n's figures, Done once its flush ended.
func (w *Worker) ProbeResult(n int) (*control.ProbeResult, bool) {
	ps := w.probes
	if ps == nil {
		return nil, false
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if n < 0 || n >= len(ps.asked) {
		return nil, false
	}
	res := &control.ProbeResult{Probe: n}
	if f, ok := ps.figures[n]; ok {
		fig := *f
		res.Done, res.Worker = true, &fig
	}
	return res, true
}

// currentSchedule is the schedule the send loop follows: a Capacity search replaces it
// for each probe while the metrics collector reads it.
func (w *Worker) currentSchedule() pacing.Schedule {
	if ps := w.probes; ps != nil {
		ps.mu.Lock()
		defer ps.mu.Unlock()
	}
	return w.sched
}

// runProbes runs the probes as they are asked until ctx ends (the operator's /stop at
// the end of the search), then reports the whole search's counts.
func (w *Worker) runProbes(ctx context.Context) *results.Report {
	ps := w.probes
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case req := <-ps.next:
			w.runProbe(ctx, req)
		}
	}
	w.st.mu.Lock()
	w.st.sendLatency = ps.sendLatency
	w.st.mu.Unlock()
	ps.mu.Lock()
	scheduled := ps.scheduled
	ps.mu.Unlock()
	res := w.st.result(scheduled)
	res.Samples = int64(len(w.samples))
	w.log.Info("Search finished", "probes", len(ps.figures), "scheduled", res.Scheduled, "acked", res.Acked, "failed", res.Failed)
	return &results.Report{Worker: res}
}

// runProbe sends this worker's share of req.Rate from req.StartTime for req.Hold, with
// the run's send loop and a writer of its own, and keeps the probe's figures: the
// counts' growth, the worst delay behind schedule, and the p99 from the actual send time.
func (w *Worker) runProbe(ctx context.Context, req control.ProbeRequest) {
	ps, st, p := w.probes, &w.st, w.plan
	share := plan.Share(req.Rate, p.Workers, p.Index)
	fig := &control.WorkerProbe{}
	defer func() {
		ps.mu.Lock()
		ps.figures[req.Probe] = fig
		ps.scheduled += fig.Scheduled
		ps.mu.Unlock()
		w.log.Info("Probe finished", "probe", req.Probe, "share", share, "scheduled", fig.Scheduled, "acked", fig.Acknowledged,
			"failed", fig.Failed, "maxBehind", fig.MaxBehind.String(), "produceP99", fig.ProduceP99.String())
	}()
	sched, err := pacing.New(plan.Scenario{Type: streamreplayv1alpha1.ScenarioConstant, TargetRate: share}, req.Hold, nil, true)
	if err != nil || sched.Total() == 0 {
		// A share of 0 (a rate below one per worker) sends nothing: counts stay 0.
		return
	}
	ps.mu.Lock() // the metrics collector reads the schedule (currentSchedule)
	w.sched, w.limit = sched, sched.Total()
	ps.mu.Unlock()
	if !p.Samples.Loop {
		w.limit = min(w.limit, int64(len(w.samples)))
	}
	latency := results.NewHistogram()
	st.mu.Lock()
	st.final = false
	st.sendLatency = latency
	ackedBefore, failedBefore := st.acked, st.failed
	st.mu.Unlock()
	st.maxBehind.Store(0)

	wr := w.newWriter()
	loop := sendLoop{w: w, writer: wr, start: req.StartTime}
	loop.run(ctx)
	w.flush(wr)
	st.finish()

	st.mu.Lock()
	fig.Scheduled = loop.scheduled
	fig.Acknowledged, fig.Failed = st.acked-ackedBefore, st.failed-failedBefore
	fig.ProduceP99 = latency.Quantile(0.99)
	st.mu.Unlock()
	fig.MaxBehind = time.Duration(st.maxBehind.Load())
	if err := ps.sendLatency.Merge(latency); err != nil {
		w.log.Error(err, "Merging a probe's latencies")
	}
}
