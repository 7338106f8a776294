package observer

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/internal/runheaders"
)

const (
	runID   = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	otherID = "0f8fad5b-d9cb-469f-a165-70867728950e"
)

func testPlan(brokers []string, duration, drain time.Duration) *plan.Plan {
	return &plan.Plan{
		Role: results.RoleObserver, RunID: runID, LoadTest: "default/crm-cdc-peak", Workers: 1,
		Duration: metav1.Duration{Duration: duration}, Drain: metav1.Duration{Duration: drain},
		Kafka:  plan.Kafka{BootstrapServers: brokers},
		Target: plan.Target{Topic: "in"},
	}
}

func newTestObserver(t *testing.T, p *plan.Plan, reg prometheus.Registerer) *Observer {
	t.Helper()
	o, err := New(Options{Plan: p, Pod: "crm-cdc-peak-observer", Log: testr.New(t), Registry: reg, LagInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	return o
}

type runResult struct {
	rep *results.Report
	err error
}

func runAsync(ctx context.Context, o *Observer, start time.Time) <-chan runResult {
	ch := make(chan runResult, 1)
	go func() {
		rep, err := o.Run(ctx, start)
		if err == nil {
			err = checkSeries(o.Series(), rep) // timeseries_test.go
		}
		ch <- runResult{rep, err}
	}()
	return ch
}

func awaitReport(t *testing.T, ch <-chan runResult) *results.Report {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		b, err := r.rep.Encode()
		if err != nil {
			t.Fatalf("report does not encode: %v", err)
		}
		t.Logf("report (%d bytes): %s", len(b), b)
		return r.rep
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not end within 30s")
		return nil
	}
}

// malformed makes every 10th value not JSON and every 25th empty.
func malformed(i int) []byte {
	switch {
	case i%25 == 7:
		return nil
	case i%10 == 3:
		return []byte("customer;" + string(rune('A'+i%26)) + ";not json")
	}
	return []byte(`{"id":1,"name":"Ada Lovelace","city":"Zürich"}`)
}

func connectHeaders(cls string) func(int) []kafka.Header {
	return func(int) []kafka.Header {
		return []kafka.Header{
			{Key: connectClass, Value: []byte(cls)},
			{Key: connectStage, Value: []byte("TRANSFORMATION")},
			{Key: connectMessage, Value: []byte("from elsewhere")},
		}
	}
}

// TestConnectPipeline runs the whole observer against a pipeline that
// dead-letters with Kafka Connect's headers and adds 50 ms of latency, with
// dead letters before the run and of another run around it.
func TestConnectPipeline(t *testing.T) {
	t.Parallel()
	brokers := newCluster(t, 3, map[string]int32{"in": 3, "out": 3, "dlq": 2})
	const delay = 50 * time.Millisecond
	pl := &testPipeline{brokers: brokers, input: "in", output: "out", dlq: "dlq", style: connectStyle, delay: delay}
	pl.start(t)

	// Dead letters from before the run, of this run id and of others: not counted.
	hourAgo := time.Now().Add(-time.Hour)
	produce(t, brokers, "dlq", producerConfig{runID: runID, n: 5, at: hourAgo, headers: connectHeaders("Old")})
	produce(t, brokers, "dlq", producerConfig{runID: otherID, n: 5, at: hourAgo, headers: connectHeaders("Old")})

	p := testPlan(brokers, 1500*time.Millisecond, 1500*time.Millisecond)
	p.DLQ = &plan.DLQ{Topic: "dlq"}
	p.Pipeline = &plan.Pipeline{InputTopic: "in", OutputTopic: "out", ConsumerGroup: testGroup}
	reg := prometheus.NewRegistry()
	o := newTestObserver(t, p, reg)
	start := time.Now()
	done := runAsync(context.Background(), o, start)

	const n = 300
	produce(t, brokers, "in", producerConfig{runID: runID, n: n, rate: 300, value: malformed})
	// Dead letters of another run and of no run in the window: OtherRecords.
	produce(t, brokers, "dlq", producerConfig{runID: otherID, n: 7, headers: connectHeaders("Other")})
	produce(t, brokers, "dlq", producerConfig{n: 4, headers: connectHeaders("NoRun")})

	rep := awaitReport(t, done)
	forwarded, dead := pl.counts()
	deadTotal := 0
	for _, c := range dead {
		deadTotal += c
	}
	if forwarded+deadTotal != n {
		t.Fatalf("the pipeline handled %d+%d records of %d by the end of the drain; the test needs them all", forwarded, deadTotal, n)
	}
	d := rep.Observer.DLQ
	if d.Records != int64(deadTotal) || d.OtherRecords != 11 {
		t.Errorf("DLQ records = %d, other = %d; want %d (what the pipeline dead-lettered) and 11", d.Records, d.OtherRecords, deadTotal)
	}
	got := map[string]int{}
	for _, c := range d.Classes {
		got[c.Name] = int(c.Count)
		if len(c.Examples) == 0 || len(c.Examples) > maxExamples {
			t.Errorf("class %q has %d examples, want 1 to %d", c.Name, len(c.Examples), maxExamples)
		}
		for _, e := range c.Examples {
			if e.Topic != "in" || !pl.wasDeadLettered(e.Partition, e.Offset) {
				t.Errorf("example %+v does not point at a dead-lettered input record", e)
			}
			if len(e.Message) > maxMessageBytes {
				t.Errorf("example message is %d bytes, more than %d", len(e.Message), maxMessageBytes)
			}
		}
	}
	if len(got) != len(dead) {
		t.Errorf("classes = %v, want %v", got, dead)
	}
	for class, want := range dead {
		if got[class] != want {
			t.Errorf("class %q: %d dead letters, want %d", class, got[class], want)
		}
	}
	if d.Classes[0].Count < d.Classes[len(d.Classes)-1].Count {
		t.Errorf("classes are not largest first: %+v", d.Classes)
	}

	e := rep.Observer.EndToEnd
	if e.Delivered != int64(forwarded) || e.Duplicates != 0 {
		t.Errorf("delivered = %d, duplicates = %d; want %d and 0", e.Delivered, e.Duplicates, forwarded)
	}
	p50, p99 := e.Latency.Quantile(0.5), e.Latency.Quantile(0.99)
	t.Logf("end-to-end latency with %v added: p50 %v, p99 %v, max %v", delay, p50, p99, e.Latency.Max())
	// The pipeline holds every record until its intended time + delay, so no latency is
	// below the delay on any machine. The upper bound only catches gross errors (a unit
	// or a clock mix-up): a busy machine adds latency, never removes it.
	if p50 < delay || p50 >= delay+10*time.Second {
		t.Errorf("p50 = %v, want at least %v (and not absurdly more)", p50, delay)
	}
	if fastest := e.Latency.Quantile(0); fastest < delay {
		t.Errorf("fastest record took %v, less than the %v the pipeline adds", fastest, delay)
	}

	l := rep.Observer.Lag
	if !l.Drained || l.Final != 0 || l.Samples < 2 {
		t.Errorf("lag = %+v, want drained, sampled during the run and at its end", l)
	}
	if rep.Stopped || rep.Role != results.RoleObserver || rep.Pod != "crm-cdc-peak-observer" || rep.RunID != runID {
		t.Errorf("report header = %+v", rep)
	}

	if v := metricValue(o.metrics.output); v != float64(forwarded) {
		t.Errorf("output_records_total = %v, want %d", v, forwarded)
	}
	if v := metricValue(o.metrics.dlqRecords.WithLabelValues(classNotJSON + " (VALUE_CONVERTER)")); v != float64(dead[classNotJSON+" (VALUE_CONVERTER)"]) {
		t.Errorf("dlq_records_total{class=not JSON} = %v, want %d", v, dead[classNotJSON+" (VALUE_CONVERTER)"])
	}
	if mfs, err := reg.Gather(); err != nil || len(mfs) != 6 {
		t.Errorf("gathering metrics: %d families, %v; want 6", len(mfs), err)
	}
}

// TestSpringPipeline checks Spring Kafka's headers: binary original partition
// and offset, exception class and message.
func TestSpringPipeline(t *testing.T) {
	t.Parallel()
	brokers := newCluster(t, 1, map[string]int32{"in": 2, "out": 2, "dlq": 1})
	pl := &testPipeline{brokers: brokers, input: "in", output: "out", dlq: "dlq", style: springStyle}
	pl.start(t)

	p := testPlan(brokers, time.Second, time.Second)
	p.DLQ = &plan.DLQ{Topic: "dlq"}
	p.Pipeline = &plan.Pipeline{InputTopic: "in", OutputTopic: "out"}
	o := newTestObserver(t, p, nil)
	done := runAsync(context.Background(), o, time.Now())
	const n = 120
	produce(t, brokers, "in", producerConfig{runID: runID, n: n, rate: 400, value: malformed})
	rep := awaitReport(t, done)

	forwarded, dead := pl.counts()
	d := rep.Observer.DLQ
	got := map[string]int{}
	for _, c := range d.Classes {
		got[c.Name] = int(c.Count)
		for _, e := range c.Examples {
			if e.Topic != "in" || !pl.wasDeadLettered(e.Partition, e.Offset) || e.Message == "" {
				t.Errorf("example %+v does not point at a dead-lettered input record with its message", e)
			}
		}
	}
	if len(got) != 2 || got[springNotJSON] != dead[springNotJSON] || got[springEmpty] != dead[springEmpty] || d.OtherRecords != 0 {
		t.Errorf("classes = %v, other = %d; want %v and 0", got, d.OtherRecords, dead)
	}
	if e := rep.Observer.EndToEnd; e.Delivered != int64(forwarded) || forwarded == 0 {
		t.Errorf("delivered = %d, want %d", e.Delivered, forwarded)
	}
	if rep.Observer.Lag != nil {
		t.Errorf("lag reported without a consumer group: %+v", rep.Observer.Lag)
	}
}

// TestSlowPipelineLag caps the pipeline at 40 records/s while 200 arrive at
// once: the lag grows, and the pipeline does not drain by the end.
func TestSlowPipelineLag(t *testing.T) {
	t.Parallel()
	brokers := newCluster(t, 1, map[string]int32{"in": 2, "out": 2, "dlq": 1})
	pl := &testPipeline{brokers: brokers, input: "in", output: "out", dlq: "dlq", rate: 40}
	pl.start(t)

	p := testPlan(brokers, time.Second, time.Second)
	p.Pipeline = &plan.Pipeline{InputTopic: "in", ConsumerGroup: testGroup}
	reg := prometheus.NewRegistry()
	o := newTestObserver(t, p, reg)
	done := runAsync(context.Background(), o, time.Now())
	const n = 200
	produce(t, brokers, "in", producerConfig{runID: runID, n: n})
	var midRun float64
	if err := eventually(3*time.Second, func() bool {
		midRun = metricValue(o.metrics.lag)
		return midRun > 50
	}); err != nil {
		t.Errorf("consumer_lag_records stayed at %v during the run, want > 50", midRun)
	}
	rep := awaitReport(t, done)
	forwarded, _ := pl.counts()
	l := rep.Observer.Lag
	t.Logf("lag %+v, pipeline forwarded %d of %d", l, forwarded, n)
	if l.Max < 100 || l.Final <= 0 || l.Drained || l.Max < l.Final {
		t.Errorf("lag = %+v, want max >= 100, final > 0, not drained", l)
	}
	// The pipeline commits only what it forwarded (its counter lags the commit by at most
	// the record in hand), and keeps forwarding after the last sample: the final lag is at
	// least what it has still not forwarded now, and at most the run's records. Bounds,
	// not an estimate: they hold however busy the machine.
	if lo := int64(n - forwarded - 1); l.Final < lo || l.Final > n {
		t.Errorf("final lag = %d, want between %d (records not forwarded yet) and %d", l.Final, lo, n)
	}
	if rep.Observer.DLQ != nil || rep.Observer.EndToEnd != nil {
		t.Errorf("sections not asked for: %+v", rep.Observer)
	}
}

// TestStopAndUncommittedGroup stops the observer early; the group never
// commits, so the lag counts from the run's start offsets, not from the
// records written before the run.
func TestStopAndUncommittedGroup(t *testing.T) {
	t.Parallel()
	brokers := newCluster(t, 1, map[string]int32{"in": 3, "dlq": 1})
	produce(t, brokers, "in", producerConfig{runID: otherID, n: 30, at: time.Now().Add(-time.Hour)})

	p := testPlan(brokers, time.Minute, time.Minute)
	p.DLQ = &plan.DLQ{Topic: "dlq"}
	p.Pipeline = &plan.Pipeline{InputTopic: "in", ConsumerGroup: "nobody-consumes"}
	o := newTestObserver(t, p, nil)
	ctx, stop := context.WithCancel(context.Background())
	done := runAsync(ctx, o, time.Now())
	produce(t, brokers, "in", producerConfig{runID: runID, n: 40})
	produce(t, brokers, "dlq", producerConfig{runID: runID, n: 3})
	if err := eventually(5*time.Second, func() bool { r, _ := o.dlq.counts(); return r == 3 }); err != nil {
		t.Fatal("the observer did not count 3 dead letters within 5s")
	}
	stopAt := time.Now()
	stop()
	rep := awaitReport(t, done)
	if took := time.Since(stopAt); took > 10*time.Second { // a hang guard
		t.Errorf("Run took %v to end after the stop", took)
	}
	if !rep.Stopped {
		t.Error("report not marked Stopped")
	}
	if d := rep.Observer.DLQ; d.Records != 3 || len(d.Classes) != 1 || d.Classes[0].Name != unclassified {
		t.Errorf("dlq = %+v, want 3 unclassified", d)
	}
	if l := rep.Observer.Lag; l.Final != 40 || l.Drained {
		t.Errorf("lag = %+v, want final 40 (this run's records only), not drained", l)
	}
}

// TestHeadersDropped: a pipeline that drops headers can be matched by
// nothing; CountAllRecords still counts its dead letters.
func TestHeadersDropped(t *testing.T) {
	t.Parallel()
	brokers := newCluster(t, 1, map[string]int32{"in": 1, "out": 1, "dlq": 1})
	pl := &testPipeline{brokers: brokers, input: "in", output: "out", dlq: "dlq", dropHeaders: true}
	pl.start(t)

	p := testPlan(brokers, time.Second, time.Second)
	p.DLQ = &plan.DLQ{Topic: "dlq", CountAllRecords: true}
	p.Pipeline = &plan.Pipeline{InputTopic: "in", OutputTopic: "out"}
	o := newTestObserver(t, p, nil)
	done := runAsync(context.Background(), o, time.Now())
	const n = 150
	produce(t, brokers, "in", producerConfig{runID: runID, n: n, value: malformed})
	var progress []any
	if err := eventually(3*time.Second, func() bool {
		progress = o.Progress()
		return strings.Contains(strings.Join(strings.Fields(fmtKV(progress)), " "), "outputRecordsWithoutRunHeaders")
	}); err != nil {
		t.Errorf("progress %v never says that the output records carry no run headers", progress)
	}
	rep := awaitReport(t, done)
	_, dead := pl.counts()
	deadTotal := int64(0)
	for _, c := range dead {
		deadTotal += int64(c)
	}
	if e := rep.Observer.EndToEnd; e.Delivered != 0 || e.Latency != nil {
		t.Errorf("e2e = %+v, want nothing matched", e)
	}
	if d := rep.Observer.DLQ; d.Records != deadTotal || d.OtherRecords != deadTotal {
		t.Errorf("dlq records = %d, other = %d; want both %d (counted all, none with a run id)", d.Records, d.OtherRecords, deadTotal)
	}
}

// metricValue reads a counter or gauge.
func metricValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return -1
}

func fmtKV(kv []any) string {
	var b strings.Builder
	for _, v := range kv {
		if s, ok := v.(string); ok {
			b.WriteString(s + " ")
		}
	}
	return b.String()
}

func TestPrepareErrors(t *testing.T) {
	t.Parallel()
	brokers := newCluster(t, 1, map[string]int32{"in": 1, "dlq": 1})

	t.Run("missing topics", func(t *testing.T) {
		p := testPlan(brokers, time.Second, time.Second)
		p.DLQ = &plan.DLQ{Topic: "crm-pipeline.dlq"}
		p.Pipeline = &plan.Pipeline{InputTopic: "in", OutputTopic: "crm.customers.enriched", ConsumerGroup: testGroup}
		o, err := New(Options{Plan: p, Pod: "x-observer", Log: testr.New(t)})
		if err != nil {
			t.Fatal(err)
		}
		err = o.Prepare(context.Background())
		if err == nil {
			t.Fatal("Prepare succeeded with missing topics")
		}
		t.Log(err)
		for _, want := range []string{`topic "crm-pipeline.dlq" does not exist`, `topic "crm.customers.enriched" does not exist`, brokers[0]} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
		}
	})

	t.Run("unreachable brokers", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close() // nothing listens there now
		p := testPlan([]string{addr}, time.Second, time.Second)
		p.DLQ = &plan.DLQ{Topic: "dlq"}
		o, err := New(Options{Plan: p, Pod: "x-observer", Log: testr.New(t)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = o.Prepare(ctx)
		t.Log(err)
		if err == nil || !strings.Contains(err.Error(), "cannot reach any of the brokers ["+addr+"]") {
			t.Errorf("Prepare error = %v, want it to say it cannot reach %s", err, addr)
		}
	})

	t.Run("nothing to watch", func(t *testing.T) {
		_, err := New(Options{Plan: testPlan(brokers, time.Second, 0), Pod: "x"})
		if err == nil || !strings.Contains(err.Error(), "neither a dead-letter queue nor") {
			t.Errorf("New error = %v", err)
		}
	})
}

// TestDuplicatesAndRunHeaders feeds the output tally directly.
func TestDuplicatesAndRunHeaders(t *testing.T) {
	m, _ := newMetrics(nil)
	tally := newE2ETally(runID, m, testr.New(t))
	start := time.Now()
	tally.start = start
	msg := func(run string, worker, seq int, intended time.Time) *kafka.Message {
		return &kafka.Message{Time: start, Headers: []kafka.Header{
			{Key: runheaders.RunID, Value: []byte(run)},
			{Key: runheaders.Worker, Value: []byte{byte('0' + worker)}},
			{Key: runheaders.Sequence, Value: []byte(itoa(seq))},
			{Key: runheaders.Intended, Value: []byte(itoa64(intended.UnixNano()))},
		}}
	}
	recv := start.Add(time.Second)
	for _, seq := range []int{0, 1, 2, 70000, 1, 0, 70000} {
		tally.add(msg(runID, 1, seq, start), recv)
	}
	tally.add(msg(runID, 2, 1, start), recv)   // another worker: not a duplicate
	tally.add(msg(otherID, 1, 5, start), recv) // another run: not counted
	r := tally.result()
	if r.Delivered != 5 || r.Duplicates != 3 || r.Latency.Count() != 5 {
		t.Errorf("delivered %d, duplicates %d, latencies %d; want 5, 3, 5", r.Delivered, r.Duplicates, r.Latency.Count())
	}
	if q := r.Latency.Quantile(0.5); q < time.Second || q > 1001*time.Millisecond {
		t.Errorf("p50 = %v, want 1s", q)
	}
}
