package worker

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/internal/runheaders"
)

// envBrokers names real bootstrap servers to test against instead of kfake.
const envBrokers = "STREAMREPLAY_KAFKA_BROKERS"

// kafkaEnv is a Kafka cluster for one test: kfake in-process, or the real brokers of
// envBrokers (then cluster is nil and tests needing kfake's controls skip).
type kafkaEnv struct {
	brokers []string
	cluster *kfake.Cluster
}

// newKafka starts a 3-broker kfake cluster with topics of the given partitions, or
// creates uniquely named topics on the real brokers. It returns the topics' names.
func newKafka(t testing.TB, partitions int32, topics ...string) (*kafkaEnv, []string) {
	t.Helper()
	if env := os.Getenv(envBrokers); env != "" {
		brokers := strings.Split(env, ",")
		names := make([]string, len(topics))
		suffix := fmt.Sprintf("-%d", time.Now().UnixNano())
		var configs []kafka.TopicConfig
		for i, topic := range topics {
			names[i] = topic + suffix
			configs = append(configs, kafka.TopicConfig{Topic: names[i], NumPartitions: int(partitions), ReplicationFactor: 1})
		}
		client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second}
		if _, err := client.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: configs}); err != nil {
			t.Fatalf("creating topics on %v: %v", brokers, err)
		}
		time.Sleep(time.Second) // topic creation propagates asynchronously
		return &kafkaEnv{brokers: brokers}, names
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return &kafkaEnv{brokers: c.ListenAddrs(), cluster: c}, topics
}

func (k *kafkaEnv) needFake(t testing.TB) *kfake.Cluster {
	t.Helper()
	if k.cluster == nil {
		t.Skip("needs kfake's fault injection; not run against real brokers")
	}
	return k.cluster
}

// sampleLine is one JSON Lines sample.
type sampleLine struct {
	Key       *string           `json:"key,omitempty"`
	Value     string            `json:"value"`
	Headers   map[string]string `json:"headers,omitempty"`
	Timestamp string            `json:"timestamp,omitempty"`
	Topic     string            `json:"topic,omitempty"`
	Partition *int32            `json:"partition,omitempty"`
}

func writeSamples(t testing.TB, lines []sampleLine) string {
	t.Helper()
	var b strings.Builder
	for _, l := range lines {
		j, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "samples.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// keyedSamples are n samples over keys k0..k(keys-1), each with a header of its own.
func keyedSamples(n, keys int) []sampleLine {
	out := make([]sampleLine, n)
	for i := range out {
		k := fmt.Sprintf("k%d", i%keys)
		out[i] = sampleLine{Key: &k, Value: fmt.Sprintf(`{"sample":%d}`, i), Headers: map[string]string{"sample-id": fmt.Sprint(i)}}
	}
	return out
}

func testPlan(k *kafkaEnv, topic, samplesPath string, sc plan.Scenario, d time.Duration) *plan.Plan {
	return &plan.Plan{
		Role: results.RoleWorker, RunID: "run-1234", LoadTest: "default/lt", Index: 0, Workers: 1,
		Scenario: sc, Duration: metav1.Duration{Duration: d},
		Samples: plan.Samples{Path: samplesPath, Format: "JSONLines", Loop: true},
		Kafka:   plan.Kafka{BootstrapServers: k.brokers},
		Target:  plan.Target{Topic: topic, Partitioning: "Key", Acks: "All", Compression: "None"},
	}
}

func testLog(t testing.TB) logr.Logger {
	if tt, ok := t.(*testing.T); ok {
		return testr.NewWithOptions(tt, testr.Options{Verbosity: 0})
	}
	return logr.Discard()
}

// run prepares and runs a worker from now, failing the test on errors.
func run(ctx context.Context, t testing.TB, p *plan.Plan, opts Options) (*results.WorkerResult, *Worker) {
	t.Helper()
	r, w, _ := runTracked(ctx, t, p, opts)
	return r, w
}

// runTracked is run that also returns the sequence numbers of the acknowledged records.
func runTracked(ctx context.Context, t testing.TB, p *plan.Plan, opts Options) (*results.WorkerResult, *Worker, map[int64]bool) {
	t.Helper()
	return runTrackedWith(ctx, t, p, opts, nil)
}

// runTrackedWith is runTracked that calls prepared, when not nil, between Prepare and Run.
func runTrackedWith(ctx context.Context, t testing.TB, p *plan.Plan, opts Options, prepared func(*Worker)) (*results.WorkerResult, *Worker, map[int64]bool) {
	t.Helper()
	acked := map[int64]bool{}
	if opts.Log.GetSink() == nil {
		opts.Log = testLog(t)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	w, err := New(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	w.ackHook = func(seqs []int64) {
		for _, seq := range seqs {
			if acked[seq] {
				t.Errorf("sequence %d acknowledged twice", seq)
			}
			acked[seq] = true
		}
	}
	if err := w.Prepare(ctx); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if prepared != nil {
		prepared(w)
	}
	r, err := w.Run(ctx, time.Now())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := checkResult(r.Worker); err != nil {
		t.Fatal(err)
	}
	if err := checkSeries(w.Series(), r.Worker); err != nil {
		t.Fatal(err)
	}
	return r.Worker, w, acked
}

func checkResult(r *results.WorkerResult) error {
	var classes int64
	for _, n := range r.Errors {
		classes += n
	}
	switch {
	case r.Acked+r.Failed != r.Sent:
		return fmt.Errorf("acked %d + failed %d != sent %d", r.Acked, r.Failed, r.Sent)
	case classes != r.Failed:
		return fmt.Errorf("error classes %v add up to %d, not failed %d", r.Errors, classes, r.Failed)
	case r.Sent > r.Scheduled:
		return fmt.Errorf("sent %d > scheduled %d", r.Sent, r.Scheduled)
	case r.Latency.Count() != r.Acked:
		return fmt.Errorf("latency histogram has %d values for %d acked", r.Latency.Count(), r.Acked)
	}
	return nil
}

// consumed is one record read back from Kafka.
type consumed struct {
	topic     string
	partition int32
	offset    int64
	key       string
	value     string
	headers   map[string]string
	meta      runheaders.Meta
}

// consumeAll reads every record of the topics until want records came or timeout passed.
func consumeAll(t testing.TB, k *kafkaEnv, want int64, topics ...string) []consumed {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []consumed
	for int64(len(out)) < want && ctx.Err() == nil {
		fetches := cl.PollFetches(ctx)
		fetches.EachRecord(func(r *kgo.Record) {
			c := consumed{topic: r.Topic, partition: r.Partition, offset: r.Offset, key: string(r.Key), value: string(r.Value),
				headers: map[string]string{}}
			var f runheaders.Fields
			for _, h := range r.Headers {
				f.Set(h.Key, h.Value)
				if _, dup := c.headers[h.Key]; dup {
					t.Errorf("record %s/%d@%d has header %q twice", r.Topic, r.Partition, r.Offset, h.Key)
				}
				c.headers[h.Key] = string(h.Value)
			}
			c.meta, _ = f.Meta()
			out = append(out, c)
		})
	}
	// Anything beyond want would be a duplicate: give it a moment to show up.
	if int64(len(out)) >= want {
		short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		cl.PollFetches(short).EachRecord(func(r *kgo.Record) {
			out = append(out, consumed{topic: r.Topic, partition: r.Partition, offset: r.Offset})
		})
	}
	return out
}

// batchArrival is a record batch as it reached a kfake broker: when, and the largest
// record timestamp in it (milliseconds; the worker stamps each record with its intended
// send time).
type batchArrival struct {
	at           time.Time
	maxTimestamp int64
	records      int
}

// arrivals records every record batch that reaches the kfake brokers; the cluster still
// stores them.
type arrivals struct {
	mu      sync.Mutex
	batches []batchArrival
}

func watchArrivals(c *kfake.Cluster) *arrivals {
	a := &arrivals{}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		now := time.Now()
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, topic := range req.(*kmsg.ProduceRequest).Topics {
			for _, p := range topic.Partitions {
				for b := p.Records; len(b) >= 61; {
					length := int(int32(binary.BigEndian.Uint32(b[8:12])))
					a.batches = append(a.batches, batchArrival{at: now,
						maxTimestamp: int64(binary.BigEndian.Uint64(b[35:43])), records: countRecords(b[:min(len(b), 12+max(length, 0))])})
					if length <= 0 || 12+length > len(b) {
						break
					}
					b = b[12+length:]
				}
			}
		}
		return nil, nil, false
	})
	return a
}

// early lists the batches that reached a broker before the intended send time of one of
// their records.
func (a *arrivals) early() []batchArrival {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []batchArrival
	for _, b := range a.batches {
		if b.at.UnixMilli() < b.maxTimestamp {
			out = append(out, b)
		}
	}
	return out
}

// countRecords adds up the record counts of the v2 record batches in b.
func countRecords(b []byte) int {
	n := 0
	for len(b) >= 61 {
		length := int(int32(binary.BigEndian.Uint32(b[8:12])))
		n += int(int32(binary.BigEndian.Uint32(b[57:61])))
		if length <= 0 || 12+length > len(b) {
			break
		}
		b = b[12+length:]
	}
	return n
}
