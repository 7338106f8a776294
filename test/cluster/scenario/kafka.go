package scenario

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/internal/runheaders"
	"github.com/streamreplay/streamreplay/internal/samples"
	"github.com/streamreplay/streamreplay/internal/sandbox/pipeline"
)

// CountRunRecords counts the records of a run in a topic, by their run-id header.
func CountRunRecords(t *testing.T, k Kafka, mechanism sasl.Mechanism, topic, runID string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dialer := &kafka.Dialer{Timeout: 10 * time.Second, SASLMechanism: mechanism}
	conn, err := dialer.DialContext(ctx, "tcp", k.Dial[0])
	if err != nil {
		t.Fatalf("dialing Kafka %s: %v", k.Dial[0], err)
	}
	partitions, err := conn.ReadPartitions(topic)
	_ = conn.Close()
	if err != nil {
		t.Fatalf("partitions of %s: %v", topic, err)
	}
	var n int64
	for _, p := range partitions {
		leader, err := dialer.DialLeader(ctx, "tcp", k.Dial[0], topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		last, err := leader.ReadLastOffset()
		_ = leader.Close()
		if err != nil {
			t.Fatal(err)
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.Dial, Topic: topic, Partition: p.ID, MaxWait: 100 * time.Millisecond, Dialer: dialer})
		for offset := int64(0); offset < last; offset++ {
			msg, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("reading %s/%d: %v", topic, p.ID, err)
			}
			offset = msg.Offset
			for _, h := range msg.Headers {
				if h.Key == runheaders.RunID && string(h.Value) == runID {
					n++
				}
			}
		}
		_ = r.Close()
	}
	return n
}

// MalformedSent counts the records the workers sent that the example pipeline cannot
// process: each worker sends the first `sent` records of its shard, looping.
func MalformedSent(t *testing.T, doc *results.Document) int64 {
	t.Helper()
	set := ShippedSamples(t)
	var malformed int64
	for _, w := range doc.Workers {
		shard := samples.Shard(set.Records, len(doc.Workers), w.Index)
		bad := make([]bool, len(shard))
		for i, r := range shard {
			if r.Value != nil {
				_, err := pipeline.Transform(r.Value, time.Now())
				bad[i] = err != nil
			}
		}
		for i := range w.Sent {
			if bad[i%int64(len(shard))] {
				malformed++
			}
		}
	}
	return malformed
}

// ShippedSamples parses the sample set of the shipped ConfigMap manifest, as a worker would.
func ShippedSamples(t *testing.T) *samples.Set {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(RepoRoot, SamplesManifest))
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.Unmarshal(data, &cm); err != nil {
		t.Fatalf("%s: %v", SamplesManifest, err)
	}
	set, err := samples.Parse(bytes.NewReader(cm.BinaryData["samples.jsonl.gz"]), streamreplayv1alpha1.SampleFormatJSONLines, "samples.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	return set
}
