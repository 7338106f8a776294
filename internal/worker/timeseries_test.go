package worker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
)

// checkSeries is the reconciliation every worker test run through runTracked makes: the
// intervals of the worker's series sum to its report's counters, and the latency
// histograms of the intervals hold one value per acknowledged record.
func checkSeries(s *results.Series, r *results.WorkerResult) error {
	if s == nil {
		return fmt.Errorf("no series after Run")
	}
	if len(s.Points) > results.MaxPoints {
		return fmt.Errorf("%d intervals, more than %d", len(s.Points), results.MaxPoints)
	}
	var sum results.Point
	var latencies int64
	for i := range s.Points {
		p := &s.Points[i]
		sum.Scheduled += p.Scheduled
		sum.Sent += p.Sent
		sum.Acked += p.Acked
		sum.Failed += p.Failed
		latencies += p.Latency.Count()
	}
	if sum.Scheduled != r.Scheduled || sum.Sent != r.Sent || sum.Acked != r.Acked || sum.Failed != r.Failed || latencies != r.Acked {
		return fmt.Errorf("intervals sum to scheduled %d sent %d acked %d failed %d latencies %d; the report says scheduled %d sent %d acked %d failed %d",
			sum.Scheduled, sum.Sent, sum.Acked, sum.Failed, latencies, r.Scheduled, r.Sent, r.Acked, r.Failed)
	}
	return nil
}

// TestSeriesFollowsTheSchedule: 1000/s for 3 s gives three one-second intervals of 1000
// records scheduled each, whenever the records were actually sent.
func TestSeriesFollowsTheSchedule(t *testing.T) {
	t.Parallel()
	k, topics := newKafka(t, 3, "in")
	p := testPlan(k, topics[0], writeSamples(t, keyedSamples(50, 10)), plan.Scenario{Type: "Constant", TargetRate: 1000}, 3*time.Second)
	r, w := run(context.Background(), t, p, Options{})
	s := w.Series()
	if s.Step != time.Second || len(s.Points) < 3 {
		t.Fatalf("step %s, %d intervals; want 1s and at least 3", s.Step, len(s.Points))
	}
	for i := range 3 {
		if got := s.Points[i].Scheduled; got != 1000 {
			t.Errorf("interval %d: %d scheduled, want 1000", i, got)
		}
	}
	// Where the sends fall depends on the machine (a busy one sends late); their sum does not.
	var sent int64
	for _, p := range s.Points {
		sent += p.Sent
	}
	if r.Sent != 3000 || sent != 3000 {
		t.Errorf("sent %d, %d in the intervals: want 3000 in both", r.Sent, sent)
	}
}

// TestSeriesOfAStoppedRun: a stop mid-run still reconciles, scheduled included.
func TestSeriesOfAStoppedRun(t *testing.T) {
	t.Parallel()
	k, topics := newKafka(t, 3, "in")
	p := testPlan(k, topics[0], writeSamples(t, keyedSamples(50, 10)), plan.Scenario{Type: "Constant", TargetRate: 1000}, time.Minute)
	w, err := New(p, Options{Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitFor(t, "1500 records sent", func() bool { return w.st.sent.Load() >= 1500 })
		cancel()
	}()
	rep, err := w.Run(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := checkSeries(w.Series(), rep.Worker); err != nil {
		t.Fatal(err)
	}
	if n := len(w.Series().Points); n < 2 || n > 20 {
		t.Errorf("%d intervals for a run stopped after ~1.5 s; want a few", n)
	}
}

// TestSeriesOfFailures: records refused by the broker are counted as failed in their
// interval, and the Timeout failures of the flush in the last one.
func TestSeriesOfFailures(t *testing.T) {
	t.Parallel()
	k, topics := newKafka(t, 3, "in")
	k.needFake(t)
	p := testPlan(k, topics[0], writeSamples(t, keyedSamples(50, 10)), plan.Scenario{Type: "Constant", TargetRate: 2000}, 2*time.Second)
	w, err := New(p, Options{Log: testLog(t), FlushTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	go func() {
		if waitFor(t, "the first acknowledgements", func() bool { return w.st.completed.Load() > 0 }) {
			k.cluster.Close()
		}
	}()
	rep, err := w.Run(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Worker
	if err := checkSeries(w.Series(), r); err != nil {
		t.Fatal(err)
	}
	if r.Failed == 0 {
		t.Errorf("no failure counted after the brokers closed: acked %d", r.Acked)
	}
}
