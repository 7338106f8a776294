package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/capacity"
	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/results"
)

// ResultsKeyProbes is the key of the results ConfigMap that holds a Capacity search's
// finished probes (capacity.Record), in order.
const ResultsKeyProbes = "probes.json"

// PodProber runs the probes of a Capacity search on a pod's control port.
type PodProber interface {
	Probe(ctx context.Context, pod *corev1.Pod, req control.ProbeRequest) error
	ProbeResult(ctx context.Context, pod *corev1.Pod, runID string, n int) (*control.ProbeResult, error)
}

// Probe implements PodProber.
func (h HTTPSignaller) Probe(ctx context.Context, pod *corev1.Pod, req control.ProbeRequest) error {
	return h.Client.Probe(ctx, pod.Status.PodIP, controlPort(pod), h.Key.Token(req.RunID), req)
}

// ProbeResult implements PodProber.
func (h HTTPSignaller) ProbeResult(ctx context.Context, pod *corev1.Pod, runID string, n int) (*control.ProbeResult, error) {
	return h.Client.ProbeResult(ctx, pod.Status.PodIP, controlPort(pod), h.Key.Token(runID), runID, n)
}

// Capacity search timing.
const (
	// probeOverhead is the time a probe takes beyond its hold and drain: the start lead,
	// the workers' flush and the reconciles between. It only sizes the pods' deadline.
	probeOverhead = 30 * time.Second
	// probeAnswerGrace is how long after the hold and the drain timeout the pods may take
	// to answer a probe's figures before the run ends in Error.
	probeAnswerGrace = 30 * time.Second
	// probePoll is how often a probe's figures are asked for once its hold ended.
	probePoll = time.Second
	// lagSlopeNoise is the lag growth a probe tolerates, as a share of its rate.
	lagSlopeNoise = 0.02
)

func isCapacity(spec *streamreplayv1alpha1.LoadTestSpec) bool {
	return spec.Scenario.Type == streamreplayv1alpha1.ScenarioCapacity && spec.Capacity != nil
}

// probeHold and probeDrain are spec.capacity's, as admitted.
func probeHold(c *streamreplayv1alpha1.CapacitySearch) time.Duration {
	return specDuration(c.ProbeDuration)
}

func probeDrain(c *streamreplayv1alpha1.CapacitySearch) time.Duration {
	return specDuration(c.DrainTimeout)
}

// searchLength bounds a whole search: the most probes, each with its hold, drain and overhead.
func searchLength(c *streamreplayv1alpha1.CapacitySearch) time.Duration {
	return capacity.MaxProbes * (probeHold(c) + probeDrain(c) + probeOverhead)
}

// searchBounds are the search's bounds from the spec (admission checked them and set
// the precision's default).
func searchBounds(c *streamreplayv1alpha1.CapacitySearch) (capacity.Bounds, error) {
	precision, err := strconv.ParseFloat(ptr.Deref(c.Precision, ""), 64)
	if err != nil {
		return capacity.Bounds{}, fmt.Errorf("spec.capacity.precision: %w", err)
	}
	b := capacity.Bounds{
		StartRate: float64(c.StartRate), MaxRate: float64(c.MaxRate), Hold: probeHold(c), Precision: precision,
		Drain: probeDrain(c),
		// A probe sends whole records per second: below 1/s there is nothing to measure.
		MinRate: max(1, float64(c.StartRate)/1024),
	}
	return b, b.Validate()
}

// searchLimits say when a probe holds, from the thresholds. Dead letters are reported
// per probe but not judged: a pipeline that dead-letters a fixed share of malformed
// samples does so at every rate, and the API has no dead-letter ratio.
func searchLimits(t *streamreplayv1alpha1.Thresholds) (capacity.Limits, error) {
	parsed, err := parseThresholds(t)
	if err != nil {
		return capacity.Limits{}, err
	}
	l := capacity.Limits{
		MinAchievedRateRatio: *parsed.MinAchievedRateRatio, MaxErrorRatio: *parsed.MaxErrorRatio,
		MaxDLQRatio: 1, LagSlopeNoise: lagSlopeNoise,
	}
	if parsed.MaxP99Latency != nil {
		l.MaxProduceP99 = *parsed.MaxP99Latency
	}
	if parsed.MaxEndToEndP99Latency != nil {
		l.MaxEndToEndP99 = *parsed.MaxEndToEndP99Latency
	}
	if parsed.MaxConsumerLag != nil {
		l.MaxConsumerLag = *parsed.MaxConsumerLag
	}
	return l, nil
}

// search drives a started Capacity run one step: it collects the probe in progress
// once its hold and drain are over, writes it to probes.json, and asks capacity.Next
// for the next. Everything it needs is in status.probe and probes.json, so a restarted
// manager continues where the last one was. A new probe is first recorded in the
// status and sent to the pods by the next reconcile, after the status write: pods
// never run a probe that the status does not know. handled is false once the search is
// over and the pods were asked to stop; the run then ends as any run does.
func (s *runStep) search(ctx context.Context) (handled bool, err error) {
	st := &s.lt.Status
	spec := &s.lt.Spec
	if s.conditionTrue(streamreplayv1alpha1.ConditionStopping) {
		return false, nil
	}
	prober, ok := s.r.Signals.(PodProber)
	bounds, berr := searchBounds(spec.Capacity)
	limits, lerr := searchLimits(spec.Thresholds)
	if err := errors.Join(berr, lerr); err != nil || !ok {
		if err == nil {
			err = errors.New("the operator's signaller cannot send probes")
		}
		s.finish(streamreplayv1alpha1.PhaseError, "InvalidSpec", err.Error(), streamreplayv1alpha1.VerdictInconclusive)
		return true, nil
	}
	records, err := s.readProbes(ctx)
	if err != nil {
		return true, err
	}

	if p := st.Probe; p != nil && int(p.Index) == len(records) && s.probeSent(p) {
		rec, done := s.collectProbe(ctx, prober, p, bounds, limits, records)
		if !done {
			return true, nil
		}
		records = append(records, rec)
		// probes.json first: a restart after this write reads the probe as done.
		if err := s.writeProbes(ctx, records); err != nil {
			return true, err
		}
		st.Probe = nil
		s.events = append(s.events, event{kind: corev1.EventTypeNormal, reason: "ProbeDone",
			note: fmt.Sprintf("probe %d: %s", rec.Probe, rec.AsProbe())})
	}

	rate, res := capacity.Next(bounds, capacity.Probes(records))
	if res.Done {
		st.Probe = nil
		st.Capacity = ptr.To(int64(math.Floor(res.Capacity)))
		st.LimitingFactor = res.Factor
		s.setPhase(streamreplayv1alpha1.PhaseRunning, "SearchDone", fmt.Sprintf("search done after %d probes: %s; stopping the pods", len(records), res))
		s.signalStop(ctx)
		return true, nil
	}
	if st.Probe == nil || int(st.Probe.Index) != len(records) {
		start := s.now.Add(s.r.StartLead)
		if st.StartTime != nil && start.Before(st.StartTime.Time) {
			start = st.StartTime.Time
		}
		st.Probe = &streamreplayv1alpha1.CapacityProbe{
			Index: int32(len(records)), Rate: int64(math.Round(rate)), StartTime: *streamreplayv1alpha1.NewPreciseTime(start),
		}
		s.setCondition(conditionProbeSent, false, "Recorded", fmt.Sprintf("probe %d recorded; not sent yet", len(records)))
		s.setPhase(streamreplayv1alpha1.PhaseRunning, "Probing", fmt.Sprintf("probe %d at %s from %s for %s",
			len(records), capacity.FormatRate(st.Probe.Rate), formatInstant(start), bounds.Hold))
		s.requeueAfter = time.Millisecond // sent by the next reconcile, after the status write
		return true, nil
	}
	s.sendProbe(ctx, prober, st.Probe, bounds.Hold)
	return true, nil
}

// conditionProbeSent is True once every pod accepted status.probe.
const conditionProbeSent = "ProbeSent"

// probeSent tells whether every pod accepted the probe in progress.
func (s *runStep) probeSent(p *streamreplayv1alpha1.CapacityProbe) bool {
	for _, c := range s.lt.Status.Conditions {
		if c.Type == conditionProbeSent {
			return c.Status == "True" && c.Reason == "Probe"+strconv.Itoa(int(p.Index))
		}
	}
	return false
}

// sendProbe sends the recorded probe to every pod (idempotent by index). A pod that has
// not accepted it by the probe's start plus the start timeout ends the run in Error.
func (s *runStep) sendProbe(ctx context.Context, prober PodProber, p *streamreplayv1alpha1.CapacityProbe, hold time.Duration) {
	ctx, cancel := s.signalContext(ctx)
	defer cancel()
	st := &s.lt.Status
	if !s.probeSent(p) && s.now.After(p.StartTime.Add(time.Second)) {
		// Past its start and not known as sent: the manager restarted, or was slow, after
		// recording it. Pods that have it ran it on time; a pod without it would run it
		// late and read as a generator that cannot keep up. So end cleanly unless every
		// pod has it.
		missing, lastErr := s.signalAll(func(m *member) error {
			_, err := prober.ProbeResult(ctx, m.pod, st.RunID, int(p.Index))
			return err
		})
		switch {
		case len(missing) == 0:
			s.setCondition(conditionProbeSent, true, "Probe"+strconv.Itoa(int(p.Index)), fmt.Sprintf("every pod accepted probe %d", p.Index))
			s.requeueAfter = max(time.Millisecond, p.StartTime.Add(hold).Sub(s.now))
		case errors.Is(lastErr, control.ErrNoProbe):
			s.finish(streamreplayv1alpha1.PhaseError, "ProbeNotDelivered", fmt.Sprintf(
				"probe %d was not sent to %s before its start at %s (the manager restarted or was slow); no capacity is reported from a probe the pods ran late",
				p.Index, describe(missing, (*member).podIP), formatInstant(p.StartTime.Time)), streamreplayv1alpha1.VerdictInconclusive)
		default:
			s.requeueAfter = retrySignal
		}
		return
	}
	req := control.ProbeRequest{RunID: st.RunID, Probe: int(p.Index), Rate: p.Rate, StartTime: p.StartTime.Time, Hold: hold}
	unreached, lastErr := s.signalAll(func(m *member) error { return prober.Probe(ctx, m.pod, req) })
	if len(unreached) == 0 {
		s.setCondition(conditionProbeSent, true, "Probe"+strconv.Itoa(int(p.Index)), fmt.Sprintf("every pod accepted probe %d", p.Index))
		s.requeueAfter = max(time.Millisecond, p.StartTime.Add(hold).Sub(s.now))
		return
	}
	if deadline := p.StartTime.Add(startTimeout(&s.lt.Spec)); !s.now.Before(deadline) {
		s.finish(streamreplayv1alpha1.PhaseError, "ProbeNotDelivered", fmt.Sprintf(
			"could not deliver probe %d within %s of its start to %s; last error: %v; no capacity is reported from a probe the pods did not all run",
			p.Index, startTimeout(&s.lt.Spec), describe(unreached, (*member).podIP), lastErr), streamreplayv1alpha1.VerdictInconclusive)
		return
	}
	s.requeueAfter = retrySignal
}

// collectProbe reads the probe's figures from every pod once its hold ended, and waits
// for the backlog to drain (at most the drain timeout). done is false while it waits; the
// run ends in Error when the pods do not answer in time.
func (s *runStep) collectProbe(ctx context.Context, prober PodProber, p *streamreplayv1alpha1.CapacityProbe,
	b capacity.Bounds, l capacity.Limits, records []capacity.Record) (capacity.Record, bool) {
	holdEnd := p.StartTime.Add(b.Hold)
	if s.now.Before(holdEnd) {
		s.requeueAfter = holdEnd.Sub(s.now)
		return capacity.Record{}, false
	}
	ctx, cancel := s.signalContext(ctx)
	defer cancel()
	drainEnd := holdEnd.Add(b.Drain)
	sig := capacity.Signals{Rate: float64(p.Rate), Hold: b.Hold}
	drained, waiting := true, ""
	for i := range s.members {
		m := &s.members[i]
		res, err := prober.ProbeResult(ctx, m.pod, s.lt.Status.RunID, int(p.Index))
		switch {
		case errors.Is(err, control.ErrNoProbe):
			s.finish(streamreplayv1alpha1.PhaseError, "ProbeLost", fmt.Sprintf(
				"pod %s does not know probe %d (was it restarted?); no capacity is reported from a probe the pods did not all run", m.name, p.Index),
				streamreplayv1alpha1.VerdictInconclusive)
			return capacity.Record{}, false
		case err != nil:
			waiting = fmt.Sprintf("pod %s: %v", m.name, err)
			continue
		case !res.Done:
			waiting = fmt.Sprintf("pod %s has not finished probe %d", m.name, p.Index)
			continue
		}
		if w := res.Worker; m.role == results.RoleWorker && w != nil {
			sig.Scheduled += w.Scheduled
			sig.Acknowledged += w.Acknowledged
			sig.Failed += w.Failed
			sig.MaxBehind = max(sig.MaxBehind, w.MaxBehind)
			// The slowest worker's p99 bounds the merged p99 from above: never better than what happened.
			sig.ProduceP99 = max(sig.ProduceP99, w.ProduceP99)
		}
		if o := res.Observer; m.role == results.RoleObserver && o != nil {
			drained = o.Drained
			sig.DeadLetters = o.DeadLetters
			sig.EndToEndP99, sig.HasEndToEnd = o.EndToEndP99, o.HasEndToEnd
			for _, lp := range o.Lag {
				if lp.At <= b.Hold {
					sig.Lag = append(sig.Lag, capacity.LagSample{At: lp.At, Lag: lp.Lag})
				}
			}
		}
	}
	if waiting == "" && !drained && s.now.Before(drainEnd) {
		waiting = "the backlog to drain"
	}
	if waiting != "" {
		if deadline := drainEnd.Add(probeAnswerGrace); !s.now.Before(deadline) && !strings.HasPrefix(waiting, "the backlog") {
			s.finish(streamreplayv1alpha1.PhaseError, "ProbeUnanswered", fmt.Sprintf(
				"probe %d: no figures by %s: %s; no capacity is reported from a probe not measured", p.Index, formatInstant(deadline), waiting),
				streamreplayv1alpha1.VerdictInconclusive)
			return capacity.Record{}, false
		}
		s.requeueAfter = probePoll
		return capacity.Record{}, false
	}
	// Next is a function of the probes before this one: it gives the rate this probe was
	// asked, unrounded, so the bisection goes on in the same numbers after a restart.
	rate, _ := capacity.Next(b, capacity.Probes(records))
	return capacity.NewRecord(int(p.Index), rate, p.Rate, p.StartTime.Time, l, sig, drained), true
}

// readProbes reads the finished probes from the results ConfigMap, uncached (the
// manager does not watch ConfigMaps).
func (s *runStep) readProbes(ctx context.Context) ([]capacity.Record, error) {
	reader := s.r.APIReader
	if reader == nil {
		reader = s.r.Client
	}
	cm := &corev1.ConfigMap{}
	if err := reader.Get(ctx, client.ObjectKey{Namespace: s.lt.Namespace, Name: ResultsConfigMapName(s.lt)}, cm); err != nil {
		return nil, fmt.Errorf("reading the probes of the search from ConfigMap %s: %w", ResultsConfigMapName(s.lt), client.IgnoreNotFound(err))
	}
	records, err := capacity.DecodeRecords(cm.Data[ResultsKeyProbes])
	if err != nil {
		return nil, fmt.Errorf("ConfigMap %s: %w", ResultsConfigMapName(s.lt), err)
	}
	return records, nil
}

// writeProbes writes the finished probes into the results ConfigMap.
func (s *runStep) writeProbes(ctx context.Context, records []capacity.Record) error {
	data, err := json.Marshal(records)
	if err != nil {
		return fmt.Errorf("encoding the probes: %w", err)
	}
	patch, err := json.Marshal(map[string]any{"data": map[string]string{ResultsKeyProbes: string(data)}})
	if err != nil {
		return fmt.Errorf("encoding the probes: %w", err)
	}
	if err := s.r.Patch(ctx, BuildResultsConfigMap(s.lt), client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("writing the probes into ConfigMap %s: %w", ResultsConfigMapName(s.lt), err)
	}
	return nil
}

// collectCapacity ends a Capacity run once every pod ended: the verdict comes from the
// probes (capacity.Judge), never from a search that did not finish.
func (s *runStep) collectCapacity(ctx context.Context) error {
	spec := &s.lt.Spec
	st := &s.lt.Status
	outcome := s.evaluate(ctx)
	if outcome == nil {
		return nil
	}
	bounds, err := searchBounds(spec.Capacity)
	if err != nil {
		s.finish(streamreplayv1alpha1.PhaseError, "InvalidSpec", err.Error(), streamreplayv1alpha1.VerdictInconclusive)
		return nil
	}
	records, err := s.readProbes(ctx)
	if err != nil {
		return err
	}
	_, res := capacity.Next(bounds, capacity.Probes(records))
	if err := capacityDocument(outcome, res.Done && !spec.Stop); err != nil {
		return err
	}
	outcome.text = capacitySummary(records, res) + outcome.text
	s.outcome = outcome
	st.Probe = nil
	switch {
	case spec.Stop:
		st.Capacity, st.LimitingFactor = nil, ""
		s.finish(streamreplayv1alpha1.PhaseAborted, "StopRequested",
			fmt.Sprintf("stopped on request after %d probes; the search did not finish, so no capacity is reported", len(records)),
			streamreplayv1alpha1.VerdictInconclusive)
		return nil
	case !res.Done:
		st.Capacity, st.LimitingFactor = nil, ""
		s.finish(streamreplayv1alpha1.PhaseError, "SearchIncomplete",
			fmt.Sprintf("the pods ended after %d probes, before the search did; no capacity is reported", len(records)),
			streamreplayv1alpha1.VerdictInconclusive)
		return nil
	}
	judged := capacity.Judge(res, minCapacity(spec.Thresholds))
	st.Capacity = ptr.To(int64(math.Floor(res.Capacity)))
	st.LimitingFactor = res.Factor
	st.Results = nil
	st.Thresholds = nil
	for _, c := range judged.Checks {
		st.Thresholds = append(st.Thresholds, streamreplayv1alpha1.ThresholdCheck{Name: c.Name, Measured: c.Measured, Limit: c.Limit, Passed: c.Passed})
	}
	if judged.Passed {
		s.finish(streamreplayv1alpha1.PhasePassed, "CapacityFound", judged.Message, streamreplayv1alpha1.VerdictPass)
	} else {
		s.finish(streamreplayv1alpha1.PhaseFailed, "ThresholdsNotMet", judged.Message, streamreplayv1alpha1.VerdictFail)
	}
	return nil
}

// capacityDocument drops the end-to-end section from a Capacity run's document: the
// workers number each probe's records from 0 again, so the observer's distinct count
// reads every probe after the first as copies, and "loss" would be a wrong figure. Each
// probe's end-to-end p99 is in probes.json. When the search finished, the controller
// stopped the pods because the search was over, not early: the document must not read
// "stopped early: partial results".
func capacityDocument(o *runOutcome, searchFinished bool) error {
	var doc results.Document
	if err := json.Unmarshal([]byte(o.document), &doc); err != nil {
		return fmt.Errorf("reading back the results document: %w", err)
	}
	doc.EndToEnd = nil
	if searchFinished {
		doc.Stopped = false
		for i := range doc.Workers {
			doc.Workers[i].Stopped = false
		}
	}
	encoded, err := doc.JSON()
	if err != nil {
		return fmt.Errorf("encoding results document: %w", err)
	}
	o.document, o.text = string(encoded), doc.Summary()
	return nil
}

func minCapacity(t *streamreplayv1alpha1.Thresholds) *int64 {
	if t == nil {
		return nil
	}
	return t.MinCapacity
}

// capacitySummary is the probes' table at the top of summary.txt.
func capacitySummary(records []capacity.Record, res capacity.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "capacity search: %d probes\n", len(records))
	for _, r := range records {
		fmt.Fprintf(&b, "  probe %2d: %s\n", r.Probe, r.AsProbe())
	}
	if res.Done {
		fmt.Fprintf(&b, "capacity    %s\n", res)
	}
	return b.String() + "\n"
}
