package capacity

import (
	"context"
	"fmt"
	"time"
)

// Target runs probes: the operator's runs in a cluster, a model in tests.
type Target interface {
	// Probe holds rate for hold and returns what was measured.
	Probe(ctx context.Context, rate float64, hold time.Duration) (Signals, error)
	// Drain waits, sending nothing, until the consumer lag is 0 or timeout
	// has passed, and says whether it drained.
	Drain(ctx context.Context, timeout time.Duration) (bool, error)
}

// Search runs a whole search against t, calling step (when not nil) after
// each probe. Between probes the backlog drains, at most drainTimeout; a
// backlog that does not drain ends the search limited by the pipeline,
// because the next probe would measure the old backlog too.
func Search(ctx context.Context, b Bounds, l Limits, t Target, drainTimeout time.Duration, step func(Probe)) (Result, []Probe, error) {
	if err := b.Validate(); err != nil {
		return Result{}, nil, err
	}
	b.Drain = drainTimeout
	var probes []Probe
	for {
		rate, res := Next(b, probes)
		if res.Done {
			return res, probes, nil
		}
		sig, err := t.Probe(ctx, rate, b.Hold)
		if err != nil {
			return Result{}, probes, fmt.Errorf("probe at %.4g/s: %w", rate, err)
		}
		p := Probe{Rate: rate, Signals: sig, Verdict: Evaluate(l, sig)}
		drained, err := t.Drain(ctx, drainTimeout)
		if err != nil {
			return Result{}, append(probes, p), fmt.Errorf("drain after %.4g/s: %w", rate, err)
		}
		p.Undrained = !drained
		probes = append(probes, p)
		if step != nil {
			step(p)
		}
	}
}
