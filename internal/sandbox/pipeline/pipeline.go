// Package pipeline is the example pipeline under test of the sandbox and the
// end-to-end tests: a small stand-in for a team's real-time CDC pipeline, with a
// Kafka Connect-style dead-letter topic and an optional rate cap (docs/design.md,
// "The example pipeline").
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/segmentio/kafka-go"
	"golang.org/x/time/rate"
)

// Defaults of the optional Config fields.
const (
	DefaultBatchSize      = 500
	DefaultCommitInterval = 200 * time.Millisecond
)

const (
	// defaultBatchTimeout is how long the Writer waits for more records of a partition
	// before it sends them; kafka-go's default of 1 s would delay every batch.
	defaultBatchTimeout = 2 * time.Millisecond
	// defaultMaxWait bounds a fetch's long poll when the input is idle (a broker answers
	// as soon as records arrive). kafka-go also gives the response a quarter of it to
	// arrive (at most 1 s), so a smaller value fails on a slow broker.
	defaultMaxWait = time.Second
	// defaultMaxBytes is the most a fetch returns, a few hundred change events.
	defaultMaxBytes = 2 << 20
	progressEvery   = 10 * time.Second
)

// Config of the example pipeline. Brokers, the three topics and Group are required.
type Config struct {
	Brokers     []string
	InputTopic  string
	OutputTopic string
	DLQTopic    string
	// Group is the consumer group; its committed offsets give the pipeline's lag. It also
	// stands for the connector's name in the dead letters' __connect.errors.connector.name.
	Group string
	// MaxRate caps the records processed per second (a token bucket); 0 means no cap.
	MaxRate float64
	// Delay is processing time added to every record: each record leaves at least
	// Delay after it was fetched. Records are processed in batches, so Delay adds
	// latency without capping the throughput as much as MaxRate does.
	Delay time.Duration
	// BatchSize is the most records processed, written and committed together; DefaultBatchSize when 0.
	BatchSize int
	// CommitInterval is how often the consumed offsets are committed; DefaultCommitInterval when 0.
	CommitInterval time.Duration
	// Transport is the Writer's transport (TLS, SASL); kafka-go's default when nil.
	Transport kafka.RoundTripper
	// Dialer is the Reader's dialer (TLS, SASL); kafka-go's default when nil.
	Dialer *kafka.Dialer
}

func (c *Config) validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("no brokers"))
	}
	for _, t := range []struct{ name, value string }{
		{"input topic", c.InputTopic}, {"output topic", c.OutputTopic},
		{"DLQ topic", c.DLQTopic}, {"consumer group", c.Group},
	} {
		if t.value == "" {
			errs = append(errs, fmt.Errorf("no %s", t.name))
		}
	}
	if c.InputTopic != "" && (c.InputTopic == c.OutputTopic || c.InputTopic == c.DLQTopic) {
		errs = append(errs, fmt.Errorf("the input topic %q is also an output", c.InputTopic))
	}
	if c.MaxRate < 0 || math.IsNaN(c.MaxRate) || math.IsInf(c.MaxRate, 0) {
		errs = append(errs, fmt.Errorf("max rate %v: want a finite number >= 0", c.MaxRate))
	}
	if c.Delay < 0 || c.BatchSize < 0 || c.CommitInterval < 0 {
		errs = append(errs, errors.New("delay, batch size and commit interval must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("pipeline config: %w", err)
	}
	return nil
}

// Stats are the pipeline's counters.
type Stats struct {
	// Processed counts the input records handled: Delivered + DeadLettered.
	Processed int64
	// Delivered counts the records written to the output topic, tombstones included.
	Delivered int64
	// Tombstones counts the tombstones passed through (part of Delivered).
	Tombstones int64
	// DeadLettered counts the records written to the DLQ topic.
	DeadLettered int64
	// DeadLetteredBy splits DeadLettered by reason.
	DeadLetteredBy map[Reason]int64
	// DeadLetteredByClass splits DeadLettered by the class the observer reads from the
	// Kafka Connect headers: "<exception class> (<stage>)".
	DeadLetteredByClass map[string]int64
}

// Pipeline is one example pipeline; Run it once.
type Pipeline struct {
	cfg Config
	log logr.Logger

	processed, delivered, tombstones, dead atomic.Int64

	mu       sync.Mutex
	byReason map[Reason]int64
	byClass  map[string]int64
}

// New checks cfg and returns a pipeline ready to Run.
func New(cfg Config, log logr.Logger) (*Pipeline, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.CommitInterval == 0 {
		cfg.CommitInterval = DefaultCommitInterval
	}
	return &Pipeline{cfg: cfg, log: log, byReason: map[Reason]int64{}, byClass: map[string]int64{}}, nil
}

// Stats returns a snapshot of the counters; safe to call while Run runs.
func (p *Pipeline) Stats() Stats {
	s := Stats{
		Processed:    p.processed.Load(),
		Delivered:    p.delivered.Load(),
		Tombstones:   p.tombstones.Load(),
		DeadLettered: p.dead.Load(),
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s.DeadLetteredBy = maps.Clone(p.byReason)
	s.DeadLetteredByClass = maps.Clone(p.byClass)
	return s
}

// fetched is one result of the fetching goroutine.
type fetched struct {
	msg kafka.Message
	err error
}

// Run consumes, transforms and forwards records until ctx ends, then commits
// what was written and returns nil. It returns an error when Kafka fails
// beyond kafka-go's retries; what was not committed is then processed again
// by the group's next consumer.
func (p *Pipeline) Run(ctx context.Context) error {
	cfg := &p.cfg
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        cfg.Brokers,
		GroupID:        cfg.Group,
		Topic:          cfg.InputTopic,
		Dialer:         cfg.Dialer,
		QueueCapacity:  cfg.BatchSize,
		MinBytes:       1,
		MaxBytes:       defaultMaxBytes,
		MaxWait:        defaultMaxWait,
		CommitInterval: cfg.CommitInterval, // asynchronous commits, flushed on Close
		StartOffset:    kafka.FirstOffset,  // a new group starts at the beginning of the input
		// A group joins within a second rather than kafka-go's 5 s back-off: tests and the demo start it often.
		JoinGroupBackoff:  500 * time.Millisecond,
		HeartbeatInterval: time.Second,
		ErrorLogger:       kafka.LoggerFunc(p.kafkaError),
	})
	w := &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Balancer:     &kafka.Murmur2Balancer{}, // the same partition for a key as the Java client
		RequiredAcks: kafka.RequireAll,
		BatchSize:    cfg.BatchSize, // a batch's records of one partition go in one produce request
		BatchTimeout: defaultBatchTimeout,
		Transport:    cfg.Transport,
		ErrorLogger:  kafka.LoggerFunc(p.kafkaError),
	}

	fetchCtx, cancel := context.WithCancel(ctx)
	results := make(chan fetched, cfg.BatchSize)
	var wg sync.WaitGroup
	wg.Go(func() { fetch(fetchCtx, r, results) })
	defer func() {
		cancel()
		wg.Wait()
		if err := w.Close(); err != nil {
			p.log.Error(err, "closing the writer failed")
		}
		if err := r.Close(); err != nil { // commits the offsets still pending
			p.log.Error(err, "closing the reader failed")
		}
		p.log.Info("pipeline stopped", "stats", p.Stats())
	}()
	p.log.Info("pipeline started", "input", cfg.InputTopic, "output", cfg.OutputTopic,
		"dlq", cfg.DLQTopic, "group", cfg.Group, "maxRate", cfg.MaxRate, "delay", cfg.Delay)

	err := p.loop(ctx, r, w, results)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// fetch feeds out with the reader's messages until ctx ends or the reader fails.
func fetch(ctx context.Context, r *kafka.Reader, out chan<- fetched) {
	for {
		m, err := r.FetchMessage(ctx)
		select {
		case out <- fetched{msg: m, err: err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// loop takes batches of fetched records: it blocks for the first, then takes
// what is already fetched, as far as the rate limit allows.
func (p *Pipeline) loop(ctx context.Context, r *kafka.Reader, w *kafka.Writer, in <-chan fetched) error {
	var lim *rate.Limiter
	if p.cfg.MaxRate > 0 {
		// A burst of a twentieth of a second's worth keeps batches small and the rate even.
		burst := max(1, int(p.cfg.MaxRate/20))
		lim = rate.NewLimiter(rate.Limit(p.cfg.MaxRate), burst)
	}
	batch := make([]kafka.Message, 0, p.cfg.BatchSize)
	var pending *fetched // taken from in, but not allowed by the limiter yet
	lastProgress := time.Now()
	for {
		var first fetched
		if pending != nil {
			first, pending = *pending, nil
		} else {
			select {
			case first = <-in:
			case <-ctx.Done():
				return nil
			}
		}
		if first.err != nil {
			return fmt.Errorf("fetching from %s: %w", p.cfg.InputTopic, first.err)
		}
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				return nil //nolint:nilerr // the context ended: a normal stop
			}
		}
		batch = append(batch[:0], first.msg)
	fill:
		for len(batch) < p.cfg.BatchSize {
			select {
			case f := <-in:
				if f.err != nil || (lim != nil && !lim.Allow()) {
					pending = &f
					break fill
				}
				batch = append(batch, f.msg)
			default:
				break fill
			}
		}
		if p.cfg.Delay > 0 {
			if err := sleep(ctx, p.cfg.Delay); err != nil {
				return nil //nolint:nilerr // the context ended: a normal stop
			}
		}
		if err := p.process(ctx, r, w, batch); err != nil {
			return err
		}
		if time.Since(lastProgress) >= progressEvery {
			lastProgress = time.Now()
			p.log.Info("pipeline progress", "stats", p.Stats())
		}
	}
}

// process transforms a batch, writes its output and dead letters in one call
// (so that the records of a key keep their order), then commits its offsets.
func (p *Pipeline) process(ctx context.Context, r *kafka.Reader, w *kafka.Writer, batch []kafka.Message) error {
	out := make([]kafka.Message, 0, len(batch))
	var tombstones int64
	var failures []*Failure
	now := time.Now()
	for i := range batch {
		m := &batch[i]
		if len(m.Value) == 0 {
			tombstones++
			out = append(out, kafka.Message{Topic: p.cfg.OutputTopic, Key: m.Key, Headers: m.Headers})
			continue
		}
		value, err := Transform(m.Value, now)
		if err == nil {
			out = append(out, kafka.Message{Topic: p.cfg.OutputTopic, Key: m.Key, Value: value, Headers: m.Headers})
			continue
		}
		var f *Failure
		if !errors.As(err, &f) {
			return fmt.Errorf("transforming %s/%d/%d: %w", m.Topic, m.Partition, m.Offset, err)
		}
		failures = append(failures, f)
		out = append(out, kafka.Message{
			Topic: p.cfg.DLQTopic, Key: m.Key, Value: m.Value,
			Headers: ConnectErrorHeaders(m, f, p.cfg.Group),
		})
		if p.log.V(1).Enabled() {
			p.log.V(1).Info("record dead-lettered", "reason", f.Reason, "topic", m.Topic,
				"partition", m.Partition, "offset", m.Offset, "error", f.Message)
		}
	}
	if err := w.WriteMessages(ctx, out...); err != nil {
		if ctx.Err() != nil {
			return nil //nolint:nilerr // the context ended: a normal stop, the batch is not committed
		}
		return fmt.Errorf("writing %d records: %w", len(out), err)
	}
	if err := r.CommitMessages(ctx, batch...); err != nil {
		if ctx.Err() != nil {
			return nil //nolint:nilerr // the context ended: a normal stop
		}
		return fmt.Errorf("committing %d offsets: %w", len(batch), err)
	}
	n := int64(len(batch))
	dead := int64(len(failures))
	p.delivered.Add(n - dead)
	p.tombstones.Add(tombstones)
	p.dead.Add(dead)
	if dead > 0 {
		p.mu.Lock()
		for _, f := range failures {
			p.byReason[f.Reason]++
			p.byClass[f.Class()]++
		}
		p.mu.Unlock()
	}
	p.processed.Add(n)
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// kafkaError logs what kafka-go reports through its ErrorLogger.
func (p *Pipeline) kafkaError(format string, args ...any) {
	p.log.Info("kafka client error", "detail", fmt.Sprintf(format, args...))
}

// String lists the counters, for logs.
func (s Stats) String() string {
	reasons := make([]string, 0, len(s.DeadLetteredBy))
	for r := range s.DeadLetteredBy {
		reasons = append(reasons, string(r))
	}
	sort.Strings(reasons)
	b := fmt.Appendf(nil, "processed=%d delivered=%d tombstones=%d deadLettered=%d",
		s.Processed, s.Delivered, s.Tombstones, s.DeadLettered)
	for _, r := range reasons {
		b = fmt.Appendf(b, " %s=%d", r, s.DeadLetteredBy[Reason(r)])
	}
	return string(b)
}
