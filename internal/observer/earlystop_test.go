package observer

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/segmentio/kafka-go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/runheaders"
)

// TestEarlyStopOnGrowingLag: against kfake, records keep arriving on the input topic and the
// pipeline's group commits nothing, so the lag grows past its limit. The observer's
// /status then names maxConsumerLag with a moment after the limit was first passed; before
// that, it reports no breach.
func TestEarlyStopOnGrowingLag(t *testing.T) {
	t.Parallel()
	c := newFakeCluster(t, 1, map[string]int32{"in": 1})
	brokers := c.ListenAddrs()
	controlOffsetFetch(c) // the group committed nothing
	p := testPlan(brokers, time.Hour, time.Hour)
	p.Pipeline = &plan.Pipeline{InputTopic: "in", ConsumerGroup: "crm-enricher"}
	limit := int64(20)
	p.EarlyStop = &plan.EarlyStop{Window: metav1.Duration{Duration: 500 * time.Millisecond}, MaxConsumerLag: &limit}
	o, err := New(Options{Plan: p, Pod: "lt-observer", Log: testr.New(t), LagInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if st := o.Status(); st.Observer == nil || st.Observer.Breach != nil || st.Observer.DeadLetters != nil || st.Observer.EndToEndOver != nil {
		t.Fatalf("status before the run = %+v, want an observer status without breach, dead letters or end-to-end counts", st.Observer)
	}
	stop, cancelRun := context.WithCancel(context.Background())
	t.Cleanup(cancelRun)
	done := runAsync(stop, o, time.Now())
	err = eventually(15*time.Second, func() bool {
		produce(t, brokers, "in", producerConfig{runID: runID, n: 5})
		return o.Status().Observer.Breach != nil
	})
	if err != nil {
		t.Fatalf("no breach while the lag grew past %d: %v (lag %v)", limit, err, metricValue(o.metrics.lag))
	}
	b := o.Status().Observer.Breach
	if b.Threshold != "maxConsumerLag" || b.At <= 500*time.Millisecond || !strings.Contains(b.Message, "stopped early at +") {
		t.Errorf("breach = %+v, want maxConsumerLag after its window, saying when", b)
	}
	cancelRun()
	if r := awaitReport(t, done); r.Observer.Lag.Max <= limit {
		t.Errorf("the report's peak lag %d is within the limit the breach names", r.Observer.Lag.Max)
	}
	if again := o.Status().Observer.Breach; again != b {
		t.Errorf("the breach changed after it was found: %+v", again)
	}
}

// Without an early stop in the plan, the observer keeps no window.
func TestNoEarlyWatchWithoutThePlan(t *testing.T) {
	p := testPlan([]string{"127.0.0.1:1"}, time.Minute, time.Second)
	p.Pipeline = &plan.Pipeline{InputTopic: "in", ConsumerGroup: "g", OutputTopic: "out"}
	o, err := New(Options{Plan: p, Log: testr.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	if o.early != nil || o.e2e.overLimit != 0 {
		t.Errorf("early watch %v, end-to-end limit %s without spec.earlyStop", o.early, o.e2e.overLimit)
	}
}

// TestEndToEndOverCountsDistinctRecordsOverTheLimit: the count the controller's
// end-to-end rule reads takes each delivered record once, and only beyond the limit.
func TestEndToEndOverCountsDistinctRecordsOverTheLimit(t *testing.T) {
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	tally := newE2ETally(runID, m, testr.New(t))
	tally.overLimit = time.Second
	recv := time.Now()
	record := func(seq int, latency time.Duration) *kafka.Message {
		return &kafka.Message{Headers: []kafka.Header{
			{Key: runheaders.RunID, Value: []byte(runID)},
			{Key: runheaders.Worker, Value: []byte("0")},
			{Key: runheaders.Sequence, Value: []byte(strconv.Itoa(seq))},
			{Key: runheaders.Intended, Value: []byte(strconv.FormatInt(recv.Add(-latency).UnixNano(), 10))},
		}}
	}
	for seq, latency := range []time.Duration{2 * time.Second, 3 * time.Second, 500 * time.Millisecond, time.Second} {
		tally.add(record(seq, latency), recv)
	}
	tally.add(record(0, 2*time.Second), recv) // a duplicate of record 0
	if got := tally.overCount(); got != 2 {
		t.Errorf("over the limit: %d, want 2 (a duplicate and a record at the limit do not count)", got)
	}
}
