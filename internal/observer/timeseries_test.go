package observer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
)

// checkSeries is the reconciliation every observer test run through runAsync makes: the
// intervals sum to the report's dead letters and deliveries, the end-to-end histograms
// hold one value per latency measured, and every interval's partitions add up to its lag.
func checkSeries(s *results.Series, rep *results.Report) error {
	if s == nil {
		return fmt.Errorf("no series after Run")
	}
	var dlq, delivered, latencies int64
	for i := range s.Points {
		p := &s.Points[i]
		for _, n := range p.DLQ {
			dlq += n
		}
		delivered += p.Delivered
		latencies += p.EndToEnd.Count()
		var parts int64
		for _, n := range p.PartitionLag {
			parts += n
		}
		if parts != p.Lag {
			return fmt.Errorf("interval %d: partitions' lag %v sums to %d, not the lag %d", i, p.PartitionLag, parts, p.Lag)
		}
	}
	o := rep.Observer
	if d := o.DLQ; d != nil && dlq != d.Records {
		return fmt.Errorf("dead letters: intervals sum to %d, the report says %d", dlq, d.Records)
	}
	if e := o.EndToEnd; e != nil && (delivered != e.Delivered || latencies != e.Latency.Count()) {
		return fmt.Errorf("delivered: intervals sum to %d with %d latencies, the report says %d with %d",
			delivered, latencies, e.Delivered, e.Latency.Count())
	}
	return nil
}

// TestSeriesPartitionLag: a slow pipeline's lag is in the series per interval and per
// partition, the highest sample of each interval.
func TestSeriesPartitionLag(t *testing.T) {
	t.Parallel()
	brokers := newCluster(t, 1, map[string]int32{"in": 2, "out": 2, "dlq": 1})
	pl := &testPipeline{brokers: brokers, input: "in", output: "out", dlq: "dlq", rate: 40}
	pl.start(t)
	p := testPlan(brokers, time.Second, time.Second)
	p.Pipeline = &plan.Pipeline{InputTopic: "in", ConsumerGroup: testGroup}
	o := newTestObserver(t, p, prometheus.NewRegistry())
	done := runAsync(context.Background(), o, time.Now())
	produce(t, brokers, "in", producerConfig{runID: runID, n: 200})
	rep := awaitReport(t, done)
	s := o.Series()
	var peak int64
	var samples int
	for _, pt := range s.Points {
		peak = max(peak, pt.Lag)
		samples += pt.LagSamples
		if pt.LagSamples > 0 && len(pt.PartitionLag) != 2 {
			t.Errorf("an interval has the lag of partitions %v, want both", pt.PartitionLag)
		}
	}
	if l := rep.Observer.Lag; peak != l.Max || samples == 0 {
		t.Errorf("series peak lag %d in %d samples, the report's max %d", peak, samples, l.Max)
	}
}
