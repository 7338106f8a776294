package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/protocol/produce"
	"github.com/segmentio/kafka-go/protocol/rawproduce"

	"github.com/streamreplay/streamreplay/internal/kafkaconn"
)

// Producer defaults. kafka-go's Writer defaults are wrong for a load generator (a 1 s
// linger, 10 attempts, unbounded queues); spec.target.producer overrides these.
const (
	// defaultLinger is how long a batch that is not full waits for more records; it adds
	// at most this much latency at low rates.
	defaultLinger     = 5 * time.Millisecond
	minBatchSize      = 100
	maxBatchSize      = 2048
	defaultBatchBytes = 1 << 20 // the broker's default max.message.bytes
	recordOverhead    = 64      // framing of a record in a batch, roughly
	// Attempts per batch: with backoffs of 100, 400, 900 ms and then 1 s, six attempts
	// outlast a metadata refresh (metadataTTL), so a leader change loses nothing.
	defaultMaxAttempts  = 6
	defaultWriteTimeout = 10 * time.Second
	backoffFirst        = 100 * time.Millisecond
	backoffLongest      = time.Second
	metadataTTL         = 2 * time.Second

	maxInFlightBytes = 32 << 20
	minInFlight      = 10_000
	maxInFlight      = 1_000_000
	// maxChunk is the most records the send loop produces between two looks at the clock.
	maxChunk = 1024
	// fullWait is how long the send loop waits when the in-flight bound is reached.
	fullWait = 200 * time.Microsecond
	// endGrace is how long after the run's length the loop still sends records that were
	// due before it: a late wake-up must not drop the last ones, but a worker far behind
	// must not run on and on.
	endGrace = time.Second
)

// partitioner is how the send loop picks a record's partition.
type partitioner int

const (
	// byKey: murmur2 of the key; keyless records stick to one partition until its batch
	// is full or lingered, then move to the next (the Java client's sticky partitioner).
	byKey partitioner = iota
	byRecorded
	byRoundRobin
)

// producerConfig is the producer's settings: the plan's, or the defaults.
type producerConfig struct {
	partitioner  partitioner
	linger       time.Duration
	maxAttempts  int
	writeTimeout time.Duration
}

// configureProducer reads spec.target.producer's linger, attempts and timeout; the
// batch limits depend on the samples (buildSamples). The API's bounds apply; these
// checks guard a hand-written plan.
func (w *Worker) configureProducer() error {
	c := producerConfig{linger: defaultLinger, maxAttempts: defaultMaxAttempts, writeTimeout: defaultWriteTimeout}
	if p := w.plan.Target.Producer; p != nil {
		if p.Linger != nil {
			c.linger = p.Linger.Duration
		}
		if p.MaxAttempts > 0 {
			c.maxAttempts = int(p.MaxAttempts)
		}
		if p.WriteTimeout.Duration > 0 {
			c.writeTimeout = p.WriteTimeout.Duration
		}
		if c.linger < 0 || p.BatchSize < 0 || p.BatchBytes < 0 || p.MaxAttempts < 0 || p.WriteTimeout.Duration < 0 {
			return fmt.Errorf("target.producer has a negative setting: %+v", *p)
		}
	}
	c.partitioner = w.cfg.partitioner
	w.cfg = c
	return nil
}

// applyBatchSettings lets spec.target.producer's batch limits replace the derived ones.
func (w *Worker) applyBatchSettings() {
	if p := w.plan.Target.Producer; p != nil {
		if p.BatchSize > 0 {
			w.batchSize = int(p.BatchSize)
		}
		if p.BatchBytes > 0 {
			w.batchBytes = p.BatchBytes
		}
	}
	if w.opts.BatchSize > 0 {
		w.batchSize = w.opts.BatchSize
	}
}

// producer sends the send loop's batches: one goroutine per partition sends that
// partition's batches one after the other, each until acknowledged or failed for good,
// so that retries never reorder a partition; the partitions' requests run side by side
// on the transport's connections to their leaders.
type producer struct {
	w         *Worker
	transport *kafka.Transport
	addr      net.Addr
	topic     string
	acks      int16
	codec     kafka.CompressionCodec
	ctx       context.Context
	cancel    context.CancelFunc
	parts     []partitionQueue
	wg        sync.WaitGroup
	// free keeps sent batches for reuse. Unlike a sync.Pool it survives garbage
	// collections: a batch's buffers are large and would be allocated again each time.
	free chan *batch
	// A new batch's room: the batch size, and the bytes of that many average records
	// (at most the batch bytes).
	batchRecords, batchBytes int
}

// partitionQueue is one partition's batches waiting to be sent.
type partitionQueue struct {
	mu     sync.Mutex
	queue  []*batch
	closed bool
	wake   chan struct{}
}

// newWriter starts the producer of a run (or of a probe).
func (w *Worker) newWriter() *producer {
	ctx, cancel := context.WithCancel(context.Background())
	p := &producer{
		w: w, transport: w.transport, addr: kafkaconn.Addr(w.plan.Kafka), topic: w.plan.Target.Topic,
		acks: int16(w.acks), codec: w.compression.Codec(), ctx: ctx, cancel: cancel,
		parts: make([]partitionQueue, w.partitions[w.plan.Target.Topic]),
	}
	var encoded int
	for i := range w.encoded {
		encoded += recordSize(&w.encoded[i], 20, 20)
	}
	p.batchRecords = w.batchSize
	if len(w.encoded) > 0 {
		p.batchBytes = int(min(int64(w.batchSize)*int64(encoded/len(w.encoded)), w.batchBytes))
	}
	// Two spare batches per partition, within the in-flight memory bound.
	p.free = make(chan *batch, min(2*len(p.parts)+4, max(4, maxInFlightBytes/max(p.batchBytes, 1))))
	for i := range p.parts {
		p.parts[i].wake = make(chan struct{}, 1)
		p.wg.Add(1)
		go p.sendPartition(&p.parts[i])
	}
	return p
}

func (p *producer) newBatch(partition int32, deadline int64) *batch {
	var b *batch
	select {
	case b = <-p.free:
	default:
		b = &batch{}
	}
	b.reset(partition, p.batchRecords, p.batchBytes)
	b.deadline = deadline
	return b
}

func (p *producer) enqueue(b *batch) {
	q := &p.parts[b.partition]
	q.mu.Lock()
	q.queue = append(q.queue, b)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// close lets the partition senders end once their queues are sent.
func (p *producer) close() {
	for i := range p.parts {
		q := &p.parts[i]
		q.mu.Lock()
		q.closed = true
		q.mu.Unlock()
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

func (p *producer) sendPartition(q *partitionQueue) {
	defer p.wg.Done()
	var queue []*batch
	for {
		q.mu.Lock()
		queue, q.queue = q.queue, queue[:0]
		closed := q.closed
		q.mu.Unlock()
		if len(queue) == 0 {
			if closed {
				return
			}
			<-q.wake
			continue
		}
		for i, b := range queue {
			p.send(b)
			queue[i] = nil
			select {
			case p.free <- b:
			default:
			}
		}
	}
}

// send produces b until it is acknowledged, fails for good, or runs out of attempts.
// A partition has one batch in flight at a time, so a retry cannot overtake or be
// overtaken by the partition's other batches: per-key order holds across retries.
func (p *producer) send(b *batch) {
	w := p.w
	if err := b.seal(p.codec); err != nil {
		w.fail(int64(b.n), err)
		return
	}
	for attempt := 1; ; attempt++ {
		err := p.produce(b)
		if err == nil {
			w.complete(b)
			return
		}
		if attempt >= w.cfg.maxAttempts || !retriable(err) || p.ctx.Err() != nil {
			w.fail(int64(b.n), err)
			return
		}
		if log := w.log.V(1); log.Enabled() {
			log.Info("Produce attempt failed; retrying", "partition", b.partition, "attempt", attempt, "error", err.Error())
		}
		t := time.NewTimer(backoff(attempt))
		select {
		case <-t.C:
		case <-p.ctx.Done():
			t.Stop()
		}
	}
}

// backoff is kafka-go's: the attempt squared times the first backoff, at most the longest.
func backoff(attempt int) time.Duration {
	return min(time.Duration(attempt*attempt)*backoffFirst, backoffLongest)
}

// produce sends b once, to its partition's leader as the transport's metadata knows it.
func (p *producer) produce(b *batch) error {
	timeout := p.w.cfg.writeTimeout
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	req := &rawproduce.Request{
		Acks:    p.acks,
		Timeout: int32(timeout / time.Millisecond),
		Topics: []rawproduce.RequestTopic{{Topic: p.topic, Partitions: []rawproduce.RequestPartition{{
			Partition: b.partition, RecordSet: protocol.RawRecordSet{Reader: bytes.NewReader(b.raw)},
		}}}},
	}
	resp, err := p.transport.RoundTrip(ctx, p.addr, req)
	if err != nil {
		return err
	}
	if resp == nil {
		return nil // acks None: the broker does not answer
	}
	r, ok := resp.(*produce.Response)
	if !ok {
		return fmt.Errorf("a produce request was answered with a %T", resp)
	}
	for _, t := range r.Topics {
		for _, part := range t.Partitions {
			if part.ErrorCode != 0 {
				return kafka.Error(part.ErrorCode)
			}
		}
	}
	return nil
}

// retriable says whether another attempt may succeed: a Kafka error the protocol calls
// retriable, or a connection, timeout or metadata condition; not a stop.
func retriable(err error) bool {
	var kerr kafka.Error
	switch {
	case errors.As(err, &kerr):
		return kerr.Temporary()
	case errors.Is(err, context.Canceled), errors.Is(err, io.ErrClosedPipe):
		return false
	}
	return true
}

// sendLoop is one run's open-model send loop.
type sendLoop struct {
	w      *Worker
	writer *producer
	start  time.Time
	// scheduled is what the schedule intended to send by the end, set by run: the whole
	// schedule, or until the stop. It is never lowered to what the samples allow.
	scheduled int64
	// scheduledFor is the part of the schedule that scheduled covers.
	scheduledFor time.Duration
	// exhausted is set when the run ended because the shard ran out (loop: false).
	exhausted bool

	// The batches being filled, per partition, and the earliest end of their lingers.
	open         []*batch
	openCount    int
	nextDeadline int64
	sticky       int32 // the keyless records' partition
	roundRobin   int32
	// sample is the next record's sample: the record's number modulo the shard.
	sample int
	// startNanos is the run's agreed start, unix ns.
	startNanos int64
}

// closeBatch hands partition's open batch to its sender; a keyless record goes to the
// next partition from now on when this was its partition.
func (l *sendLoop) closeBatch(part int32) {
	b := l.open[part]
	l.open[part] = nil
	l.openCount--
	l.writer.enqueue(b)
	if part == l.sticky {
		l.sticky = (l.sticky + 1) % int32(len(l.open))
	}
}

// closeLingered closes the batches whose linger ended by now, or every open batch with
// all set; it returns the earliest linger end of those left open.
func (l *sendLoop) closeLingered(now int64, all bool) {
	next := int64(math.MaxInt64)
	for i, b := range l.open {
		if b == nil {
			continue
		}
		if all || b.deadline <= now {
			l.closeBatch(int32(i))
		} else {
			next = min(next, b.deadline)
		}
	}
	l.nextDeadline = next
}

func (l *sendLoop) run(ctx context.Context) {
	w, st, sched := l.w, &l.w.st, l.w.sched
	length, limit := sched.Length(), w.limit
	// Elapsed time is measured on the monotonic clock from the agreed wall-clock start.
	base := time.Now()
	skew := base.Sub(l.start)
	l.startNanos = l.start.UnixNano()
	st.runStart.Store(l.startNanos)

	l.open = make([]*batch, len(l.writer.parts))
	l.nextDeadline = math.MaxInt64
	l.sticky = w.plan.Index % int32(len(l.open))

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	done := ctx.Done()
	// pause waits d, or until the context ends (false).
	pause := func(d time.Duration) bool {
		timer.Reset(d)
		select {
		case <-timer.C:
			return true
		case <-done:
			return false
		}
	}

	var n int64 // the next record
	var elapsed time.Duration
loop:
	for n < limit {
		select {
		case <-done:
			break loop
		default:
		}
		now := time.Now()
		elapsed = skew + now.Sub(base)
		if l.openCount > 0 && int64(elapsed) >= l.nextDeadline {
			l.closeLingered(int64(elapsed), false)
		}
		if elapsed >= length+endGrace {
			break // too far behind: the rest counts as scheduled but not sent
		}
		due := min(sched.Due(elapsed), limit)
		if due <= n {
			st.behind.Store(0)
			off, ok := sched.Offset(n)
			if !ok {
				break
			}
			wait := off - elapsed
			if l.openCount > 0 {
				wait = min(wait, time.Duration(l.nextDeadline)-elapsed)
			}
			if !pause(wait) {
				break
			}
			continue
		}
		room := w.maxInFlight - (st.sent.Load() - st.completed.Load())
		if room <= 0 {
			// The brokers are not keeping up: send what is open, and wait, falling behind
			// the schedule (measured).
			l.closeLingered(int64(elapsed), true)
			l.noteBehind(sched, n, elapsed)
			if !pause(fullWait) {
				break
			}
			continue
		}
		count := min(due-n, maxChunk, room)
		l.noteBehind(sched, n, elapsed)
		bytes := l.fill(n, count, int64(elapsed), now.UnixNano())
		st.sent.Add(count)
		st.bytes.Add(bytes)
		n += count
		if w.cfg.linger == 0 {
			l.closeLingered(int64(elapsed), true)
		}
	}
	l.closeLingered(0, true)
	elapsed = skew + time.Since(base)
	st.behind.Store(0)
	st.runEnded.Store(true)
	if n == limit {
		// Every record the run may send was handed over. When the shard ran out first
		// (loop: false), the user still asked for the whole schedule: that is what was
		// scheduled, and the report says why less was sent.
		l.scheduled, l.scheduledFor = sched.Total(), length
		l.exhausted = limit < sched.Total()
		return
	}
	// Stopped, or too far behind: what was due by then.
	l.scheduledFor = min(max(elapsed, 0), length)
	l.scheduled = sched.Due(l.scheduledFor)
}

// fill adds records n to n+count-1 to the open batches, handed over at handed (unix ns),
// elapsed into the run, closing each batch that fills up; it returns the bytes of their
// keys, values and headers.
func (l *sendLoop) fill(n, count, elapsed, handed int64) int64 {
	w := l.w
	np := int32(len(l.open))
	batchSize, batchBytes := int32(w.batchSize), int(w.batchBytes)
	var bytes int64
	for i := range count {
		cur := l.sample
		s, e := &w.samples[cur], &w.encoded[cur]
		if l.sample++; l.sample == len(w.samples) {
			l.sample = 0
		}
		var part int32
		switch w.cfg.partitioner {
		case byRecorded:
			part = s.partition
		case byRoundRobin:
			part = l.roundRobin
			l.roundRobin = (l.roundRobin + 1) % np
		default:
			if part = e.partition; part < 0 {
				part = l.sticky
			}
		}
		est := recordSize(e, 20, 20)
		if b := l.open[part]; b != nil && b.size()+est > batchBytes {
			l.closeBatch(part)
			if e.partition < 0 && w.cfg.partitioner == byKey {
				part = l.sticky
			}
		}
		b := l.open[part]
		if b == nil {
			b = l.writer.newBatch(part, elapsed+int64(w.cfg.linger))
			l.open[part] = b
			l.openCount++
			l.nextDeadline = min(l.nextDeadline, b.deadline)
		}
		off, _ := w.sched.Offset(n + i)
		bytes += s.size + int64(b.add(e, n+i, l.startNanos+int64(off), handed))
		if b.n >= batchSize || b.size()+est > batchBytes {
			l.closeBatch(part)
		}
	}
	return bytes
}

// noteBehind records how late record n is when it is handed to the writer.
func (l *sendLoop) noteBehind(sched interface {
	Offset(int64) (time.Duration, bool)
}, n int64, elapsed time.Duration) {
	off, _ := sched.Offset(n)
	behind := max(0, int64(elapsed-off))
	st := &l.w.st
	st.behind.Store(behind)
	if behind > st.maxBehind.Load() {
		st.maxBehind.Store(behind) // only the send loop writes it
	}
}

// complete counts b's records as acknowledged, with their latencies.
func (w *Worker) complete(b *batch) {
	now := time.Now().UnixNano()
	st := &w.st
	n := int64(b.n)
	st.mu.Lock()
	if !st.final {
		for i := range b.n {
			st.observe(time.Duration(now-b.intended[i]), time.Duration(now-b.handed[i]))
		}
		st.acked += n
		if w.ackHook != nil {
			w.ackHook(b.seqs)
		}
	}
	st.mu.Unlock()
	st.completed.Add(n)
}

// fail counts n records as failed by err's class.
func (w *Worker) fail(n int64, err error) {
	class := errorClass(err)
	st := &w.st
	st.mu.Lock()
	if !st.final {
		st.failed += n
		st.errors[class] += n
	}
	st.mu.Unlock()
	st.completed.Add(n)
}

// observe records one acknowledgement's latencies; st.mu is held.
func (s *stats) observe(fromIntended, fromSend time.Duration) {
	s.latency.Record(fromIntended)
	s.sendLatency.Record(fromSend)
	i := 0
	for i < len(latencyBuckets) && fromIntended > latencyBuckets[i] {
		i++
	}
	s.buckets[i]++
	s.latencySum += fromIntended.Seconds()
}

// errorClass names an error briefly for the report: a Kafka error code's name
// ("NotLeaderForPartition"), a common network condition, or the Go error type.
func errorClass(err error) string {
	var kerr kafka.Error
	var tooLarge kafka.MessageTooLargeError
	var netErr net.Error
	switch {
	case errors.As(err, &kerr):
		return strings.ReplaceAll(kerr.Title(), " ", "")
	case errors.As(err, &tooLarge):
		return "MessageTooLarge"
	case errors.Is(err, protocol.ErrNoLeader): // the transport's metadata knows no leader yet
		return strings.ReplaceAll(kafka.LeaderNotAvailable.Title(), " ", "")
	case errors.Is(err, protocol.ErrNoTopic), errors.Is(err, protocol.ErrNoPartition):
		return strings.ReplaceAll(kafka.UnknownTopicOrPartition.Title(), " ", "")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return ClassTimeout
	case errors.Is(err, context.Canceled):
		return "Canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "ConnectionRefused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "ConnectionClosed"
	case errors.Is(err, io.ErrClosedPipe):
		return "WriterClosed"
	case errors.As(err, &netErr) && netErr.Timeout():
		return ClassTimeout
	}
	return strings.TrimPrefix(reflect.TypeOf(err).String(), "*")
}
