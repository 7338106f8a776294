package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/streamreplay/streamreplay/internal/kafkaconn"
	"github.com/streamreplay/streamreplay/internal/runheaders"
)

// Producer tuning. kafka-go's defaults are wrong for a load generator: a 1 s BatchTimeout,
// 10 attempts and unbounded queues.
const (
	// batchTimeout is the linger of a partially filled batch; it adds at most this much
	// latency at low rates.
	batchTimeout      = 5 * time.Millisecond
	minBatchSize      = 100
	maxBatchSize      = 2048
	defaultBatchBytes = 1 << 20 // the broker's default max.message.bytes
	recordOverhead    = 64      // framing of a record in a batch, roughly
	// Attempts per batch: with backoffs of 100, 400, 900 ms and then 1 s, six attempts
	// outlast a metadata refresh (metadataTTL), so a leader change loses nothing.
	maxAttempts    = 6
	backoffFirst   = 100 * time.Millisecond
	backoffLongest = time.Second
	metadataTTL    = 2 * time.Second

	maxInFlightBytes = 32 << 20
	minInFlight      = 10_000
	maxInFlight      = 1_000_000
	// maxChunk is the most records handed to the writer in one call.
	maxChunk = 1024
	// fullWait is how long the send loop waits when the in-flight bound is reached.
	fullWait = 200 * time.Microsecond
	// endGrace is how long after the run's length the loop still sends records that were
	// due before it: a late wake-up must not drop the last ones, but a worker far behind
	// must not run on and on.
	endGrace = time.Second
)

// newWriter returns an asynchronous writer whose completions feed the measurements.
func (w *Worker) newWriter() *kafka.Writer {
	log := w.log.V(1)
	return &kafka.Writer{
		Addr:            kafkaconn.Addr(w.plan.Kafka),
		Transport:       w.transport,
		Balancer:        w.balancer,
		MaxAttempts:     maxAttempts,
		WriteBackoffMin: backoffFirst,
		WriteBackoffMax: backoffLongest,
		BatchSize:       w.batchSize,
		BatchBytes:      w.batchBytes,
		BatchTimeout:    batchTimeout,
		RequiredAcks:    w.acks,
		Compression:     w.compression,
		Async:           true,
		Completion:      w.complete,
		// Failed attempts are counted by class; the details are for debugging only.
		ErrorLogger: kafka.LoggerFunc(func(format string, args ...any) {
			if log.Enabled() {
				log.Info("Kafka writer error", "detail", fmt.Sprintf(format, args...))
			}
		}),
	}
}

// recordedBalancer sends a record to the partition its sample was recorded on, carried
// in Message.WriterData. Prepare checked that the partition exists.
type recordedBalancer struct{}

func (recordedBalancer) Balance(msg kafka.Message, partitions ...int) int {
	if m, ok := msg.WriterData.(*recMeta); ok && m.partition >= 0 {
		return partitions[int(m.partition)%len(partitions)]
	}
	return partitions[0]
}

// chunk is the records of one WriteMessages call with the memory their headers use.
// It goes back to its pool once every one of its records is completed, since kafka-go
// reads the headers until then (retries included).
type chunk struct {
	pool    *sync.Pool
	pending atomic.Int64 // records not yet completed
	sentAt  int64        // unix ns when handed to the writer
	msgs    []kafka.Message
	meta    []recMeta
	headers []kafka.Header
	buf     []byte // header values: sequence numbers and intended times
}

// A message's WriterData is its chunk or, with Recorded partitioning, its recMeta: a
// pointer either way, so no allocation per record.
type recMeta struct {
	c         *chunk
	partition int32 // the sample's recorded partition, for recordedBalancer
}

func (c *chunk) release(n int64) {
	if c.pending.Add(-n) == 0 {
		c.pool.Put(c)
	}
}

// reset empties c and makes sure it holds count records without growing: the messages
// point into meta, headers and buf.
func (c *chunk) reset(count, headersPerRecord int) {
	if cap(c.msgs) < count {
		c.msgs = make([]kafka.Message, 0, count)
		c.meta = make([]recMeta, 0, count)
	}
	if need := count * headersPerRecord; cap(c.headers) < need {
		c.headers = make([]kafka.Header, 0, need)
	}
	if need := count * 2 * 20; cap(c.buf) < need { // two int64s in decimal
		c.buf = make([]byte, 0, need)
	}
	c.msgs, c.meta, c.headers, c.buf = c.msgs[:0], c.meta[:0], c.headers[:0], c.buf[:0]
}

// sendLoop is one run's open-model send loop.
type sendLoop struct {
	w      *Worker
	writer *kafka.Writer
	start  time.Time
	// scheduled is what the schedule intended to send by the end, set by run: the whole
	// schedule, or until the stop. It is never lowered to what the samples allow.
	scheduled int64
	// scheduledFor is the part of the schedule that scheduled covers.
	scheduledFor time.Duration
	// exhausted is set when the run ended because the shard ran out (loop: false).
	exhausted bool
}

func (l *sendLoop) run(ctx context.Context) {
	w, st, sched := l.w, &l.w.st, l.w.sched
	topic := w.plan.Target.Topic
	length, limit := sched.Length(), w.limit
	// Elapsed time is measured on the monotonic clock from the agreed wall-clock start.
	base := time.Now()
	skew := base.Sub(l.start)
	startNanos := l.start.UnixNano()
	st.runStart.Store(startNanos)

	pool := &sync.Pool{}
	pool.New = func() any { return &chunk{pool: pool} }
	headersPerRecord := 0
	for i := range w.samples {
		headersPerRecord = max(headersPerRecord, len(w.samples[i].headers))
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	done := ctx.Done()
	// The writer's context is never cancelled: in async mode it only guards a metadata
	// lookup answered from the transport's cache, and a cancelled one would fail records
	// already counted as sent.
	wctx := context.WithoutCancel(ctx)

	var n int64    // the next record
	var sample int // its sample: n modulo the shard
	var elapsed time.Duration
loop:
	for n < limit {
		select {
		case <-done:
			break loop
		default:
		}
		elapsed = skew + time.Since(base)
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
			timer.Reset(off - elapsed)
			select {
			case <-timer.C:
			case <-done:
				break loop
			}
			continue
		}
		room := w.maxInFlight - (st.sent.Load() - st.completed.Load())
		if room <= 0 {
			// The writer is not keeping up: wait, falling behind the schedule (measured).
			l.noteBehind(sched, n, elapsed)
			timer.Reset(fullWait)
			select {
			case <-timer.C:
			case <-done:
				break loop
			}
			continue
		}
		count := min(due-n, maxChunk, room)
		l.noteBehind(sched, n, elapsed)

		c := pool.Get().(*chunk)
		c.reset(int(count), headersPerRecord)
		var bytes int64
		for i := range count {
			s := &w.samples[sample]
			if sample++; sample == len(w.samples) {
				sample = 0
			}
			off, _ := sched.Offset(n + i)
			intended := startNanos + int64(off)
			// The sample's headers and the run headers, the last two to fill in.
			h := len(c.headers)
			c.headers = append(c.headers, s.headers...)
			hs := c.headers[h:len(c.headers):len(c.headers)]
			b := len(c.buf)
			c.buf = runheaders.AppendInt(c.buf, n+i)
			mid := len(c.buf)
			c.buf = runheaders.AppendInt(c.buf, intended)
			end := len(c.buf)
			hs[len(hs)-2].Value = c.buf[b:mid:mid]
			hs[len(hs)-1].Value = c.buf[mid:end:end]
			var data any = c
			if w.recorded {
				c.meta = append(c.meta, recMeta{c: c, partition: s.partition})
				data = &c.meta[i]
			}
			c.msgs = append(c.msgs, kafka.Message{
				Topic: topic, Key: s.key, Value: s.value, Headers: hs, WriterData: data,
				Time: time.Unix(0, intended),
			})
			bytes += s.size + int64(end-b)
		}
		c.pending.Store(count)
		c.sentAt = time.Now().UnixNano()
		st.sent.Add(count)
		st.bytes.Add(bytes)
		if err := l.writer.WriteMessages(wctx, c.msgs...); err != nil {
			w.fail(c.msgs, err)
			c.release(count)
		}
		n += count
	}
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

// complete is the writer's completion callback: msgs, all of one partition, were
// acknowledged (err nil) or failed for good.
func (w *Worker) complete(msgs []kafka.Message, err error) {
	if err != nil {
		w.fail(msgs, err)
	} else {
		now := time.Now().UnixNano()
		st := &w.st
		st.mu.Lock()
		if !st.final {
			for i := range msgs {
				m := &msgs[i]
				st.observe(time.Duration(now-m.Time.UnixNano()), time.Duration(now-chunkOf(m).sentAt))
			}
			st.acked += int64(len(msgs))
			if w.ackHook != nil {
				w.ackHook(msgs)
			}
		}
		st.mu.Unlock()
		st.completed.Add(int64(len(msgs)))
	}
	releaseChunks(msgs)
}

// fail counts msgs as failed by err's class; it does not release their chunks.
func (w *Worker) fail(msgs []kafka.Message, err error) {
	class := errorClass(err)
	st := &w.st
	st.mu.Lock()
	if !st.final {
		st.failed += int64(len(msgs))
		st.errors[class] += int64(len(msgs))
	}
	st.mu.Unlock()
	st.completed.Add(int64(len(msgs)))
}

// releaseChunks releases the chunks of msgs. A chunk's records to one partition are
// consecutive, so one release per run of the same chunk suffices.
func releaseChunks(msgs []kafka.Message) {
	var cur *chunk
	var k int64
	for i := range msgs {
		c := chunkOf(&msgs[i])
		if c != cur {
			if cur != nil {
				cur.release(k)
			}
			cur, k = c, 0
		}
		k++
	}
	if cur != nil {
		cur.release(k)
	}
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

func chunkOf(m *kafka.Message) *chunk {
	switch d := m.WriterData.(type) {
	case *chunk:
		return d
	case *recMeta:
		return d.c
	}
	return nil
}
