// Package capacity searches for the highest rate a pipeline sustains: the
// probe sequence, the judgement of one probe, and what limited the pipeline.
//
// It is pure: Next derives the next probe from the probes done so far, and
// Evaluate judges one probe from its signals, so a controller that keeps the
// probes (in the results ConfigMap) can continue a search after a restart, or
// end it, without holding anything in memory. Search drives a Target with
// both; the tests drive a deterministic model of a pipeline with it.
package capacity

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/results"
)

// LagSample is one consumer-lag sample, At from the probe's start.
type LagSample struct {
	At  time.Duration
	Lag int64
}

// Signals are what one probe measured: the workers' figures and the
// observer's, restricted to the probe's hold.
type Signals struct {
	// Rate is the rate asked, records/s.
	Rate float64
	// Hold is how long the probe held its rate.
	Hold time.Duration
	// Scheduled, Acknowledged and Failed are the workers' counts.
	Scheduled, Acknowledged, Failed int64
	// MaxBehind is the workers' worst delay behind their schedule.
	MaxBehind time.Duration
	// ProduceP99 is the workers' acknowledgement p99 from the actual send
	// time: from the intended one it would include the workers' own delay
	// and blame the broker for a generator that fell behind.
	ProduceP99 time.Duration
	// DeadLetters counts the dead letters of the probe.
	DeadLetters int64
	// EndToEndP99 is the observer's end-to-end p99; 0 with HasEndToEnd false
	// when the pipeline delivered nothing matchable.
	EndToEndP99 time.Duration
	HasEndToEnd bool
	// Lag holds the observer's lag samples during the hold.
	Lag []LagSample
}

// Limits say what "sustained" means for one probe. A zero duration or
// ratio limit is not checked, except the ratios, which always are.
type Limits struct {
	// MinAchievedRateRatio is acknowledged/scheduled at least (e.g. 0.95).
	MinAchievedRateRatio float64
	// MaxErrorRatio is failed/(acknowledged+failed) at most.
	MaxErrorRatio float64
	// MaxDLQRatio is dead letters/acknowledged at most.
	MaxDLQRatio float64
	// MaxEndToEndP99 and MaxProduceP99 bound the p99s; 0 means unchecked.
	MaxEndToEndP99 time.Duration
	MaxProduceP99  time.Duration
	// MaxConsumerLag bounds the last lag sample of the hold; 0 means unchecked.
	MaxConsumerLag int64
	// LagSlopeNoise is the lag growth tolerated, as a share of the rate
	// asked (0.02: 2 records/s at 100/s): samples every 2 s of a lag that
	// jitters by a batch read as a small slope either way.
	LagSlopeNoise float64
	// Settle is the share of the hold left out of the lag slope (warm-up:
	// a consumer that rebalances or a JIT that warms up has lag that grows
	// and then drains). 0 means 1/3.
	Settle float64
	// MaxBehind is how far workers may fall behind their schedule before the
	// generator, not the pipeline, is the limit. 0 means 1 s.
	MaxBehind time.Duration
}

// Verdict is the judgement of one probe.
type Verdict struct {
	Sustained bool
	// Factor is what made it fail ("" when sustained).
	Factor streamreplayv1alpha1.LimitingFactor
	// Processed is the rate the pipeline kept up with: the achieved rate
	// less any lag growth, never more than the rate asked.
	Processed float64
	// Achieved is acknowledged records per second of hold.
	Achieved float64
	// LagSlope is the fitted lag growth in records/s after the settle, and
	// LagSlopeError its standard error. The lag grows when the slope less three
	// standard errors exceeds the noise tolerated; Processed takes the slope
	// plus two standard errors.
	LagSlope, LagSlopeError float64
	// Reasons name every limit broken, with the measurement.
	Reasons []string
}

// Slope fits lag = a + b·t by least squares to the samples at or after from
// and returns b in records/s with its standard error; ok is false with fewer
// than 3 such samples, which cannot tell growth from jitter.
func Slope(samples []LagSample, from time.Duration) (slope, stderr float64, ok bool) {
	var ts, ls []float64
	for _, s := range samples {
		if s.At >= from {
			ts, ls = append(ts, s.At.Seconds()), append(ls, float64(s.Lag))
		}
	}
	n := float64(len(ts))
	if n < 3 {
		return 0, 0, false
	}
	var mt, ml float64
	for i := range ts {
		mt += ts[i] / n
		ml += ls[i] / n
	}
	var stt, stl float64
	for i := range ts {
		stt += (ts[i] - mt) * (ts[i] - mt)
		stl += (ts[i] - mt) * (ls[i] - ml)
	}
	if stt == 0 {
		return 0, 0, false
	}
	slope = stl / stt
	var rss float64
	for i := range ts {
		r := ls[i] - ml - slope*(ts[i]-mt)
		rss += r * r
	}
	return slope, math.Sqrt(rss / (n - 2) / stt), true
}

func (l Limits) withDefaults() Limits {
	if l.Settle <= 0 || l.Settle >= 1 {
		l.Settle = 1.0 / 3
	}
	if l.MaxBehind <= 0 {
		l.MaxBehind = time.Second
	}
	return l
}

// Evaluate judges one probe. The factor is chosen in this order, because an
// earlier cause explains the later signals: produce errors or latency
// (broker); workers behind schedule or short of the rate while the broker
// answered in time (generator); lag, end-to-end p99 or dead letters
// (pipeline). Signals that cannot be judged (no hold, no
// schedule, too few lag samples) fail the probe: a capacity must never rest
// on a probe that was not measured.
func Evaluate(l Limits, s Signals) Verdict {
	l = l.withDefaults()
	v := Verdict{}
	if s.Hold <= 0 || s.Scheduled <= 0 || s.Rate <= 0 {
		v.Factor = streamreplayv1alpha1.LimitingGenerator
		v.Reasons = []string{fmt.Sprintf("probe not measured: hold %s, %d scheduled at %.4g/s", s.Hold, s.Scheduled, s.Rate)}
		return v
	}
	v.Achieved = float64(s.Acknowledged) / s.Hold.Seconds()
	slope, se, ok := Slope(s.Lag, time.Duration(float64(s.Hold)*l.Settle))
	v.LagSlope, v.LagSlopeError = slope, se
	// The lower bound of what the pipeline kept up with: a lag read through
	// commit intervals is noisy, and the figure must not read better than
	// what happened.
	v.Processed = max(0, min(s.Rate, v.Achieved-max(0, slope+2*se)))

	var gen, broker, pipe []string
	ratio := float64(s.Acknowledged) / float64(s.Scheduled)
	brokerOK := true
	// The error ratio as the verdict reads it (results.Document.ErrorRatio).
	if sent := s.Acknowledged + s.Failed; sent > 0 && float64(s.Failed)/float64(sent) > l.MaxErrorRatio {
		errRatio := float64(s.Failed) / float64(sent)
		broker = append(broker, fmt.Sprintf("error ratio %.4g > %.4g", errRatio, l.MaxErrorRatio))
		brokerOK = false
	}
	if l.MaxProduceP99 > 0 && s.ProduceP99 > l.MaxProduceP99 {
		broker = append(broker, fmt.Sprintf("produce p99 %s > %s", results.FormatDuration(s.ProduceP99), results.FormatDuration(l.MaxProduceP99)))
		brokerOK = false
	}
	if s.MaxBehind > l.MaxBehind {
		gen = append(gen, fmt.Sprintf("workers %s behind schedule (> %s): add workers", s.MaxBehind, l.MaxBehind))
	}
	if !ok {
		pipe = append(pipe, fmt.Sprintf("lag: %d samples, too few to fit a slope after the first %.0f%% of the hold", len(s.Lag), l.Settle*100))
	} else if slope-3*se > l.LagSlopeNoise*s.Rate {
		pipe = append(pipe, fmt.Sprintf("lag grows %.1f±%.1f/s (> %.4g/s noise)", slope, 3*se, l.LagSlopeNoise*s.Rate))
	}
	if n := len(s.Lag); l.MaxConsumerLag > 0 && n > 0 && s.Lag[n-1].Lag > l.MaxConsumerLag {
		pipe = append(pipe, fmt.Sprintf("lag %d > %d", s.Lag[n-1].Lag, l.MaxConsumerLag))
	}
	if l.MaxEndToEndP99 > 0 {
		switch {
		case !s.HasEndToEnd:
			pipe = append(pipe, "end-to-end p99: no data")
		case s.EndToEndP99 > l.MaxEndToEndP99:
			pipe = append(pipe, fmt.Sprintf("end-to-end p99 %s > %s", results.FormatDuration(s.EndToEndP99), results.FormatDuration(l.MaxEndToEndP99)))
		}
	}
	if s.Acknowledged > 0 {
		if d := float64(s.DeadLetters) / float64(s.Acknowledged); d > l.MaxDLQRatio {
			pipe = append(pipe, fmt.Sprintf("dead-letter ratio %.4g > %.4g", d, l.MaxDLQRatio))
		}
	}
	if ratio < l.MinAchievedRateRatio {
		msg := fmt.Sprintf("achieved %.4g/s of %.4g/s asked (ratio %.4g < %.4g)", v.Achieved, s.Rate, ratio, l.MinAchievedRateRatio)
		if brokerOK {
			gen = append(gen, msg+": the workers did not send it")
		} else {
			broker = append(broker, msg)
		}
	}
	// Every broken limit is named, the limiting factor's first.
	switch {
	case !brokerOK:
		v.Factor = streamreplayv1alpha1.LimitingBroker
		v.Reasons = slices.Concat(broker, gen, pipe)
	case len(gen) > 0:
		v.Factor = streamreplayv1alpha1.LimitingGenerator
		v.Reasons = slices.Concat(gen, pipe)
	case len(pipe) > 0:
		v.Factor = streamreplayv1alpha1.LimitingPipeline
		v.Reasons = pipe
	default:
		v.Sustained = true
	}
	if !v.Sustained {
		v.Processed = 0
	}
	return v
}

// Bounds are the user's bounds of a search.
type Bounds struct {
	// StartRate is the first probe's rate, records/s.
	StartRate float64
	// MaxRate is the highest rate probed.
	MaxRate float64
	// Hold is how long each probe holds its rate.
	Hold time.Duration
	// Precision is the relative width at which bisection stops: the search
	// ends when the lowest failed rate is within Precision of the highest
	// sustained one (0.05: ±5%).
	Precision float64
	// Drain is how long a probe's backlog may take to drain before the next probe.
	Drain time.Duration
	// MinRate ends a search whose probes all fail once the failing rate is
	// at or below it: the capacity is then 0. 0 means StartRate/1024.
	MinRate float64
}

// MaxProbes bounds a search whatever its bounds: doubling from 1/s past 10
// million/s and bisecting to 0.1% take under 40 probes.
const MaxProbes = 64

// Validate says which bound is wrong.
func (b Bounds) Validate() error {
	var errs []error
	if !(b.StartRate > 0) {
		errs = append(errs, fmt.Errorf("startRate %.4g: must be above 0", b.StartRate))
	}
	if !(b.MaxRate >= b.StartRate) {
		errs = append(errs, fmt.Errorf("maxRate %.4g: must be at least startRate %.4g", b.MaxRate, b.StartRate))
	}
	if b.Hold <= 0 {
		errs = append(errs, fmt.Errorf("probeDuration %s: must be above 0", b.Hold))
	}
	if !(b.Precision >= 0.001 && b.Precision <= 0.5) {
		errs = append(errs, fmt.Errorf("precision %.4g: must be between 0.001 and 0.5", b.Precision))
	}
	return errors.Join(errs...)
}

// Probe is one probe done: its rate asked, what it measured and its verdict.
type Probe struct {
	Rate    float64
	Signals Signals
	Verdict Verdict
	// Undrained is set when the backlog of the probe did not drain within the drain
	// timeout: the search ends there, limited by the pipeline, since the next probe
	// would measure the old backlog too.
	Undrained bool
}

// String is the probe's line in a report: rate asked and achieved, lag
// slope, p99s, errors, dead letters and verdict.
func (p Probe) String() string {
	s, v := p.Signals, p.Verdict
	e2e := "none"
	if s.HasEndToEnd {
		e2e = results.FormatDuration(s.EndToEndP99)
	}
	verdict := "held"
	if !v.Sustained {
		verdict = fmt.Sprintf("failed (%s): %s", v.Factor, strings.Join(v.Reasons, "; "))
	}
	return fmt.Sprintf("%.4g/s asked, %.4g/s achieved, lag %+.1f±%.1f/s, produce p99 %s, end-to-end p99 %s, %d failed, %d dead letters: %s",
		p.Rate, v.Achieved, v.LagSlope, 2*v.LagSlopeError, results.FormatDuration(s.ProduceP99), e2e, s.Failed, s.DeadLetters, verdict)
}

// String is the search's answer in a sentence.
func (r Result) String() string {
	if r.Capacity == 0 {
		return fmt.Sprintf("no rate sustained, limited by %s: %s", r.Factor, r.Reason)
	}
	return fmt.Sprintf("%.4g/s sustained (at %.4g/s asked), limited by %s: %s", r.Capacity, r.Sustained, r.Factor, r.Reason)
}

// Result is the outcome of a search.
type Result struct {
	// Done is false while Next has another probe to run.
	Done bool
	// Capacity is the rate the pipeline kept up with at the highest
	// sustained probe below every failed one; 0 when none was sustained.
	Capacity float64
	// Sustained is the rate asked of that probe.
	Sustained float64
	// Factor is what limited the search.
	Factor streamreplayv1alpha1.LimitingFactor
	// Reason says why, from the probe that limited it.
	Reason string
}

// Next returns the next probe's rate, or a Result with Done set. It depends
// only on the probes done so far, in the order they were done.
//
// It doubles the rate from StartRate (capped at MaxRate) while probes are
// sustained, then bisects between the highest sustained rate below the
// lowest failed one and that failed one. A failed probe below a sustained
// one (noise) lowers the bracket: a sustained probe above a failure is not
// believed. A generator failure ends the search at once: a higher rate can
// only fail the same way, and a lower one says nothing about the pipeline
// beyond what is known.
func Next(b Bounds, probes []Probe) (float64, Result) {
	if len(probes) >= MaxProbes {
		r := summarise(b, probes)
		r.Done = true
		r.Reason = fmt.Sprintf("stopped after %d probes; %s", MaxProbes, r.Reason)
		return 0, r
	}
	if len(probes) == 0 {
		return b.StartRate, Result{}
	}
	last := probes[len(probes)-1]
	if last.Undrained {
		r := summarise(b, probes)
		r.Done, r.Factor = true, streamreplayv1alpha1.LimitingPipeline
		r.Reason = fmt.Sprintf("backlog of the probe at %.4g/s not drained within %s", last.Rate, b.Drain)
		return 0, r
	}
	if last.Verdict.Factor == streamreplayv1alpha1.LimitingGenerator {
		r := summarise(b, probes)
		r.Done, r.Factor = true, streamreplayv1alpha1.LimitingGenerator
		r.Reason = fmt.Sprintf("at %.4g/s: %s", last.Rate, strings.Join(last.Verdict.Reasons, "; "))
		return 0, r
	}
	lo, hi, hiProbe := bracket(probes)
	if hiProbe == nil {
		if lo >= b.MaxRate {
			r := summarise(b, probes)
			r.Done, r.Factor = true, streamreplayv1alpha1.LimitingMaxRate
			r.Reason = fmt.Sprintf("sustained the maximum rate %.4g/s", b.MaxRate)
			return 0, r
		}
		return min(2*lo, b.MaxRate), Result{}
	}
	minRate := b.MinRate
	if minRate <= 0 {
		minRate = b.StartRate / 1024
	}
	if (lo > 0 && hi-lo <= b.Precision*lo) || (lo == 0 && hi <= minRate) {
		r := summarise(b, probes)
		r.Done = true
		return 0, r
	}
	return (lo + hi) / 2, Result{}
}

// bracket returns the lowest failed rate, its probe, and the highest
// sustained rate below it (0 when none).
func bracket(probes []Probe) (lo, hi float64, hiProbe *Probe) {
	hi = math.Inf(1)
	for i := range probes {
		if p := &probes[i]; !p.Verdict.Sustained && p.Rate < hi {
			hi, hiProbe = p.Rate, p
		}
	}
	for _, p := range probes {
		if p.Verdict.Sustained && p.Rate < hi && p.Rate > lo {
			lo = p.Rate
		}
	}
	return lo, hi, hiProbe
}

// summarise gives the capacity and factor the probes so far support.
func summarise(b Bounds, probes []Probe) Result {
	lo, _, hiProbe := bracket(probes)
	r := Result{Sustained: lo}
	for _, p := range probes {
		if p.Verdict.Sustained && p.Rate == lo {
			r.Capacity = max(r.Capacity, p.Verdict.Processed)
		}
	}
	if hiProbe != nil {
		r.Factor = hiProbe.Verdict.Factor
		r.Reason = fmt.Sprintf("at %.4g/s: %s", hiProbe.Rate, strings.Join(hiProbe.Verdict.Reasons, "; "))
	} else if lo >= b.MaxRate {
		r.Factor = streamreplayv1alpha1.LimitingMaxRate
	}
	return r
}
