package observer

import (
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/earlystop"
	"github.com/streamreplay/streamreplay/internal/plan"
)

// earlyWatch is the observer's part of an early stop: it owns the lag's window (its
// memory lives exactly as long as the run) and keeps the first breach for GET /status.
// The count rules (dead letters, failed records, end-to-end latency) need the workers'
// totals, so the controller applies them to the counts Status serves.
type earlyWatch struct {
	log   logr.Logger
	watch *earlystop.Watch // used by the lag sampler's goroutine only

	mu     sync.Mutex
	start  time.Time
	breach *earlystop.Breach
}

func newEarlyWatch(p *plan.EarlyStop, log logr.Logger) *earlyWatch {
	if p == nil || p.MaxConsumerLag == nil {
		return nil
	}
	return &earlyWatch{log: log, watch: earlystop.New(earlystop.Limits{MaxConsumerLag: p.MaxConsumerLag, Window: p.Window.Duration})}
}

// begin sets the run's start, from which samples are dated.
func (e *earlyWatch) begin(start time.Time) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.start = start
}

// observeLag takes a lag sample taken at at (nil when the sample failed).
func (e *earlyWatch) observeLag(at time.Time, lag *int64) {
	if e == nil {
		return
	}
	e.mu.Lock()
	start, done := e.start, e.breach != nil
	e.mu.Unlock()
	if done || start.IsZero() || at.Before(start) {
		return
	}
	b := e.watch.Observe(earlystop.Sample{At: at.Sub(start), Lag: lag})
	if b == nil {
		return
	}
	e.mu.Lock()
	e.breach = b
	e.mu.Unlock()
	e.log.Info("Threshold broken beyond repair; the operator will stop the run early", "threshold", b.Threshold, "at", b.At.String(), "message", b.Message)
}

func (e *earlyWatch) result() *earlystop.Breach {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.breach
}

// Status implements podrun.StatusReporter: the dead letters, the end-to-end records over
// the early-stop limit, and the lag's breach, so far.
func (o *Observer) Status() control.Status {
	st := &control.ObserverStatus{Breach: o.early.result()}
	if o.dlq != nil {
		records, _ := o.dlq.counts()
		st.DeadLetters = &records
	}
	if o.e2e != nil && o.e2e.overLimit > 0 {
		over := o.e2e.overCount()
		st.EndToEndOver = &over
	}
	return control.Status{Observer: st}
}

func (t *e2eTally) overCount() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.over
}
