// Package worker is the replay worker's role in its pod (see podrun): it loads its shard
// of the sample set, paces sends to the scenario's schedule (open model: falling behind
// never lowers the intended rate), produces with kafka-go, and measures acknowledgement
// latency from each record's intended send time, so that a slow broker shows as latency
// rather than as a lower offered load (no coordinated omission).
//
// Every record carries the run headers (runheaders) next to the sample's own headers,
// and its Kafka timestamp is its intended send time: a replayed record is new traffic,
// and the recorded timestamps, possibly months old, would fall out of time-based
// retention and windows at once.
package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/kafkaconn"
	"github.com/streamreplay/streamreplay/internal/pacing"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/internal/runheaders"
	"github.com/streamreplay/streamreplay/internal/samples"
)

// DefaultFlushTimeout bounds the final flush: records not acknowledged by then count as
// failed ("Timeout"), so a dead broker never holds a worker past its run.
const DefaultFlushTimeout = 10 * time.Second

// ClassTimeout is the error class of records never acknowledged before the end.
const ClassTimeout = "Timeout"

// Options tune a Worker; the zero value is usable.
type Options struct {
	Log logr.Logger
	// Registry receives the worker's metrics; nil registers none.
	Registry prometheus.Registerer
	// HTTPClient downloads a sample set given by URL; nil uses the samples package's.
	HTTPClient *http.Client
	// MaxSampleBytes limits the sample set's size; 0 uses the samples package's default.
	MaxSampleBytes int64
	// FlushTimeout bounds the final flush; default DefaultFlushTimeout.
	FlushTimeout time.Duration
	// Transport overrides the Kafka transport built from the plan (tests, benchmarks).
	Transport *kafka.Transport
	// BatchSize overrides the producer's records per batch; 0 derives it from the peak rate.
	BatchSize int
	// MaxInFlight overrides the bound on records handed to the writer and not yet
	// completed; 0 derives it from the record size (tests: a small bound makes a worker
	// fall behind as soon as the broker stops answering).
	MaxInFlight int64
}

// Worker is the podrun.Runner of a replay-worker pod. Prepare, then Run once.
type Worker struct {
	plan *plan.Plan
	opts Options
	log  logr.Logger

	// Set by Prepare.
	transport   *kafka.Transport
	sched       pacing.Schedule
	samples     []sample
	limit       int64 // records the run may send: the schedule's total, capped at the shard without loop (never lowers what is reported as scheduled)
	partitions  map[string]int
	batchSize   int
	batchBytes  int64
	maxInFlight int64
	cfg         producerConfig
	acks        kafka.RequiredAcks
	compression kafka.Compression
	headers     runHeaders
	recorded    bool            // Recorded partitioning: records go to their sample's partition
	encoded     []encodedSample // the samples as records, encoded once (producer_batch.go)

	st     stats
	series *results.Series // per interval, once Run returned (timeseries.go)
	probes *probes         // a Capacity search's probes (probe.go); nil otherwise
	// ackHook, when set (tests), sees the sequence numbers of every acknowledged batch
	// under the stats lock.
	ackHook func(seqs []int64)
}

// sample is one record of the shard, ready to become a kafka.Message.
type sample struct {
	key       []byte
	value     []byte
	headers   []kafka.Header // its own, then the run headers
	partition int32
	size      int64 // key, value and header bytes, the run headers' fixed part included
}

// runHeaders holds the run headers' constant values, shared by every record.
type runHeaders struct {
	runID, worker []byte
	fixedSize     int64 // bytes of the four keys and the two constant values
}

// New returns the worker of a plan. It registers the worker's metrics in opts.Registry.
func New(p *plan.Plan, opts Options) (*Worker, error) {
	if p == nil {
		return nil, errors.New("worker: no plan")
	}
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = DefaultFlushTimeout
	}
	w := &Worker{plan: p, opts: opts, log: opts.Log}
	w.st.init()
	if opts.Registry != nil {
		if err := opts.Registry.Register(newCollector(w)); err != nil {
			return nil, fmt.Errorf("registering the worker's metrics: %w", err)
		}
	}
	return w, nil
}

// Prepare loads this worker's shard of the samples, builds the schedule, and checks that
// the brokers answer and every topic to produce to exists. Its errors say what is wrong.
func (w *Worker) Prepare(ctx context.Context) error {
	p := w.plan
	if err := w.configure(); err != nil {
		return err
	}
	began := time.Now()
	set, err := samples.Load(ctx, samples.Source{
		Name: p.Samples.Name, Path: p.Samples.Path, URL: p.Samples.URL, Format: p.Samples.Format,
		MaxBytes: w.opts.MaxSampleBytes, Client: w.opts.HTTPClient,
	})
	if err != nil {
		return fmt.Errorf("loading the samples: %w", err)
	}
	for _, note := range set.Notes {
		w.log.Info("Sample set", "note", note)
	}
	shard := samples.Shard(set.Records, int(p.Workers), int(p.Index))
	w.log.Info("Samples loaded", "records", len(set.Records), "bytes", set.Bytes, "shard", len(shard),
		"seconds", time.Since(began).Seconds())

	if err := w.schedule(set.Records, shard); err != nil {
		return err
	}

	// The target topic is the only topic written to: a topic recorded in the samples (every
	// kcat -J line names one) is where the recording came from, often production, and
	// writing there would be a record sent where the user did not ask.
	if p.Target.Topic == "" {
		return errors.New("the plan names no target topic")
	}
	topics := []string{p.Target.Topic}
	if recorded := recordedTopics(shard, p.Target.Topic); len(recorded) > 0 {
		w.log.Info("Samples name their recorded topics; every record goes to the target topic", "target", p.Target.Topic,
			"recordedTopics", recorded)
	}
	if w.opts.Transport != nil {
		w.transport = w.opts.Transport
	} else {
		if w.transport, err = kafkaconn.Transport(p.Kafka); err != nil {
			return err
		}
		// Refresh the layout often enough that retries outlast a leader change, and only
		// for the topics produced to.
		w.transport.MetadataTTL = metadataTTL
		w.transport.MetadataTopics = topics
	}
	if w.partitions, err = kafkaconn.CheckTopics(ctx, p.Kafka, w.transport, topics...); err != nil {
		return err
	}
	if err := w.buildSamples(shard); err != nil {
		return err
	}
	w.encodeSamples()
	w.log.Info("Prepared", "topics", w.partitions, "scheduled", w.sched.Total(), "limit", w.limit,
		"batchSize", w.batchSize, "maxInFlight", w.maxInFlight)
	return nil
}

// configure reads the producer settings of the plan.
func (w *Worker) configure() error {
	t := w.plan.Target
	switch t.Acks {
	case "", streamreplayv1alpha1.AcksAll:
		w.acks = kafka.RequireAll
	case streamreplayv1alpha1.AcksLeader:
		w.acks = kafka.RequireOne
	case streamreplayv1alpha1.AcksNone:
		w.acks = kafka.RequireNone
	default:
		return fmt.Errorf("unknown acks %q; want %s, %s or %s", t.Acks,
			streamreplayv1alpha1.AcksAll, streamreplayv1alpha1.AcksLeader, streamreplayv1alpha1.AcksNone)
	}
	switch t.Compression {
	case "", streamreplayv1alpha1.CompressionNone:
		w.compression = 0
	case streamreplayv1alpha1.CompressionGzip:
		w.compression = kafka.Gzip
	case streamreplayv1alpha1.CompressionSnappy:
		w.compression = kafka.Snappy
	case streamreplayv1alpha1.CompressionLz4:
		w.compression = kafka.Lz4
	case streamreplayv1alpha1.CompressionZstd:
		w.compression = kafka.Zstd
	default:
		return fmt.Errorf("unknown compression %q; want %s, %s, %s, %s or %s", t.Compression,
			streamreplayv1alpha1.CompressionNone, streamreplayv1alpha1.CompressionGzip, streamreplayv1alpha1.CompressionSnappy,
			streamreplayv1alpha1.CompressionLz4, streamreplayv1alpha1.CompressionZstd)
	}
	switch t.Partitioning {
	case "", streamreplayv1alpha1.PartitioningKey:
		// murmur2 of the key; keyless records stick to a partition per batch (sendLoop).
		w.cfg.partitioner = byKey
	case streamreplayv1alpha1.PartitioningRecorded:
		w.cfg.partitioner = byRecorded
		w.recorded = true
	case streamreplayv1alpha1.PartitioningRoundRobin:
		w.cfg.partitioner = byRoundRobin
	default:
		return fmt.Errorf("unknown partitioning %q; want %s, %s or %s", t.Partitioning,
			streamreplayv1alpha1.PartitioningKey, streamreplayv1alpha1.PartitioningRecorded, streamreplayv1alpha1.PartitioningRoundRobin)
	}
	w.headers = runHeaders{
		runID:  []byte(w.plan.RunID),
		worker: runheaders.AppendInt(nil, int64(w.plan.Index)),
	}
	w.headers.fixedSize = int64(len(runheaders.RunID) + len(runheaders.Worker) + len(runheaders.Sequence) + len(runheaders.Intended) +
		len(w.headers.runID) + len(w.headers.worker))
	return w.configureProducer()
}

// schedule builds the pacing schedule of the shard of set and checks that the shard can
// serve it. A Replay schedule takes its origin and period from the whole set, which every
// worker loads, so that the workers' shards merge into the recording divided by speed.
func (w *Worker) schedule(set, shard []samples.Record) error {
	p := w.plan
	if isCapacity(p) {
		return w.prepareProbes(len(shard))
	}
	var recorded []time.Time
	var timeline pacing.Timeline
	if p.Scenario.Type == streamreplayv1alpha1.ScenarioReplay {
		all := make([]time.Time, len(set))
		for i := range set {
			if set[i].Timestamp.IsZero() {
				return fmt.Errorf("scenario Replay needs recorded timestamps, and sample %s has none", set[i].Source)
			}
			all[i] = set[i].Timestamp
		}
		timeline = pacing.TimelineOf(all)
		recorded = make([]time.Time, len(shard))
		for i := range shard {
			recorded[i] = shard[i].Timestamp
		}
	}
	sched, err := pacing.NewShard(p.Scenario, p.Duration.Duration, recorded, p.Samples.Loop, timeline)
	if err != nil {
		return fmt.Errorf("building the schedule: %w", err)
	}
	w.sched = sched
	w.limit = sched.Total()
	if len(shard) == 0 && w.limit > 0 {
		return fmt.Errorf("worker %d of %d has no samples but its share of the load is %d records: "+
			"every sample's key hashes to another worker; use a sample set with more distinct keys, or fewer workers",
			p.Index, p.Workers, w.limit)
	}
	if !p.Samples.Loop && int64(len(shard)) < w.limit {
		// loop: false sends every sample once, at the rate, until the samples or the
		// schedule run out; the report then says that the samples ran out.
		w.limit = int64(len(shard))
		w.log.Info("The shard has fewer samples than the schedule asks and loop is false: the worker will run out of samples",
			"samples", len(shard), "scheduled", sched.Total())
	}
	return nil
}

// buildSamples turns the shard into message templates and sizes the producer's batches.
func (w *Worker) buildSamples(shard []samples.Record) error {
	target := w.plan.Target.Topic
	w.samples = make([]sample, len(shard))
	var total, largest int64
	for i := range shard {
		r := &shard[i]
		s := &w.samples[i]
		s.key, s.value, s.partition = r.Key, r.Value, r.Partition
		s.size = int64(len(r.Key)+len(r.Value)) + w.headers.fixedSize
		// The sample's own headers, then the run headers; the send loop copies these and
		// fills in the last two values.
		s.headers = make([]kafka.Header, 0, len(r.Headers)+4)
		for _, h := range r.Headers {
			if isRunHeader(h.Key) {
				continue // recorded from an earlier run: this run's values replace them
			}
			s.headers = append(s.headers, kafka.Header{Key: h.Key, Value: h.Value})
			s.size += int64(len(h.Key) + len(h.Value))
		}
		s.headers = append(s.headers,
			kafka.Header{Key: runheaders.RunID, Value: w.headers.runID},
			kafka.Header{Key: runheaders.Worker, Value: w.headers.worker},
			kafka.Header{Key: runheaders.Sequence},
			kafka.Header{Key: runheaders.Intended},
		)
		if w.recorded {
			n := w.partitions[target]
			switch {
			case r.Partition < 0:
				return fmt.Errorf("partitioning Recorded needs each sample's partition, and sample %s has none", r.Source)
			case int(r.Partition) >= n:
				return fmt.Errorf("partitioning Recorded: sample %s was recorded on partition %d, but the target topic %q has %d partitions",
					r.Source, r.Partition, target, n)
			}
		}
		total += s.size
		largest = max(largest, s.size)
	}
	avg := int64(256)
	if len(shard) > 0 {
		avg = max(1, total/int64(len(shard)))
	}
	peak := peakRate(w.plan.Scenario, w.sched)
	// About 10 ms of the peak rate per batch: full batches at high rates, while at low
	// rates kafka-go's per-batch buffer (BatchSize messages, allocated per batch) stays small.
	w.batchSize = int(min(max(peak/100, minBatchSize), maxBatchSize))
	// A record larger than batchBytes goes alone in its batch: the broker judges it
	// (max.message.bytes).
	w.batchBytes = defaultBatchBytes
	w.applyBatchSettings()
	// Bound the records queued in the writer (kafka-go's queues are unbounded).
	w.maxInFlight = min(max(maxInFlightBytes/(avg+recordOverhead), minInFlight), maxInFlight)
	if w.opts.MaxInFlight > 0 {
		w.maxInFlight = w.opts.MaxInFlight
	}
	return nil
}

// recordedTopics lists, up to 5, the topics other than target that samples were recorded on.
func recordedTopics(shard []samples.Record, target string) []string {
	var out []string
	for i := range shard {
		if t := shard[i].Topic; t != "" && t != target && !slices.Contains(out, t) {
			if out = append(out, t); len(out) == 5 {
				break
			}
		}
	}
	return out
}

func isRunHeader(key string) bool {
	switch key {
	case runheaders.RunID, runheaders.Worker, runheaders.Sequence, runheaders.Intended:
		return true
	}
	return false
}

// peakRate is the highest rate of the scenario, records per second (an estimate for Replay).
func peakRate(sc plan.Scenario, sched pacing.Schedule) int64 {
	peak := max(sc.StartRate, sc.TargetRate)
	for _, st := range sc.Stages {
		peak = max(peak, st.TargetRate)
	}
	if sc.Type == streamreplayv1alpha1.ScenarioReplay {
		if secs := sched.Length().Seconds(); secs > 0 {
			peak = max(peak, int64(float64(sched.Total())/secs)*4) // replays are bursty
		}
	}
	return peak
}

// Progress returns the key/values of a progress line.
func (w *Worker) Progress() []any {
	return w.st.progress()
}

// Run sends this worker's share of the load from start until the schedule ends or ctx is
// cancelled, then flushes (bounded by FlushTimeout) and reports.
func (w *Worker) Run(ctx context.Context, start time.Time) (*results.Report, error) {
	if w.sched == nil {
		return nil, errors.New("worker: Run before a successful Prepare")
	}
	if w.probes != nil {
		return w.runProbes(ctx), nil
	}
	wr := w.newWriter()
	loop := sendLoop{w: w, writer: wr, start: start}
	sampler := w.startSeries(start)
	loop.run(ctx)

	flushed := w.flush(wr)
	w.st.finish()
	res := w.st.result(loop.scheduled)
	w.series = sampler.finish(w.sched, loop.scheduled, loop.scheduledFor)
	res.ScheduledFor = loop.scheduledFor
	res.Samples = int64(len(w.samples))
	res.SamplesExhausted = loop.exhausted
	report := &results.Report{Worker: res}
	w.log.Info("Run finished", "scheduled", res.Scheduled, "sent", res.Sent,
		"acked", res.Acked, "failed", res.Failed, "maxBehind", res.MaxBehind.String(),
		"samples", res.Samples, "samplesExhausted", res.SamplesExhausted, "flushed", flushed)
	return report, nil
}

// flush closes the writer, waiting at most FlushTimeout; it reports whether every record
// was completed (acknowledged or failed) in time.
func (w *Worker) flush(wr *producer) bool {
	closed := make(chan struct{})
	wr.close()
	go func() {
		defer close(closed)
		wr.wg.Wait()
	}()
	t := time.NewTimer(w.opts.FlushTimeout)
	defer t.Stop()
	select {
	case <-closed:
		wr.cancel()
		return true
	case <-t.C:
		// The senders may be retrying against a dead broker: stop them; what they
		// complete from now on is not counted.
		wr.cancel()
		w.log.Info("Flush timed out; unacknowledged records count as failed", "timeout", w.opts.FlushTimeout.String(),
			"pending", w.st.sent.Load()-w.st.completed.Load())
		return false
	}
}

// stats are the worker's measurements, shared by the send loop, the writer's completion
// callbacks, progress lines and metrics.
type stats struct {
	sent      atomic.Int64
	bytes     atomic.Int64
	completed atomic.Int64 // acked + failed, for the in-flight bound
	behind    atomic.Int64 // ns behind schedule at the last send
	maxBehind atomic.Int64
	runStart  atomic.Int64 // unix ns of the schedule's start; 0 before Run
	runEnded  atomic.Bool

	mu          sync.Mutex
	final       bool // after the flush: late completions are ignored
	acked       int64
	failed      int64
	errors      map[string]int64
	latency     *results.Histogram     // from the intended send time
	sendLatency *results.Histogram     // from the actual send time
	buckets     [numBuckets + 1]uint64 // the last counts values above every bound
	latencySum  float64                // seconds
	lastSent    int64                  // for the progress rate
	lastAt      time.Time
}

func (s *stats) init() {
	s.errors = map[string]int64{}
	s.latency = results.NewHistogram()
	s.sendLatency = results.NewHistogram()
}

// finish ends the measurement: records neither acknowledged nor failed are failed as
// Timeout, and completions that arrive later are ignored.
func (s *stats) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.final = true
	if pending := s.sent.Load() - s.acked - s.failed; pending > 0 {
		s.failed += pending
		s.errors[ClassTimeout] += pending
	}
}

func (s *stats) result(scheduled int64) *results.WorkerResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &results.WorkerResult{
		Scheduled: scheduled, Sent: s.sent.Load(), Acked: s.acked, Failed: s.failed, Bytes: s.bytes.Load(),
		MaxBehind: time.Duration(s.maxBehind.Load()), Latency: s.latency, SendLatency: s.sendLatency,
	}
	for class, n := range s.errors {
		if n > 0 {
			if r.Errors == nil {
				r.Errors = map[string]int64{}
			}
			r.Errors[class] = n
		}
	}
	return r
}

func (s *stats) progress() []any {
	now := time.Now()
	sent := s.sent.Load()
	s.mu.Lock()
	acked, failed, p99 := s.acked, s.failed, s.latency.Quantile(0.99)
	rate := 0.0
	if !s.lastAt.IsZero() {
		rate = float64(sent-s.lastSent) / now.Sub(s.lastAt).Seconds()
	}
	s.lastSent, s.lastAt = sent, now
	s.mu.Unlock()
	return []any{"sent", sent, "acked", acked, "failed", failed, "rate", int64(rate),
		"p99", p99.String(), "behind", time.Duration(s.behind.Load()).String()}
}
