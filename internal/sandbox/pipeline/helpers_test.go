package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"k8s.io/apimachinery/pkg/util/wait"
)

const (
	inTopic  = "crm.cdc"
	outTopic = "crm.enriched"
	dlqTopic = "crm.dlq"
	group    = "crm-enricher"
)

// cluster starts a kfake cluster with the three topics, 3 partitions each.
func cluster(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, inTopic, outTopic, dlqTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func testConfig(addr string) Config {
	return Config{Brokers: []string{addr}, InputTopic: inTopic, OutputTopic: outTopic, DLQTopic: dlqTopic, Group: group}
}

// produce writes msgs to the input topic, keyed as Kafka's Java client would.
func produce(t *testing.T, addr string, msgs ...kafka.Message) {
	t.Helper()
	w := &kafka.Writer{
		Addr: kafka.TCP(addr), Topic: inTopic, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchSize: 1000,
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("producing: %v", err)
	}
}

// start runs a pipeline until the test ends; the test fails if Run returns an error.
func start(t *testing.T, cfg Config) *Pipeline {
	t.Helper()
	p, err := New(cfg, testr.NewWithOptions(t, testr.Options{Verbosity: 0}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var stopped atomic.Bool
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		if stopped.Swap(true) {
			return
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	return p
}

// waitFor polls cond until it holds or the timeout ends.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, timeout, true,
		func(context.Context) (bool, error) { return cond(), nil }); err != nil {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// endOffsets returns the end offset of each partition of topic.
func endOffsets(t *testing.T, addr, topic string) map[int]int64 {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	resp, err := c.ListOffsets(context.Background(), &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{topic: {kafka.LastOffsetOf(0), kafka.LastOffsetOf(1), kafka.LastOffsetOf(2)}},
	})
	if err != nil {
		t.Fatalf("listing offsets of %s: %v", topic, err)
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			t.Fatalf("listing offsets of %s/%d: %v", topic, p.Partition, p.Error)
		}
		out[p.Partition] = p.LastOffset
	}
	return out
}

func count(t *testing.T, addr, topic string) int64 {
	t.Helper()
	var n int64
	for _, o := range endOffsets(t, addr, topic) {
		n += o
	}
	return n
}

// lag is the group's lag on the input topic: end offsets minus committed offsets.
func lag(t *testing.T, addr string) int64 {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	resp, err := c.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{
		GroupID: group, Topics: map[string][]int{inTopic: {0, 1, 2}},
	})
	if err != nil {
		t.Fatalf("fetching the group's offsets: %v", err)
	}
	var n int64
	ends := endOffsets(t, addr, inTopic)
	for _, p := range resp.Topics[inTopic] {
		committed := max(p.CommittedOffset, 0) // -1: nothing committed yet
		n += ends[p.Partition] - committed
	}
	return n
}

// consume reads every record of topic, partition by partition.
func consume(t *testing.T, addr, topic string) []kafka.Message {
	t.Helper()
	var out []kafka.Message
	for partition, end := range endOffsets(t, addr, topic) {
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: []string{addr}, Topic: topic, Partition: partition, MinBytes: 1, MaxBytes: 64 << 20,
			MaxWait: 50 * time.Millisecond,
		})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				cancel()
				_ = r.Close()
				t.Fatalf("reading %s/%d: %v", topic, partition, err)
			}
			out = append(out, m)
			if m.Offset == end-1 {
				break
			}
		}
		cancel()
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// header is the value of the last header named key, "" when there is none.
func header(hs []kafka.Header, key string) string {
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].Key == key {
			return string(hs[i].Value)
		}
	}
	return ""
}

// runHeaders are the headers a replay worker adds, plus a header of the recorded sample.
func runHeaders(seq int) []kafka.Header {
	return []kafka.Header{
		{Key: "traceparent", Value: fmt.Appendf(nil, "00-%032x-%016x-01", seq+1, seq+1)},
		{Key: "streamreplay-run-id", Value: []byte("5d1f7a0e-run")},
		{Key: "streamreplay-worker", Value: []byte("0")},
		{Key: "streamreplay-seq", Value: fmt.Appendf(nil, "%d", seq)},
		{Key: "streamreplay-intended-at", Value: fmt.Appendf(nil, "%d", time.Now().UnixNano())},
	}
}

// failureOf returns err's *Failure, or fails the test.
func failureOf(t *testing.T, err error) *Failure {
	t.Helper()
	f, ok := errors.AsType[*Failure](err)
	if !ok {
		t.Fatalf("error %v is not a *Failure", err)
	}
	return f
}
