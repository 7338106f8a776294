package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestSignalBudgetEndsAPass: pods that never answer hold a pass no longer than its budget.
// Once it is spent, the calls in flight end and the pods not called yet are not called:
// with more pods than signalParallelism, exactly signalParallelism calls were made.
func TestSignalBudgetEndsAPass(t *testing.T) {
	const pods = signalParallelism + 8
	ms := make([]member, pods)
	for i := range ms {
		ms[i] = member{name: fmt.Sprintf("w-%d", i), pod: &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning}}}
	}
	s := &runStep{r: &LoadTestReconciler{SignalBudget: 50 * time.Millisecond}, members: ms}
	var (
		made      atomic.Int32
		unreached []member
		lastErr   error
		done      = make(chan struct{})
	)
	go func() {
		defer close(done)
		ctx, cancel := s.signalContext(context.Background())
		defer cancel()
		unreached, lastErr = s.signalAll(func(*member) error {
			if ctx.Err() != nil {
				return ctx.Err() // as the HTTP client does once the context is done
			}
			made.Add(1)
			<-ctx.Done() // a pod that never answers
			return ctx.Err()
		})
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the pass still waits on pods that never answer a minute later; its budget was 50ms")
	}
	if got := made.Load(); got != signalParallelism {
		t.Errorf("%d calls made, want %d (one round of parallel calls within the budget)", got, signalParallelism)
	}
	if len(unreached) != pods || !errors.Is(lastErr, context.DeadlineExceeded) {
		t.Errorf("%d pods unreached (last error %v), want all %d with the budget's deadline", len(unreached), lastErr, pods)
	}
}

// TestSignalBudgetIsPerReconcile: the start and the stop signals of one pass share one
// budget; the reconciler's own passes (cleanup) get one each; no budget means no deadline.
func TestSignalBudgetIsPerReconcile(t *testing.T) {
	r := &LoadTestReconciler{SignalBudget: time.Hour}
	s := &runStep{r: r}
	first, cancel1 := s.signalContext(context.Background())
	defer cancel1()
	second, cancel2 := s.signalContext(context.Background())
	defer cancel2()
	d1, ok1 := first.Deadline()
	d2, ok2 := second.Deadline()
	if !ok1 || !ok2 || !d1.Equal(d2) {
		t.Errorf("deadlines %v (%v) and %v (%v), want one shared deadline", d1, ok1, d2, ok2)
	}
	if own, cancel := r.signalContext(context.Background()); true {
		defer cancel()
		if _, ok := own.Deadline(); !ok {
			t.Error("the reconciler's signalling has no deadline")
		}
	}
	none := &runStep{r: &LoadTestReconciler{}}
	ctx, cancel := none.signalContext(context.Background())
	defer cancel()
	if _, ok := ctx.Deadline(); ok {
		t.Error("a zero budget set a deadline")
	}
}
