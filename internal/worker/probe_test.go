package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/util/wait"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/podrun"
	"github.com/streamreplay/streamreplay/internal/results"
)

// A worker of a Capacity search sends each probe's share of its rate for its hold, from
// its start time, answers its figures once flushed, and refuses probes out of order.
func TestWorkerRunsProbes(t *testing.T) {
	k, topics := newKafka(t, 3, "probe-in")
	p := testPlan(k, topics[0], writeSamples(t, keyedSamples(200, 50)),
		plan.Scenario{Type: streamreplayv1alpha1.ScenarioCapacity, TargetRate: 400}, time.Hour)
	p.Workers, p.Index = 2, 1 // the second of two workers: its share of 301/s is 150/s
	registry := prometheus.NewRegistry()
	w, err := New(p, Options{Log: testLog(t), Registry: registry})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.Prepare(ctx); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan *results.Report, 1)
	go func() {
		r, err := w.Run(runCtx, time.Now())
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		done <- r
	}()

	// Prometheus scrapes while the probes replace the schedule (run with -race).
	scraped := make(chan struct{})
	go func() {
		defer close(scraped)
		for runCtx.Err() == nil {
			if _, err := registry.Gather(); err != nil {
				t.Errorf("scraping the worker's metrics: %v", err)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	defer func() { stop(); <-scraped }()

	rates := []int64{301, 41}
	for i, rate := range rates {
		req := control.ProbeRequest{RunID: p.RunID, Probe: i, Rate: rate, StartTime: time.Now().Add(200 * time.Millisecond), Hold: 2 * time.Second}
		if err := w.StartProbe(req); err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
		if err := w.StartProbe(req); err != nil {
			t.Errorf("probe %d asked again: %v, want accepted (idempotent)", i, err)
		}
		var res *control.ProbeResult
		if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			r, ok := w.ProbeResult(i)
			if !ok {
				return false, errors.New("the probe asked is unknown")
			}
			res = r
			return r.Done, nil
		}); err != nil {
			t.Fatalf("probe %d never done: %v", i, err)
		}
		share := plan.Share(rate, 2, 1)
		f := res.Worker
		if want := 2 * share; f.Scheduled != want || f.Acknowledged != want || f.Failed != 0 {
			t.Errorf("probe %d at %d/s: scheduled %d, acked %d, failed %d; want %d each and none failed", i, rate, f.Scheduled, f.Acknowledged, f.Failed, want)
		}
		if f.ProduceP99 <= 0 {
			t.Errorf("probe %d: produce p99 %s, want measured", i, f.ProduceP99)
		}
	}
	if _, ok := w.ProbeResult(2); ok {
		t.Error("probe 2 was never asked, yet the worker answers it")
	}
	stale := control.ProbeRequest{RunID: p.RunID, Probe: 0, Rate: 999, StartTime: time.Now(), Hold: time.Second}
	if err := w.StartProbe(stale); !errors.Is(err, podrun.ErrProbeConflict) {
		t.Errorf("probe 0 again with another rate: %v, want a conflict", err)
	}
	skip := control.ProbeRequest{RunID: p.RunID, Probe: 5, Rate: 10, StartTime: time.Now(), Hold: time.Second}
	if err := w.StartProbe(skip); !errors.Is(err, podrun.ErrProbeConflict) {
		t.Errorf("probe 5 after probe 1: %v, want a conflict", err)
	}

	stop()
	r := <-done
	if r == nil || r.Worker == nil {
		t.Fatal("no report at the end of the search")
	}
	want := 2 * (plan.Share(301, 2, 1) + plan.Share(41, 2, 1))
	if r.Worker.Scheduled != want || r.Worker.Acked != want {
		t.Errorf("search report: scheduled %d, acked %d; want %d each (the probes' sum)", r.Worker.Scheduled, r.Worker.Acked, want)
	}
	if err := checkResult(r.Worker); err != nil {
		t.Error(err)
	}
}
