package observer

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/streamreplay/streamreplay/internal/runheaders"
)

// The test pipeline: a small stand-in for the system under test. It consumes
// the input topic as a consumer group, forwards JSON records to the output
// topic with their headers, and dead-letters the others the way Kafka Connect
// or Spring Kafka would.

type dlqStyle int

const (
	connectStyle dlqStyle = iota
	springStyle
)

const (
	testGroup      = "test-pipeline"
	classEmpty     = "org.apache.kafka.connect.errors.DataException"
	classNotJSON   = "com.fasterxml.jackson.core.JsonParseException"
	springNotJSON  = "org.springframework.kafka.support.serializer.DeserializationException"
	springEmpty    = "java.lang.IllegalArgumentException"
	connectStageVC = "VALUE_CONVERTER"
)

type testPipeline struct {
	brokers               []string
	input, output, dlq    string
	style                 dlqStyle
	delay                 time.Duration // a record leaves no earlier than its intended time + delay
	rate                  float64       // at most this many records per second; 0: no cap
	dropHeaders           bool          // forward and dead-letter without the input's headers
	mu                    sync.Mutex
	forwarded             map[string]int            // by run id
	dead                  map[string]map[string]int // by run id, then expected class
	deadAt                map[string]bool           // "partition/offset" of dead-lettered input records
	done                  chan struct{}
	forwardedAnyRunSignal chan struct{}
}

// start runs the pipeline until the test ends, and waits until its group
// consumed a warm-up record, so that the group's join is not measured.
func (p *testPipeline) start(t *testing.T) {
	t.Helper()
	p.forwarded = map[string]int{}
	p.dead = map[string]map[string]int{}
	p.deadAt = map[string]bool{}
	p.done = make(chan struct{})
	p.forwardedAnyRunSignal = make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: p.brokers, GroupID: testGroup, Topic: p.input,
		MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond, CommitInterval: 50 * time.Millisecond,
		StartOffset: kafka.FirstOffset, HeartbeatInterval: 500 * time.Millisecond,
		JoinGroupBackoff: 100 * time.Millisecond,
	})
	w := &kafka.Writer{
		Addr: kafka.TCP(p.brokers...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond,
	}
	go func() {
		defer close(p.done)
		p.loop(ctx, r, w)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
		_ = r.Close()
		_ = w.Close()
	})
	produce(t, p.brokers, p.input, producerConfig{runID: "warm-up", n: 1})
	select {
	case <-p.forwardedAnyRunSignal:
	case <-time.After(20 * time.Second):
		t.Fatal("the test pipeline did not consume a warm-up record within 20s")
	}
}

func (p *testPipeline) loop(ctx context.Context, r *kafka.Reader, w *kafka.Writer) {
	var next time.Time // for the rate cap
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return
		}
		if p.rate > 0 {
			if !sleepUntil(ctx, next) {
				return
			}
			next = time.Now().Add(time.Duration(float64(time.Second) / p.rate))
		}
		var f runheaders.Fields
		for _, h := range m.Headers {
			f.Set(h.Key, h.Value)
		}
		meta, _ := f.Meta()
		if p.delay > 0 && !meta.Intended.IsZero() && !sleepUntil(ctx, meta.Intended.Add(p.delay)) {
			return
		}
		out, class := p.transform(&m)
		if err := w.WriteMessages(ctx, out); err != nil {
			return
		}
		_ = r.CommitMessages(ctx, m)
		p.mu.Lock()
		if out.Topic == p.output {
			p.forwarded[meta.RunID]++
		} else {
			if p.dead[meta.RunID] == nil {
				p.dead[meta.RunID] = map[string]int{}
			}
			p.dead[meta.RunID][class]++
			p.deadAt[strconv.Itoa(m.Partition)+"/"+strconv.FormatInt(m.Offset, 10)] = true
		}
		p.mu.Unlock()
		select {
		case p.forwardedAnyRunSignal <- struct{}{}:
		default:
		}
	}
}

// transform gives the output or dead-letter record and, for a dead letter,
// the class the observer should find.
func (p *testPipeline) transform(m *kafka.Message) (kafka.Message, string) {
	var headers []kafka.Header
	if !p.dropHeaders {
		headers = append(headers, m.Headers...)
	}
	var v any
	if len(m.Value) > 0 && json.Unmarshal(m.Value, &v) == nil {
		out, _ := json.Marshal(map[string]any{"enriched": true, "payload": v})
		return kafka.Message{Topic: p.output, Key: m.Key, Value: out, Headers: headers}, ""
	}
	dl := kafka.Message{Topic: p.dlq, Key: m.Key, Value: m.Value}
	var class string
	switch p.style {
	case connectStyle:
		cls, msg := classEmpty, "Converting byte[] to Kafka Connect data failed due to serialization error: empty value"
		if len(m.Value) > 0 {
			cls, msg = classNotJSON, "Unrecognized token '"+string(m.Value)+"': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
		}
		class = cls + " (" + connectStageVC + ")"
		dl.Time = m.Time // Connect keeps the original record's timestamp
		headers = append(headers,
			kafka.Header{Key: connectTopic, Value: []byte(m.Topic)},
			kafka.Header{Key: connectPartition, Value: []byte(strconv.Itoa(m.Partition))},
			kafka.Header{Key: connectOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
			kafka.Header{Key: "__connect.errors.connector.name", Value: []byte("crm-enricher")},
			kafka.Header{Key: "__connect.errors.task.id", Value: []byte("0")},
			kafka.Header{Key: connectStage, Value: []byte(connectStageVC)},
			kafka.Header{Key: "__connect.errors.class.name", Value: []byte("org.apache.kafka.connect.json.JsonConverter")},
			kafka.Header{Key: connectClass, Value: []byte(cls)},
			kafka.Header{Key: connectMessage, Value: []byte(msg)},
			kafka.Header{Key: "__connect.errors.exception.stacktrace", Value: []byte(cls + ": " + msg + "\n\tat org.apache.kafka.connect.json.JsonConverter.toConnectData(JsonConverter.java:333)")},
		)
	case springStyle:
		cls, msg := springEmpty, "value must not be empty"
		if len(m.Value) > 0 {
			cls, msg = springNotJSON, "failed to deserialize; nested exception is com.fasterxml.jackson.core.JsonParseException"
		}
		class = cls
		part, off := make([]byte, 4), make([]byte, 8)
		binary.BigEndian.PutUint32(part, uint32(m.Partition))
		binary.BigEndian.PutUint64(off, uint64(m.Offset))
		headers = append(headers,
			kafka.Header{Key: springTopic, Value: []byte(m.Topic)},
			kafka.Header{Key: springPartition, Value: part},
			kafka.Header{Key: springOffset, Value: off},
			kafka.Header{Key: springClass, Value: []byte(cls)},
			kafka.Header{Key: springMessage, Value: []byte(msg)},
			kafka.Header{Key: "kafka_dlt-exception-stacktrace", Value: []byte(cls + ": " + msg)},
		)
	}
	dl.Headers = headers
	return dl, class
}

// counts says what the pipeline did with the records of runID.
func (p *testPipeline) counts() (forwarded int, dead map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	dead = map[string]int{}
	for k, v := range p.dead[runID] {
		dead[k] = v
	}
	return p.forwarded[runID], dead
}

func (p *testPipeline) wasDeadLettered(partition int32, offset int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.deadAt[strconv.Itoa(int(partition))+"/"+strconv.FormatInt(offset, 10)]
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// producerConfig says what produce writes: n records of runID as worker 0
// would, rate per second (0: as fast as possible), value(i) as the value
// (default: a small JSON document).
type producerConfig struct {
	runID   string
	worker  int
	n       int
	rate    float64
	value   func(i int) []byte
	at      time.Time // record timestamp; zero: now
	headers func(i int) []kafka.Header
}

// produce writes records with the run headers a worker sets, the intended
// time being when the record is due by the rate.
func produce(t testing.TB, brokers []string, topic string, c producerConfig) {
	t.Helper()
	w := &kafka.Writer{
		Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchSize: 1000,
	}
	defer func() { _ = w.Close() }()
	begin := time.Now()
	var batch []kafka.Message
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := w.WriteMessages(context.Background(), batch...); err != nil {
			t.Fatalf("producing to %s: %v", topic, err)
		}
		batch = batch[:0]
	}
	for i := range c.n {
		intended := time.Now()
		if c.rate > 0 {
			intended = begin.Add(time.Duration(float64(i) / c.rate * float64(time.Second)))
			if d := time.Until(intended); d > 0 {
				flush()
				time.Sleep(d)
			}
		}
		value := []byte(`{"id":` + strconv.Itoa(i) + `,"name":"Ada"}`)
		if c.value != nil {
			value = c.value(i)
		}
		var hs []kafka.Header
		if c.runID != "" {
			hs = []kafka.Header{
				{Key: runheaders.RunID, Value: []byte(c.runID)},
				{Key: runheaders.Worker, Value: []byte(strconv.Itoa(c.worker))},
				{Key: runheaders.Sequence, Value: []byte(strconv.Itoa(i))},
				{Key: runheaders.Intended, Value: []byte(strconv.FormatInt(intended.UnixNano(), 10))},
			}
		}
		if c.headers != nil {
			hs = append(hs, c.headers(i)...)
		}
		batch = append(batch, kafka.Message{Key: []byte("customer-" + strconv.Itoa(i%17)), Value: value, Headers: hs, Time: c.at})
	}
	flush()
}

// newCluster starts an in-process Kafka with the given topics (name: partitions).
func newCluster(t testing.TB, brokers int, topics map[string]int32) []string {
	t.Helper()
	return newFakeCluster(t, brokers, topics).ListenAddrs()
}

// newFakeCluster is newCluster for tests that control the brokers' answers.
func newFakeCluster(t testing.TB, brokers int, topics map[string]int32) *kfake.Cluster {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(brokers)}
	for name, n := range topics {
		opts = append(opts, kfake.SeedTopics(n, name))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// eventually polls cond every 20ms until it holds or d passes.
func eventually(d time.Duration, cond func() bool) error {
	return wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, d, true,
		func(context.Context) (bool, error) { return cond(), nil })
}
