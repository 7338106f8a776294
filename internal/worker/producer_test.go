package worker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/protocol/rawproduce"
	"github.com/twmb/franz-go/pkg/kmsg"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/runheaders"
)

// keylessSamples are n samples without a key.
func keylessSamples(n int) []sampleLine {
	lines := keyedSamples(n, n)
	for i := range lines {
		lines[i].Key = nil
	}
	return lines
}

// produceWatch records the record count of every batch produced, per partition, and
// lets the cluster store them.
type produceWatch struct {
	mu      sync.Mutex
	batches map[int32][]int // records per batch, per partition, in arrival order
	raw     map[string]int  // how many times each distinct batch was sent
}

func watchProduce(k *kafkaEnv, t *testing.T, answer func(*kmsg.ProduceRequest) kmsg.Response) *produceWatch {
	c := k.needFake(t)
	pw := &produceWatch{batches: map[int32][]int{}, raw: map[string]int{}}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		pw.mu.Lock()
		for _, topic := range pr.Topics {
			for _, p := range topic.Partitions {
				pw.batches[p.Partition] = append(pw.batches[p.Partition], countRecords(p.Records))
				pw.raw[string(p.Records)]++
			}
		}
		pw.mu.Unlock()
		if answer != nil {
			return answer(pr), nil, true
		}
		return nil, nil, false
	})
	return pw
}

// TestKeylessRecordsStickToAPartitionPerBatch: keyless records fill a batch on one
// partition, then move to the next partition (the Java client's sticky partitioner),
// so that they spread evenly in full batches instead of one partition per record.
func TestKeylessRecordsStickToAPartitionPerBatch(t *testing.T) {
	t.Parallel()
	k, topics := newKafka(t, 3, "in")
	pw := watchProduce(k, t, nil)
	p := testPlan(k, topics[0], writeSamples(t, keylessSamples(100)), plan.Scenario{Type: "Constant", TargetRate: 3000}, time.Second)
	// A linger far longer than a batch takes to fill: every batch closes full.
	p.Target.Producer = &plan.Producer{BatchSize: 50, Linger: &metav1.Duration{Duration: time.Second}}
	r, _ := run(context.Background(), t, p, Options{})
	if r.Acked != 3000 || r.Failed != 0 {
		t.Fatalf("acked %d failed %d %v, want 3000 acked", r.Acked, r.Failed, r.Errors)
	}
	perPartition := map[int32]int{}
	for _, c := range consumeAll(t, k, r.Acked, topics[0]) {
		// Records 0-49 on partition 0, 50-99 on 1, 100-149 on 2, 150-199 on 0 ...
		if want := int32(c.meta.Sequence/50) % 3; c.partition != want {
			t.Fatalf("seq %d on partition %d, want %d: batches of 50 keyless records, one partition after the other", c.meta.Sequence, c.partition, want)
		}
		perPartition[c.partition]++
	}
	for part := range int32(3) {
		if perPartition[part] != 1000 {
			t.Errorf("partition %d has %d records, want 1000 (%v)", part, perPartition[part], perPartition)
		}
		for i, n := range pw.batches[part] {
			if n != 50 {
				t.Errorf("partition %d batch %d has %d records, want full batches of 50", part, i, n)
			}
		}
	}
}

// TestKeylessRecordsMoveOnWhenLingered: at a low rate a batch closes by its linger, and
// the next keyless records go to the next partition.
func TestKeylessRecordsMoveOnWhenLingered(t *testing.T) {
	t.Parallel()
	k, topics := newKafka(t, 3, "in")
	pw := watchProduce(k, t, nil)
	p := testPlan(k, topics[0], writeSamples(t, keylessSamples(100)), plan.Scenario{Type: "Constant", TargetRate: 200}, time.Second)
	p.Target.Producer = &plan.Producer{BatchSize: 1000, Linger: &metav1.Duration{Duration: 20 * time.Millisecond}}
	r, _ := run(context.Background(), t, p, Options{})
	if r.Acked != 200 || r.Failed != 0 {
		t.Fatalf("acked %d failed %d %v, want 200 acked", r.Acked, r.Failed, r.Errors)
	}
	pw.mu.Lock()
	defer pw.mu.Unlock()
	var batches int
	for part := range int32(3) {
		if len(pw.batches[part]) == 0 {
			t.Errorf("partition %d got no batch: %v", part, pw.batches)
		}
		batches += len(pw.batches[part])
	}
	// 200 records over 1 s with a 20 ms linger: far more than one batch per partition,
	// which is what a batch size of 1000 alone would give.
	if batches < 6 {
		t.Errorf("%d batches (%v), want the linger to close batches of at most a few records", batches, pw.batches)
	}
}

// TestProducerSettingsLimits: spec.target.producer's batch bytes, attempts and write
// timeout take effect.
func TestProducerSettingsLimits(t *testing.T) {
	t.Parallel()
	t.Run("batchBytes", func(t *testing.T) {
		t.Parallel()
		k, topics := newKafka(t, 1, "in")
		pw := watchProduce(k, t, nil)
		p := testPlan(k, topics[0], writeSamples(t, keyedSamples(100, 10)), plan.Scenario{Type: "Constant", TargetRate: 2000}, 500*time.Millisecond)
		p.Target.Producer = &plan.Producer{BatchSize: 1000, BatchBytes: 2048, Linger: &metav1.Duration{Duration: time.Second}}
		r, _ := run(context.Background(), t, p, Options{})
		if r.Acked != 1000 || r.Failed != 0 {
			t.Fatalf("acked %d failed %d %v, want 1000 acked", r.Acked, r.Failed, r.Errors)
		}
		pw.mu.Lock()
		defer pw.mu.Unlock()
		for raw := range pw.raw {
			if len(raw) > 2048 {
				t.Errorf("a batch of %d bytes, want at most batchBytes 2048", len(raw))
			}
		}
		if len(pw.raw) < 1000*100/2048 {
			t.Errorf("%d batches, want about one per 2048 bytes", len(pw.raw))
		}
	})
	t.Run("maxAttempts", func(t *testing.T) {
		t.Parallel()
		k, topics := newKafka(t, 3, "in")
		pw := watchProduce(k, t, func(pr *kmsg.ProduceRequest) kmsg.Response {
			return produceError(pr, kafka.NotLeaderForPartition) // retriable, for ever
		})
		p := testPlan(k, topics[0], writeSamples(t, keyedSamples(30, 30)), plan.Scenario{Type: "Constant", TargetRate: 300}, 100*time.Millisecond)
		p.Target.Producer = &plan.Producer{MaxAttempts: 2}
		p.Samples.Loop = false
		r, _ := run(context.Background(), t, p, Options{})
		if r.Acked != 0 || r.Failed != 30 || r.Errors["NotLeaderForPartition"] != 30 {
			t.Fatalf("acked %d failed %d %v, want 30 failed as NotLeaderForPartition", r.Acked, r.Failed, r.Errors)
		}
		pw.mu.Lock()
		defer pw.mu.Unlock()
		for _, n := range pw.raw {
			if n != 2 {
				t.Errorf("a batch was sent %d times, want maxAttempts 2", n)
			}
		}
	})
	t.Run("writeTimeout", func(t *testing.T) {
		t.Parallel()
		k, topics := newKafka(t, 1, "in")
		watchProduce(k, t, func(pr *kmsg.ProduceRequest) kmsg.Response {
			time.Sleep(time.Second) // longer than the write timeout
			return produceError(pr, 0)
		})
		p := testPlan(k, topics[0], writeSamples(t, keyedSamples(10, 10)), plan.Scenario{Type: "Constant", TargetRate: 1000}, 10*time.Millisecond)
		p.Target.Producer = &plan.Producer{MaxAttempts: 1, WriteTimeout: metav1.Duration{Duration: 100 * time.Millisecond}}
		p.Samples.Loop = false
		r, _ := run(context.Background(), t, p, Options{})
		if r.Acked != 0 || r.Failed != 10 || r.Errors[ClassTimeout] != 10 {
			t.Fatalf("acked %d failed %d %v, want 10 failed as %s", r.Acked, r.Failed, r.Errors, ClassTimeout)
		}
	})
}

// produceError answers every partition of pr with code.
func produceError(pr *kmsg.ProduceRequest, code kafka.Error) kmsg.Response {
	resp := pr.ResponseKind().(*kmsg.ProduceResponse)
	for _, topic := range pr.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic = topic.Topic
		for _, p := range topic.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = int16(code)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// TestErrorClassOfMetadataErrors: a batch whose partition has no leader, or is not in
// the transport's metadata, fails under the Kafka error's name, not a Go type's.
func TestErrorClassOfMetadataErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{rawproduce.NewError(protocol.NewErrNoLeader("in", 1)), "LeaderNotAvailable"},
		{rawproduce.NewError(protocol.NewErrNoPartition("in", 9)), "UnknownTopicOrPartition"},
		{rawproduce.NewError(protocol.NewErrNoTopic("in")), "UnknownTopicOrPartition"},
	} {
		if got := errorClass(tc.err); got != tc.want {
			t.Errorf("errorClass(%v) = %q, want %q", tc.err, got, tc.want)
		}
		if !retriable(tc.err) {
			t.Errorf("%v is not retried, want it retried until the metadata knows the leader", tc.err)
		}
	}
}

// TestBatchDecodes: a batch the worker encodes reads back with kafka-go's decoder, CRC
// checked, with every codec: keys (null for a keyless sample), values, the sample's own
// headers then the run headers, timestamps and offsets.
func TestBatchDecodes(t *testing.T) {
	key := "k1"
	lines := []sampleLine{
		{Key: &key, Value: `{"a":1}`, Headers: map[string]string{"sample-id": "0"}},
		{Value: "", Headers: map[string]string{}}, // keyless, empty value
	}
	for _, codec := range []kafka.Compression{0, kafka.Gzip, kafka.Snappy, kafka.Lz4, kafka.Zstd} {
		k, topics := newKafka(t, 3, "in")
		p := testPlan(k, topics[0], writeSamples(t, lines), plan.Scenario{Type: "Constant", TargetRate: 10}, time.Second)
		w, err := New(p, Options{Log: testLog(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Prepare(context.Background()); err != nil {
			t.Fatal(err)
		}
		var b batch
		b.reset(1, 4, 1024)
		base := time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC).UnixNano()
		for i := range 4 {
			b.add(&w.encoded[i%2], int64(100+i), base+int64(i)*int64(3*time.Millisecond), base)
		}
		if err := b.seal(codec.Codec()); err != nil {
			t.Fatal(err)
		}
		var rs protocol.RecordSet
		if _, err := rs.ReadFrom(bytes.NewReader(b.raw)); err != nil {
			t.Fatalf("codec %v: kafka-go cannot read the batch: %v", codec, err)
		}
		for i := 0; ; i++ {
			rec, err := rs.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				if i != 4 {
					t.Fatalf("codec %v: %d records, want 4", codec, i)
				}
				break
			}
			if err != nil {
				t.Fatalf("codec %v: record %d: %v", codec, i, err)
			}
			gotKey, _ := protocol.ReadAll(rec.Key)
			gotValue, _ := protocol.ReadAll(rec.Value)
			var names []string
			hs := map[string]string{}
			for _, h := range rec.Headers {
				names = append(names, h.Key)
				hs[h.Key] = string(h.Value)
			}
			wantKey, wantNames := []byte(key), []string{"sample-id", runheaders.RunID, runheaders.Worker, runheaders.Sequence, runheaders.Intended}
			if i%2 == 1 {
				wantKey, wantNames = nil, wantNames[1:]
			}
			wantTime := time.Unix(0, base+int64(i)*int64(3*time.Millisecond)).Truncate(time.Millisecond)
			if !bytes.Equal(gotKey, wantKey) || (gotKey == nil) != (wantKey == nil) || string(gotValue) != lines[i%2].Value ||
				!slices.Equal(names, wantNames) || hs[runheaders.Sequence] != strconv.Itoa(100+i) ||
				hs[runheaders.Intended] != strconv.FormatInt(base+int64(i)*int64(3*time.Millisecond), 10) ||
				hs[runheaders.RunID] != p.RunID || rec.Offset != int64(i) || !rec.Time.Equal(wantTime) {
				t.Errorf("codec %v record %d: key %q value %q headers %v (%v) offset %d time %v",
					codec, i, gotKey, gotValue, names, hs, rec.Offset, rec.Time)
			}
		}
	}
}
