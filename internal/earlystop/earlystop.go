// Package earlystop decides, from the signals sampled during a run, that a
// threshold is broken beyond repair, so that the run can end Failed at once
// instead of pushing load into a failing pipeline for the rest of its length.
// The rules: docs/design.md, "Early stop".
package earlystop

import (
	"fmt"
	"time"

	"github.com/streamreplay/streamreplay/internal/capacity"
)

// DefaultWindow is how long the lag must stay beyond its limit and grow.
const DefaultWindow = 10 * time.Second

// Limits are the run's thresholds that can stop it early; nil ones are not
// watched.
type Limits struct {
	MaxConsumerLag *int64
	MaxDLQRecords  *int64
	MaxErrorRatio  *float64
	MaxEndToEndP99 *time.Duration
	// Scheduled is the number of records the whole run schedules.
	Scheduled int64
	// Window is how long the lag must stay beyond its limit and grow; 0
	// means DefaultWindow.
	Window time.Duration
}

// Sample is what is known at At (from the run's start). Counts are totals
// since the start.
type Sample struct {
	At time.Duration
	// Lag is the consumer lag when sampled (nil when the sample failed).
	Lag *int64
	// DeadLetters, Failed and EndToEndOver (delivered records whose
	// end-to-end latency is over MaxEndToEndP99) are running totals.
	DeadLetters, Failed, EndToEndOver int64
}

// Breach says which threshold broke for good, and when.
type Breach struct {
	// Threshold is the threshold's JSON name in the spec.
	Threshold string `json:"threshold"`
	// At is the moment from the run's start.
	At      time.Duration `json:"at"`
	Message string        `json:"message"`
}

// Watch follows a run's samples. It is not safe for concurrent use.
type Watch struct {
	limits Limits
	lags   []capacity.LagSample
}

// New returns a watch over limits.
func New(l Limits) *Watch {
	if l.Window <= 0 {
		l.Window = DefaultWindow
	}
	return &Watch{limits: l}
}

// Observe takes the next sample and returns the first threshold broken
// beyond repair, or nil.
func (w *Watch) Observe(s Sample) *Breach {
	l := w.limits
	breach := func(name, format string, a ...any) *Breach {
		return &Breach{Threshold: name, At: s.At, Message: fmt.Sprintf("stopped early at +%s on %s: %s", s.At.Round(time.Second), name, fmt.Sprintf(format, a...))}
	}
	if l.MaxDLQRecords != nil && s.DeadLetters > *l.MaxDLQRecords {
		return breach("maxDLQRecords", "%d dead letters > %d", s.DeadLetters, *l.MaxDLQRecords)
	}
	if l.MaxErrorRatio != nil && l.Scheduled > 0 && float64(s.Failed) > *l.MaxErrorRatio*float64(l.Scheduled) {
		return breach("maxErrorRatio", "%d records failed, more than %g of the %d the run schedules", s.Failed, *l.MaxErrorRatio, l.Scheduled)
	}
	if l.MaxEndToEndP99 != nil && l.Scheduled > 0 && float64(s.EndToEndOver) > 0.01*float64(l.Scheduled) {
		return breach("maxEndToEndP99Latency", "%d records took longer than %s end to end, more than 1%% of the %d the run schedules", s.EndToEndOver, *l.MaxEndToEndP99, l.Scheduled)
	}
	if l.MaxConsumerLag == nil {
		return nil
	}
	if s.Lag == nil || *s.Lag <= *l.MaxConsumerLag {
		w.lags = w.lags[:0] // a failed sample or one within the limit restarts the window
		return nil
	}
	w.lags = append(w.lags, capacity.LagSample{At: s.At, Lag: *s.Lag})
	first := w.lags[0].At
	if s.At-first < l.Window {
		return nil
	}
	// Keep the window's samples only.
	for len(w.lags) > 1 && s.At-w.lags[1].At >= l.Window {
		w.lags = w.lags[1:]
	}
	slope, se, ok := capacity.Slope(w.lags, 0)
	if !ok || slope-2*se <= 0 {
		return nil
	}
	return breach("maxConsumerLag", "lag %d > %d for %s and growing %.4g/s", *s.Lag, *l.MaxConsumerLag, (s.At - w.lags[0].At).Round(time.Second), slope)
}
