package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/earlystop"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
)

// earlyStopPoll is how often a running test with spec.earlyStop reads its pods' /status.
const earlyStopPoll = 2 * time.Second

// ReasonEarlyStopped is the final reason of a run that stopped early.
const ReasonEarlyStopped = "EarlyStopped"

// PodStatusReader reads a pod's live counts (GET /status). The reconciler's Signals
// implement it to watch runs with spec.earlyStop; without it such runs go their full length.
type PodStatusReader interface {
	Status(ctx context.Context, pod *corev1.Pod, runID string) (*control.Status, error)
}

// Status implements PodStatusReader.
func (h HTTPSignaller) Status(ctx context.Context, pod *corev1.Pod, runID string) (*control.Status, error) {
	return h.Client.Status(ctx, pod.Status.PodIP, controlPort(pod), h.Key.Token(runID))
}

// earlyStopPlan is the observer's part of spec.earlyStop: the limits it checks as it samples.
func earlyStopPlan(spec *streamreplayv1alpha1.LoadTestSpec) *plan.EarlyStop {
	if spec.EarlyStop == nil {
		return nil
	}
	p := &plan.EarlyStop{Window: metav1.Duration{Duration: specDuration(spec.EarlyStop.Window)}}
	if t := spec.Thresholds; t != nil {
		p.MaxConsumerLag = t.MaxConsumerLag
		if t.MaxEndToEndP99Latency != nil {
			p.MaxEndToEndP99 = &metav1.Duration{Duration: t.MaxEndToEndP99Latency.Duration}
		}
	}
	return p
}

// stepEarlyStop sends /stop once a breach is recorded (the ordinary Stopping path), and
// otherwise watches for one.
func (s *runStep) stepEarlyStop(ctx context.Context) {
	if s.earlyStop() == nil {
		s.watchEarlyStop(ctx)
		return
	}
	if !s.lt.Spec.Stop && !s.conditionTrue(streamreplayv1alpha1.ConditionStopping) {
		s.signalStop(ctx) // a stop request of the user's was sent above
	}
}

// watchEarlyStop reads every running pod's /status while the run is Running and, when a
// threshold is broken beyond repair, records it in the EarlyStopped condition. The stop is
// sent by the next reconcile, once the condition is written: a restarted manager then
// still knows why it stopped the run.
func (s *runStep) watchEarlyStop(ctx context.Context) {
	st := &s.lt.Status
	if s.lt.Spec.EarlyStop == nil || s.lt.Spec.Stop || st.Phase != streamreplayv1alpha1.PhaseRunning ||
		st.StartTime == nil || !s.conditionTrue(streamreplayv1alpha1.ConditionStarted) || s.conditionTrue(streamreplayv1alpha1.ConditionEarlyStopped) {
		return
	}
	reader, ok := s.r.Signals.(PodStatusReader)
	if !ok {
		return
	}
	s.requeueAfter = min(s.requeueAfter, earlyStopPoll)
	ctx, cancel := s.signalContext(ctx)
	defer cancel()
	var mu sync.Mutex
	statuses := map[string]*control.Status{}
	unreached, lastErr := s.signalAll(func(m *member) error {
		got, err := reader.Status(ctx, m.pod, st.RunID)
		if err != nil {
			return err
		}
		if got.RunID != st.RunID {
			return fmt.Errorf("pod %s answered for another run", m.name)
		}
		mu.Lock()
		statuses[m.name] = got
		mu.Unlock()
		return nil
	})
	if len(unreached) > 0 {
		// Rules that need a missing count wait for the next poll; the run is never stopped on a guess.
		logf.FromContext(ctx).V(1).Info("Could not read the status of every pod for the early stop", "pods", describe(unreached, (*member).podIP), "lastError", lastErr.Error())
	}
	b := decideEarlyStop(&s.lt.Spec, s.members, statuses, s.now.Sub(st.StartTime.Time))
	if b == nil {
		return
	}
	s.setCondition(streamreplayv1alpha1.ConditionEarlyStopped, true, thresholdReason(b.Threshold), b.Message)
	s.setPhase(st.Phase, ReasonEarlyStopped, b.Message+"; stopping every pod")
	s.events = append(s.events, event{kind: corev1.EventTypeWarning, reason: ReasonEarlyStopped, note: "The run " + b.Message + "; stopping every pod"})
	s.requeueAfter = time.Millisecond
}

// decideEarlyStop is the first threshold broken beyond repair that the pods' statuses (by
// pod name) show at elapsed from the start, or nil. The observer's breach (the lag's
// window) comes with its own moment; the count rules are a pure function of the summed
// counts, each applied only when every count it needs was read.
func decideEarlyStop(spec *streamreplayv1alpha1.LoadTestSpec, ms []member, statuses map[string]*control.Status, elapsed time.Duration) *earlystop.Breach {
	thresholds, err := parseThresholds(spec.Thresholds)
	if err != nil {
		return nil // admission checked them; collect says what is wrong
	}
	limits := earlystop.Limits{MaxErrorRatio: thresholds.MaxErrorRatio}
	sample := earlystop.Sample{At: elapsed}
	workersComplete := true
	for i := range ms {
		m := &ms[i]
		got := statuses[m.name]
		switch {
		case m.role == results.RoleObserver && got != nil && got.Observer != nil:
			o := got.Observer
			if o.Breach != nil {
				return o.Breach
			}
			if o.DeadLetters != nil {
				limits.MaxDLQRecords, sample.DeadLetters = thresholds.MaxDLQRecords, *o.DeadLetters
			}
			if o.EndToEndOver != nil {
				limits.MaxEndToEndP99, sample.EndToEndOver = thresholds.MaxEndToEndP99Latency, *o.EndToEndOver
			}
		case m.role == results.RoleWorker && got != nil && got.Worker != nil && got.Worker.Scheduled > 0:
			limits.Scheduled += got.Worker.Scheduled
			sample.Failed += got.Worker.Failed
		case m.role == results.RoleWorker:
			workersComplete = false
		}
	}
	if !workersComplete {
		// The rules over the run's scheduled total need every worker's share of it.
		limits.Scheduled = 0
	}
	return earlystop.New(limits).Observe(sample)
}

// thresholdReason is a threshold's JSON name as a condition reason: maxConsumerLag gives MaxConsumerLag.
func thresholdReason(threshold string) string {
	if threshold == "" {
		return ReasonEarlyStopped
	}
	return strings.ToUpper(threshold[:1]) + threshold[1:]
}

// earlyStop is the EarlyStopped condition when the run was stopped early, else nil.
func (s *runStep) earlyStop() *metav1.Condition {
	c := meta.FindStatusCondition(s.lt.Status.Conditions, streamreplayv1alpha1.ConditionEarlyStopped)
	if c == nil || c.Status != metav1.ConditionTrue {
		return nil
	}
	return c
}

// finishEarlyStopped ends a run stopped early: Failed whatever the partial results say,
// with the threshold's check failed and the breach first in the message.
func (s *runStep) finishEarlyStopped(c *metav1.Condition, outcome *runOutcome) {
	threshold := strings.ToLower(c.Reason[:1]) + c.Reason[1:]
	checks := s.lt.Status.Thresholds
	found := false
	for i := range checks {
		if checks[i].Name == threshold {
			found = true
			if checks[i].Passed {
				// The partial results read within the limit (a histogram's rounding, a lag
				// that fell once stopped); the run broke it beyond repair all the same.
				checks[i].Passed, checks[i].Measured = false, "broken; stopped early"
			}
		}
	}
	if !found {
		checks = append(checks, streamreplayv1alpha1.ThresholdCheck{Name: threshold, Measured: "broken; stopped early", Limit: "spec.thresholds." + threshold, Passed: false})
	}
	s.lt.Status.Thresholds = checks
	message := c.Message + "; the partial results: " + outcome.message
	if outcome.passed {
		message = c.Message + "; the partial results alone read within the thresholds, but the run could not have passed: " + outcome.message
	}
	s.finish(streamreplayv1alpha1.PhaseFailed, ReasonEarlyStopped, message, streamreplayv1alpha1.VerdictFail)
}
