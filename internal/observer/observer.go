package observer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"k8s.io/apimachinery/pkg/util/wait"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/kafkaconn"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
)

const (
	// DefaultLagInterval is how often the consumer group's lag is sampled.
	DefaultLagInterval = 2 * time.Second
	// StartSkew is how far before the start the topics are read: a worker
	// whose clock is behind the broker's dates its first records before the
	// start. Records of other runs from that margin are not counted.
	StartSkew = 10 * time.Second
	// prepareTimeout bounds Prepare when its context has no deadline.
	prepareTimeout = 30 * time.Second
	// finalSampleTimeout bounds the lag sample taken at the very end.
	finalSampleTimeout = 5 * time.Second
)

// startBackoff paces the attempts at finding the start offsets: three, a second apart.
var startBackoff = wait.Backoff{Steps: 3, Duration: time.Second}

// Options configure an Observer.
type Options struct {
	// Plan is the observer pod's plan; it needs a DLQ or a pipeline section.
	Plan *plan.Plan
	// Pod is the pod's name in the report (podrun sets it anyway).
	Pod string
	// Transport carries the admin requests (metadata, offsets, group
	// offsets); Dialer the partition readers' connections. Both default to
	// kafkaconn's, with the plan's TLS and SASL settings.
	Transport *kafka.Transport
	Dialer    *kafka.Dialer
	Log       logr.Logger
	// Registry receives the observer's metrics; nil registers nothing.
	Registry prometheus.Registerer
	// LagInterval is how often the lag is sampled; 0 means DefaultLagInterval.
	LagInterval time.Duration
}

// Observer watches the pipeline under test during one run. It implements
// podrun.Runner: Prepare, then Run once; Progress at any time.
type Observer struct {
	plan        *plan.Plan
	pod         string
	log         logr.Logger
	client      *kafka.Client
	transport   *kafka.Transport
	dialer      *kafka.Dialer
	lagInterval time.Duration
	metrics     *metrics
	early       *earlyWatch // nil unless the run stops early on the lag

	// Topics and their partitions, found by Prepare.
	dlqTopic, outputTopic, inputTopic string
	partitions                        map[string][]int

	dlq    *dlqTally     // nil without a DLQ
	e2e    *e2eTally     // nil without an output topic
	lag    *lagTally     // nil without a consumer group
	probes *probeWindows // a Capacity search's probe windows (probe.go); nil otherwise
	phase  atomic.Value

	sampler atomic.Value    // *seriesSampler while Run runs (timeseries.go)
	series  *results.Series // per interval, once Run returned
}

// New checks the plan and builds an Observer; it does not reach Kafka yet.
func New(o Options) (*Observer, error) {
	p := o.Plan
	switch {
	case p == nil:
		return nil, errors.New("observer: no plan")
	case p.DLQ == nil && (p.Pipeline == nil || p.Pipeline.OutputTopic == "" && p.Pipeline.ConsumerGroup == ""):
		return nil, errors.New("observer: the plan has neither a dead-letter queue nor a pipeline output topic or consumer group to watch")
	case p.DLQ != nil && p.DLQ.Topic == "":
		return nil, errors.New("observer: the plan's dead-letter queue has no topic")
	case p.Pipeline != nil && p.Pipeline.ConsumerGroup != "" && p.Pipeline.InputTopic == "":
		return nil, errors.New("observer: the plan names the pipeline's consumer group but not its input topic")
	}
	if o.Transport == nil {
		t, err := kafkaconn.Transport(p.Kafka)
		if err != nil {
			return nil, fmt.Errorf("observer: %w", err)
		}
		o.Transport = t
	}
	if o.Dialer == nil {
		d, err := kafkaconn.Dialer(p.Kafka)
		if err != nil {
			return nil, fmt.Errorf("observer: %w", err)
		}
		o.Dialer = d
	}
	if o.LagInterval <= 0 {
		o.LagInterval = DefaultLagInterval
	}
	m, err := newMetrics(o.Registry)
	if err != nil {
		return nil, fmt.Errorf("observer: registering metrics: %w", err)
	}
	obs := &Observer{
		plan: p, pod: o.Pod, log: o.Log, transport: o.Transport, dialer: o.Dialer,
		client:      &kafka.Client{Addr: kafka.TCP(p.Kafka.BootstrapServers...), Transport: o.Transport, Timeout: 10 * time.Second},
		lagInterval: o.LagInterval, metrics: m,
	}
	if p.DLQ != nil {
		obs.dlqTopic = p.DLQ.Topic
		obs.dlq = newDLQTally(p.RunID, p.DLQ, m)
	}
	if p.Pipeline != nil {
		if p.Pipeline.OutputTopic != "" {
			obs.outputTopic = p.Pipeline.OutputTopic
			obs.e2e = newE2ETally(p.RunID, m, o.Log)
			if es := p.EarlyStop; es != nil && es.MaxEndToEndP99 != nil {
				obs.e2e.overLimit = es.MaxEndToEndP99.Duration
			}
		}
		if p.Pipeline.ConsumerGroup != "" {
			obs.inputTopic = p.Pipeline.InputTopic
			obs.lag = &lagTally{}
			obs.early = newEarlyWatch(p.EarlyStop, o.Log)
		}
	}
	if p.Scenario.Type == streamreplayv1alpha1.ScenarioCapacity {
		obs.probes = &probeWindows{}
		// A probe's slope needs samples: one a second gives a 10 s hold about 7 after its settle.
		obs.lagInterval = min(obs.lagInterval, time.Second)
		if obs.e2e != nil {
			obs.e2e.probes = obs.probes
		}
	}
	obs.phase.Store("preparing")
	return obs, nil
}

// Prepare checks that the topics the observer reads exist and that the
// pipeline's consumer group can be described. Its errors name the brokers
// or the topics, for the pod's termination message.
func (o *Observer) Prepare(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, prepareTimeout)
		defer cancel()
	}
	var topics, roles []string
	for _, t := range []struct{ topic, role string }{
		{o.dlqTopic, "dead-letter"}, {o.outputTopic, "output"}, {o.inputTopic, "input"},
	} {
		if t.topic != "" {
			topics = append(topics, t.topic)
			roles = append(roles, fmt.Sprintf("%s topic %q", t.role, t.topic))
		}
	}
	counts, err := kafkaconn.CheckTopics(ctx, o.plan.Kafka, o.transport, topics...)
	if err != nil {
		return fmt.Errorf("checking the %s on the Kafka brokers %s: %w", strings.Join(roles, ", "), o.brokers(), err)
	}
	parts := make(map[string][]int, len(counts))
	for t, n := range counts {
		for p := range n { // Kafka numbers partitions 0 to n-1
			parts[t] = append(parts[t], p)
		}
	}
	o.partitions = parts
	if o.lag != nil {
		group := o.plan.Pipeline.ConsumerGroup
		resp, err := o.client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err != nil {
			return fmt.Errorf("cannot describe the pipeline's consumer group %q on the Kafka brokers %s: %w", group, o.brokers(), err)
		}
		for _, g := range resp.Groups {
			if g.Error != nil {
				return fmt.Errorf("cannot describe the pipeline's consumer group %q on the Kafka brokers %s: %w", group, o.brokers(), g.Error)
			}
			// A group that does not exist yet is "Dead": the pipeline may start with the run.
			o.log.Info("Pipeline consumer group", "group", group, "state", g.GroupState, "members", len(g.Members))
		}
	}
	o.log.Info("Observer ready", "dlqTopic", o.dlqTopic, "outputTopic", o.outputTopic, "inputTopic", o.inputTopic,
		"partitions", len(parts[o.dlqTopic])+len(parts[o.outputTopic]))
	o.phase.Store("ready")
	return nil
}

// Run reads from the start for the run's duration and drain, then reports.
// When ctx ends first (a stop request), it reports what it saw, marked
// Stopped. It returns an error only when it could not begin measuring.
func (o *Observer) Run(ctx context.Context, start time.Time) (*results.Report, error) {
	if o.partitions == nil {
		return nil, errors.New("observer: Run before a successful Prepare")
	}
	defer o.transport.CloseIdleConnections()
	sleepCtx(ctx, time.Until(start)) // podrun calls at the start time; a direct caller may call earlier
	began := time.Now()
	runEnd := start.Add(o.plan.Duration.Duration)
	drainEnd := runEnd.Add(o.plan.Drain.Duration)
	readCtx, cancel := context.WithDeadline(ctx, drainEnd)
	defer cancel()

	offsets, err := o.windowOffsets(ctx, readCtx, start.Add(-StartSkew))
	if err != nil {
		return nil, err
	}

	o.phase.Store("running")
	sampler := o.startSeries(start)
	var wg sync.WaitGroup
	read := func(topic string, handle func(*kafka.Message, time.Time)) {
		for i, p := range o.partitions[topic] {
			if offsets[topic] == nil {
				return
			}
			off := offsets[topic][i]
			wg.Go(func() { o.readPartition(readCtx, topic, p, off, handle) })
		}
	}
	if o.dlq != nil {
		o.dlq.start = start
		read(o.dlqTopic, o.dlq.add)
	}
	if o.e2e != nil {
		o.e2e.start = start
		read(o.outputTopic, o.e2e.add)
	}
	if o.lag != nil && offsets[o.inputTopic] != nil {
		o.early.begin(start)
		wg.Go(func() { o.sampleLag(readCtx, o.partitions[o.inputTopic], offsets[o.inputTopic]) })
	}
	phaseTimer := time.AfterFunc(time.Until(runEnd), func() { o.phase.Store("draining") })
	wg.Wait()

	phaseTimer.Stop()
	o.series = sampler.finish()
	o.phase.Store("done")
	rep := o.report(start, began, ctx.Err() != nil)
	o.log.Info("Observer finished", o.Progress()...)
	return rep, nil
}

// windowOffsets finds where each topic's window begins: the same point in
// time for everyone, however late this pod began. When ctx ends first (a
// stop before anything was read), the topics it did not reach are left out.
func (o *Observer) windowOffsets(ctx, readCtx context.Context, from time.Time) (map[string][]int64, error) {
	offsets := map[string][]int64{}
	for _, t := range []string{o.dlqTopic, o.outputTopic, o.inputTopic} {
		if t == "" || offsets[t] != nil {
			continue
		}
		// A leader moving or a broker restarting is no reason to lose the run: try twice more.
		var offs []int64
		err := readCtx.Err() // stays when stopped before the first attempt
		attempt := 0
		_ = wait.ExponentialBackoffWithContext(readCtx, startBackoff, func(context.Context) (bool, error) {
			if attempt++; attempt > 1 {
				o.log.Error(err, "Finding the run's start offsets failed, retrying", "topic", t, "attempt", attempt-1)
			}
			offs, err = o.startOffsets(readCtx, t, o.partitions[t], from)
			return err == nil, nil // err holds the last failure
		})
		if err != nil {
			if ctx.Err() == nil {
				return nil, fmt.Errorf("finding the run's start offsets on the Kafka brokers %s: %w", o.brokers(), err)
			}
			break // stopped: nothing more to read
		}
		offsets[t] = offs
	}
	return offsets, nil
}

// report is what the observer saw, for the termination message.
func (o *Observer) report(start, began time.Time, stopped bool) *results.Report {
	end := time.Now()
	if end.Before(start) { // stopped while waiting for the start
		end = start
	}
	rep := &results.Report{
		Version: results.FormatVersion,
		Role:    results.RoleObserver,
		Pod:     o.pod,
		RunID:   o.plan.RunID,
		Start:   start,
		End:     end,
		Stopped: stopped,
	}
	if late := began.Sub(start); late > 0 {
		rep.LateStart = late
	}
	obs := &results.ObserverResult{}
	if o.dlq != nil {
		obs.DLQ = o.dlq.result()
	}
	if o.e2e != nil {
		obs.EndToEnd = o.e2e.result()
		if c := o.e2e.counts(); c.delivered == 0 && c.headerless > 0 {
			o.log.Info("No output record carried this run's headers: the pipeline drops them, so delivered is 0 and end-to-end latency is not measured",
				"recordsWithoutHeaders", c.headerless)
		}
	}
	if o.lag != nil {
		obs.Lag = o.lag.result()
	}
	rep.Observer = obs
	return rep
}

// Progress gives key/value pairs for a progress log line.
func (o *Observer) Progress() []any {
	kv := []any{"phase", o.phase.Load()}
	if o.dlq != nil {
		records, other := o.dlq.counts()
		kv = append(kv, "dlqRecords", records, "dlqOtherRecords", other)
	}
	if o.e2e != nil {
		c := o.e2e.counts()
		kv = append(kv, "delivered", c.delivered, "duplicates", c.duplicates,
			"e2eP50", c.p50.String(), "e2eP99", c.p99.String())
		if c.delivered == 0 && c.headerless > 0 {
			kv = append(kv, "outputRecordsWithoutRunHeaders", c.headerless)
		}
	}
	if o.lag != nil {
		r := o.lag.result()
		kv = append(kv, "lag", r.Final, "maxLag", r.Max)
	}
	return kv
}

// lagTally keeps the lag samples' figures.
type lagTally struct {
	mu         sync.Mutex
	max        int64
	last       int64
	samples    int
	lastFailed bool // the latest attempt failed: last is older than the end
}

func (l *lagTally) record(lag int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.max = max(l.max, lag)
	l.last = lag
	l.samples++
	l.lastFailed = false
}

// fail notes an attempt that measured nothing.
func (l *lagTally) fail() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastFailed = true
}

// result reports Drained when the last sample, taken at the end of the drain, found no
// lag. A lag of 0 measured earlier does not count when the last attempt failed: the
// pipeline may have fallen behind since.
func (l *lagTally) result() *results.LagResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	return &results.LagResult{Max: l.max, Final: l.last, Drained: l.samples > 0 && !l.lastFailed && l.last == 0, Samples: l.samples}
}

// sampleLag samples every lagInterval until ctx ends, then once more, so the
// last sample tells whether the pipeline drained.
func (o *Observer) sampleLag(ctx context.Context, partitions []int, startOffsets []int64) {
	sample := func(ctx context.Context) {
		lag, err := o.lagSample(ctx, partitions, startOffsets)
		o.probes.lagSampled(time.Now(), lag, err == nil)
		if err != nil {
			o.lag.fail()
			o.early.observeLag(time.Now(), nil)
			if ctx.Err() == nil {
				o.log.Error(err, "Sampling the pipeline's consumer lag failed")
			}
			return
		}
		o.lag.record(lag)
		o.metrics.lag.Set(float64(lag))
		o.early.observeLag(time.Now(), &lag)
	}
	t := time.NewTicker(o.lagInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalSampleTimeout)
			sample(final)
			cancel()
			return
		case <-t.C:
			sample(ctx)
		}
	}
}

// sleepCtx waits for d or the end of ctx, and tells whether ctx is still alive.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	return ctx.Err() == nil
}
