package observer

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
)

// committedOffsets answers the pipeline group's OffsetFetch requests as a real broker
// would, with what the test sets: a committed offset per partition, -1 where the group
// committed nothing (real Kafka answers -1; kfake leaves such a partition out), or an
// error code for the whole group.
type committedOffsets struct {
	mu       sync.Mutex
	offsets  map[int32]int64
	errCode  int16
	requests atomic.Int64
}

func (f *committedOffsets) set(offsets map[int32]int64, errCode int16) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.offsets, f.errCode = offsets, errCode
}

func controlOffsetFetch(c *kfake.Cluster) *committedOffsets {
	f := &committedOffsets{}
	c.ControlKey(int16(kmsg.OffsetFetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		f.requests.Add(1)
		r := req.(*kmsg.OffsetFetchRequest)
		resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
		f.mu.Lock()
		defer f.mu.Unlock()
		resp.ErrorCode = f.errCode
		for _, t := range r.Topics {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p, -1, -1, f.errCode
				if off, ok := f.offsets[p]; ok {
					rp.Offset = off
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	return f
}

// lagObserver starts an observer that samples the lag of group "crm-enricher" on topic
// "in" every 50 ms, for a run that lasts until the test stops it.
func lagObserver(t *testing.T, brokers []string) (*Observer, context.CancelFunc, <-chan runResult) {
	t.Helper()
	p := testPlan(brokers, time.Hour, time.Hour)
	p.Pipeline = &plan.Pipeline{InputTopic: "in", ConsumerGroup: "crm-enricher"}
	o, err := New(Options{Plan: p, Pod: "lt-observer", Log: testr.New(t), LagInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	stop, cancelRun := context.WithCancel(context.Background())
	t.Cleanup(cancelRun)
	return o, cancelRun, runAsync(stop, o, time.Now())
}

// TestLagWithoutCommittedOffsets: real Kafka answers -1 for a partition where the group
// committed nothing. The lag then counts from the run's start offsets: the 40 records of
// the run, not the 30 written before it, and not high watermark + 1.
func TestLagWithoutCommittedOffsets(t *testing.T) {
	t.Parallel()
	c := newFakeCluster(t, 1, map[string]int32{"in": 3})
	brokers := c.ListenAddrs()
	produce(t, brokers, "in", producerConfig{runID: otherID, n: 30, at: time.Now().Add(-time.Hour)})
	controlOffsetFetch(c) // every partition: -1
	o, stop, done := lagObserver(t, brokers)
	produce(t, brokers, "in", producerConfig{runID: runID, n: 40})
	if err := eventually(10*time.Second, func() bool { return metricValue(o.metrics.lag) == 40 }); err != nil {
		t.Errorf("the lag never read 40; last %v", metricValue(o.metrics.lag))
	}
	stop()
	l := awaitReport(t, done).Observer.Lag
	if l.Final != 40 || l.Max != 40 || l.Drained || l.Samples == 0 {
		t.Errorf("lag = %+v, want final and max 40 (the run's records), not drained", l)
	}
}

// TestLagPeakThenDrain: the group commits nothing while 50 records arrive, then commits
// them all. The maximum keeps the peak; the final sample finds the pipeline drained.
func TestLagPeakThenDrain(t *testing.T) {
	t.Parallel()
	c := newFakeCluster(t, 1, map[string]int32{"in": 1})
	brokers := c.ListenAddrs()
	committed := controlOffsetFetch(c)
	o, stop, done := lagObserver(t, brokers)
	produce(t, brokers, "in", producerConfig{runID: runID, n: 50})
	if err := eventually(10*time.Second, func() bool { return metricValue(o.metrics.lag) == 50 }); err != nil {
		t.Fatalf("the lag never read 50; last %v", metricValue(o.metrics.lag))
	}
	committed.set(map[int32]int64{0: 50}, 0) // the pipeline caught up
	if err := eventually(10*time.Second, func() bool { return metricValue(o.metrics.lag) == 0 }); err != nil {
		t.Errorf("the lag never read 0 after the commit; last %v", metricValue(o.metrics.lag))
	}
	stop()
	l := awaitReport(t, done).Observer.Lag
	if l.Max != 50 || l.Final != 0 || !l.Drained || l.Samples < 2 {
		t.Errorf("lag = %+v, want max 50 (the peak), final 0, drained", l)
	}
}

// TestLagNeverSampled: every OffsetFetch fails, so no lag sample succeeds. The pipeline
// is then not known to have drained, and a maxConsumerLag threshold has no data.
func TestLagNeverSampled(t *testing.T) {
	t.Parallel()
	c := newFakeCluster(t, 1, map[string]int32{"in": 1})
	brokers := c.ListenAddrs()
	committed := controlOffsetFetch(c)
	committed.set(nil, 30) // GROUP_AUTHORIZATION_FAILED
	_, stop, done := lagObserver(t, brokers)
	if err := eventually(10*time.Second, func() bool { return committed.requests.Load() >= 3 }); err != nil {
		t.Fatal("the observer did not try to sample the lag")
	}
	stop()
	l := awaitReport(t, done).Observer.Lag
	if l.Drained || l.Samples != 0 {
		t.Errorf("lag = %+v, want no samples and not drained", l)
	}
	checks := results.Evaluate(&results.Document{Lag: l}, results.Thresholds{MaxConsumerLag: ptrTo(int64(0))})
	if len(checks) != 1 || checks[0].Passed || checks[0].Measured != results.NoData {
		t.Errorf("maxConsumerLag check = %+v, want no data, failed", checks)
	}
}

// TestLagTally is the tally alone: the maximum survives a drain, and no sample is not
// drained.
func TestLagTally(t *testing.T) {
	var none lagTally
	if r := none.result(); r.Drained || r.Samples != 0 {
		t.Errorf("no samples: %+v, want not drained", r)
	}
	var l lagTally
	for _, v := range []int64{0, 40, 120, 30, 0} {
		l.record(v)
	}
	if r := l.result(); *r != (results.LagResult{Max: 120, Final: 0, Drained: true, Samples: 5}) {
		t.Errorf("peak then drain: %+v, want max 120, final 0, drained, 5 samples", r)
	}
	l.record(7)
	if r := l.result(); r.Drained || r.Final != 7 {
		t.Errorf("lag again at the end: %+v, want final 7, not drained", r)
	}
	// A 0 measured early, then failed attempts up to the end: not known to be drained.
	var stale lagTally
	stale.record(0)
	stale.fail()
	if r := stale.result(); r.Drained {
		t.Errorf("last attempt failed: %+v, want not drained", r)
	}
}

// TestLagLastSampleFailed: the lag reads 0 before the run's records arrive, and every
// sample after fails. The pipeline is then not known to have drained.
func TestLagLastSampleFailed(t *testing.T) {
	t.Parallel()
	c := newFakeCluster(t, 1, map[string]int32{"in": 1})
	brokers := c.ListenAddrs()
	committed := controlOffsetFetch(c)
	o, stop, done := lagObserver(t, brokers)
	if err := eventually(10*time.Second, func() bool { return o.lag.result().Samples > 0 }); err != nil {
		t.Fatal("no lag sample")
	}
	committed.set(nil, 30) // GROUP_AUTHORIZATION_FAILED from now on
	produce(t, brokers, "in", producerConfig{runID: runID, n: 20})
	n := committed.requests.Load()
	if err := eventually(10*time.Second, func() bool { return committed.requests.Load() >= n+2 }); err != nil {
		t.Fatal("the observer stopped sampling the lag")
	}
	stop()
	if l := awaitReport(t, done).Observer.Lag; l.Drained {
		t.Errorf("lag = %+v: drained, though every sample since the records arrived failed", l)
	}
}

func ptrTo[T any](v T) *T { return &v }
