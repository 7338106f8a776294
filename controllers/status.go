package controllers

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/results"
)

// setPhase sets the phase, its message and the kstatus conditions that go with it, and
// records an event when the phase changes:
// Reconciling=True while the run goes on; at the end Ready=True on Passed, or
// Ready=False and Stalled=True on Failed, Error and Aborted.
func (s *runStep) setPhase(phase streamreplayv1alpha1.Phase, reason, message string) {
	st := &s.lt.Status
	if st.Phase != phase {
		kind := corev1.EventTypeNormal
		if phase.Finished() && phase != streamreplayv1alpha1.PhasePassed {
			kind = corev1.EventTypeWarning
		}
		s.events = append(s.events, event{kind: kind, reason: string(phase), note: message})
	}
	st.Phase = phase
	st.Message = results.Shorten(message, 4096)
	switch {
	case !phase.Finished():
		s.setCondition(streamreplayv1alpha1.ConditionReconciling, true, reason, message)
		s.setCondition(streamreplayv1alpha1.ConditionReady, false, reason, message)
		s.setCondition(streamreplayv1alpha1.ConditionStalled, false, reason, message)
	case phase == streamreplayv1alpha1.PhasePassed:
		s.setCondition(streamreplayv1alpha1.ConditionReconciling, false, reason, message)
		s.setCondition(streamreplayv1alpha1.ConditionReady, true, reason, message)
		s.setCondition(streamreplayv1alpha1.ConditionStalled, false, reason, message)
	default:
		s.setCondition(streamreplayv1alpha1.ConditionReconciling, false, reason, message)
		s.setCondition(streamreplayv1alpha1.ConditionReady, false, reason, message)
		s.setCondition(streamreplayv1alpha1.ConditionStalled, true, reason, message)
	}
}

func (s *runStep) setCondition(condition string, status bool, reason, message string) {
	c := metav1.Condition{
		Type:               condition,
		Status:             metav1.ConditionFalse,
		Reason:             reason,
		Message:            results.Shorten(message, 32768),
		ObservedGeneration: s.lt.Generation,
		LastTransitionTime: metav1.NewTime(s.now),
	}
	if status {
		c.Status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&s.lt.Status.Conditions, c)
}

func (s *runStep) conditionTrue(condition string) bool {
	return meta.IsStatusConditionTrue(s.lt.Status.Conditions, condition)
}

func ptrTime(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}

// formatInstant writes an instant as messages and events show it: RFC 3339 in UTC with
// every fraction digit it has.
func formatInstant(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// outcomeText is the summary.txt of a finished run: the results' summary when the run
// produced results, then always its phase, verdict and message.
func outcomeText(st *streamreplayv1alpha1.LoadTestStatus, summary string) string {
	var b strings.Builder
	b.WriteString(summary)
	if summary != "" && !strings.HasSuffix(summary, "\n") {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%-11s %s\n%-11s %s\n%-11s %s\n", "phase", st.Phase, "verdict", st.Verdict, "message", st.Message)
	return b.String()
}
