package observer

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/runheaders"
)

// benchRecords is how many records each topic holds for the benchmark.
const benchRecords = 100000

// BenchmarkObserverVsKafkaGo compares the observer's consumption rate of a
// DLQ topic and an output topic (its partition readers and its per-record
// work: header matching, classification, duplicate check, latency histogram,
// metrics) with a bare kafka-go consumer-group Reader reading the same topics
// with the same fetch settings and doing nothing per record. Both are timed
// from their first record to their last, so that neither the group join nor
// the offset lookup counts. The last line is observer-vs-kafka-go=<ratio>
// (observer rate / kafka-go rate; the target is at least 0.9).
func BenchmarkObserverVsKafkaGo(b *testing.B) {
	brokers := newCluster(b, 1, map[string]int32{"dlq": 3, "out": 3})
	value := func(int) []byte {
		return []byte(`{"before":null,"after":{"customer_id":1042,"first_name":"Ada","last_name":"Lovelace","email":"ada@example.com","city":"Zürich"},"op":"c","ts_ms":1764115200000}`)
	}
	produce(b, brokers, "dlq", producerConfig{runID: runID, n: benchRecords, value: value, headers: func(i int) []kafka.Header {
		return []kafka.Header{
			{Key: connectTopic, Value: []byte("dbserver1.dbo.customers")},
			{Key: connectPartition, Value: []byte(strconv.Itoa(i % 6))},
			{Key: connectOffset, Value: []byte(strconv.Itoa(i))},
			{Key: connectStage, Value: []byte("VALUE_CONVERTER")},
			{Key: connectClass, Value: []byte(fmt.Sprintf("org.apache.kafka.connect.errors.DataException%d", i%5))},
			{Key: connectMessage, Value: []byte("Converting byte[] to Kafka Connect data failed due to serialization error")},
		}
	}})
	produce(b, brokers, "out", producerConfig{runID: runID, n: benchRecords, value: value})

	p := testPlan(brokers, time.Minute, 0)
	p.DLQ = &plan.DLQ{Topic: "dlq"}
	p.Pipeline = &plan.Pipeline{InputTopic: "in", OutputTopic: "out"}

	var obsTime, kgTime, fgTime, obsCPU, kgCPU, fgCPU time.Duration
	var records int64
	round := 0
	// cpu adds the process's CPU time during read to *to (kfake's included: it serves
	// every consumer alike).
	cpu := func(to *time.Duration, read func() time.Duration) time.Duration {
		c0 := cpuTime()
		d := read()
		*to += cpuTime() - c0
		return d
	}
	for b.Loop() {
		round++
		for _, topic := range []string{"dlq", "out"} {
			obsTime += cpu(&obsCPU, func() time.Duration { return observerRead(b, p, topic) })
			kgTime += cpu(&kgCPU, func() time.Duration { return groupRead(b, brokers, topic, fmt.Sprintf("bench-%s-%d", topic, round)) })
			fgTime += cpu(&fgCPU, func() time.Duration { return franzRead(b, brokers, topic) })
			records += benchRecords
		}
	}
	obsRate := float64(records) / obsTime.Seconds()
	kgRate := float64(records) / kgTime.Seconds()
	fgRate := float64(records) / fgTime.Seconds()
	b.ReportMetric(obsRate, "observer-records/s")
	b.ReportMetric(kgRate, "kafka-go-records/s")
	b.ReportMetric(fgRate, "franz-go-records/s")
	b.ReportMetric(0, "ns/op") // a round's time says little; the rates do
	fmt.Printf("observer: %.0f records/s, kafka-go consumer-group reader: %.0f records/s, franz-go partition consumer: %.0f records/s (%d rounds of %d DLQ + %d output records)\n",
		obsRate, kgRate, fgRate, round, benchRecords, benchRecords)
	fmt.Printf("observer records per CPU-second of the process (kfake included): observer=%.0f kafka-go=%.0f franz-go=%.0f\n",
		float64(records)/obsCPU.Seconds(), float64(records)/kgCPU.Seconds(), float64(records)/fgCPU.Seconds())
	fmt.Printf("observer-vs-kafka-go=%.2f\n", obsRate/kgRate)
	fmt.Printf("observer-vs-franz-go=%.2f\n", obsRate/fgRate)
	fmt.Printf("observer-vs-franz-go-cpu=%.2f\n", fgCPU.Seconds()/obsCPU.Seconds())
}

// franzRead reads topic's partitions from their beginning with a franz-go client, the
// way the observer reads (no group), doing nothing per record.
func franzRead(b *testing.B, brokers []string, topic string) time.Duration {
	b.Helper()
	parts := map[int32]kgo.Offset{}
	for i := range int32(3) {
		parts[i] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchMinBytes(fetchMinBytes), kgo.FetchMaxBytes(fetchMaxBytes), kgo.FetchMaxWait(fetchMaxWait),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFirstToLast(benchRecords)
	go func() {
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(*kgo.Record) { f.seen() })
		}
	}()
	return f.wait(b, "the franz-go consumer")
}

// firstToLast times a consumer from its first record to its last.
type firstToLast struct {
	n     int64
	count atomic.Int64
	first atomic.Int64 // unix nanos
	last  atomic.Int64
	done  chan struct{}
}

func newFirstToLast(n int64) *firstToLast { return &firstToLast{n: n, done: make(chan struct{})} }

func (f *firstToLast) seen() {
	switch f.count.Add(1) {
	case 1:
		f.first.Store(time.Now().UnixNano())
	case f.n:
		f.last.Store(time.Now().UnixNano())
		close(f.done)
	}
}

func (f *firstToLast) wait(b *testing.B, what string) time.Duration {
	b.Helper()
	select {
	case <-f.done:
	case <-time.After(time.Minute):
		b.Fatalf("%s read %d of %d records within a minute", what, f.count.Load(), f.n)
	}
	return time.Duration(f.last.Load() - f.first.Load())
}

// observerRead reads topic from its beginning with the observer's partition
// readers and record handling.
func observerRead(b *testing.B, p *plan.Plan, topic string) time.Duration {
	b.Helper()
	o, err := New(Options{Plan: p, Pod: "bench-observer", Log: logr.Discard()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := o.Prepare(ctx); err != nil {
		b.Fatal(err)
	}
	handle := o.dlq.add
	if topic == "out" {
		handle = o.e2e.add
	}
	f := newFirstToLast(benchRecords)
	var wg sync.WaitGroup
	for _, part := range o.partitions[topic] {
		wg.Go(func() {
			o.readPartition(ctx, topic, part, 0, func(m *kafka.Message, recv time.Time) {
				handle(m, recv)
				f.seen()
			})
		})
	}
	d := f.wait(b, "the observer")
	cancel()
	wg.Wait()
	return d
}

// groupRead reads topic from its beginning with a consumer-group Reader that
// commits once a second, as a fast consumer would.
func groupRead(b *testing.B, brokers []string, topic, group string) time.Duration {
	b.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, GroupID: group, Topic: topic, StartOffset: kafka.FirstOffset,
		MinBytes: fetchMinBytes, MaxBytes: fetchMaxBytes, MaxWait: fetchMaxWait, QueueCapacity: queueCapacity,
		IsolationLevel: kafka.ReadCommitted, CommitInterval: time.Second,
		HeartbeatInterval: 500 * time.Millisecond, JoinGroupBackoff: 100 * time.Millisecond,
	})
	defer func() { _ = r.Close() }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFirstToLast(benchRecords)
	go func() {
		for {
			if _, err := r.ReadMessage(ctx); err != nil {
				return
			}
			f.seen()
		}
	}()
	return f.wait(b, "the kafka-go reader")
}

func benchMessage(i int, extra ...kafka.Header) *kafka.Message {
	hs := []kafka.Header{
		{Key: runheaders.RunID, Value: []byte(runID)},
		{Key: runheaders.Worker, Value: []byte("3")},
		{Key: runheaders.Sequence, Value: []byte(strconv.Itoa(i))},
		{Key: runheaders.Intended, Value: []byte(strconv.FormatInt(time.Now().UnixNano(), 10))},
	}
	return &kafka.Message{Topic: "t", Time: time.Now(), Headers: append(hs, extra...)}
}

// BenchmarkDLQAdd and BenchmarkE2EAdd are the per-record work of the
// observer, without Kafka.
func BenchmarkDLQAdd(b *testing.B) {
	m, _ := newMetrics(nil)
	t := newDLQTally(runID, &plan.DLQ{Topic: "dlq"}, m)
	msg := benchMessage(1,
		kafka.Header{Key: connectTopic, Value: []byte("dbserver1.dbo.customers")},
		kafka.Header{Key: connectPartition, Value: []byte("3")},
		kafka.Header{Key: connectOffset, Value: []byte("123456")},
		kafka.Header{Key: connectStage, Value: []byte("VALUE_CONVERTER")},
		kafka.Header{Key: connectClass, Value: []byte("org.apache.kafka.connect.errors.DataException")},
		kafka.Header{Key: connectMessage, Value: []byte("Converting byte[] to Kafka Connect data failed due to serialization error")},
	)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		t.add(msg, now)
	}
}

func BenchmarkE2EAdd(b *testing.B) {
	m, _ := newMetrics(nil)
	t := newE2ETally(runID, m, logr.Discard())
	msgs := make([]*kafka.Message, 1024)
	for i := range msgs {
		msgs[i] = benchMessage(i)
	}
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t.add(msgs[i%1024], now)
		i++
	}
}

// cpuTime is the CPU time this process used so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
