package observer

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamreplay/streamreplay/internal/plan"
)

// seenRecord is what a test compares of a record read.
type seenRecord struct {
	Offset  int64
	Key     string
	Value   string
	Null    bool // a null value
	Headers []kafka.Header
	Time    int64 // unix millis
}

// franzRecords reads topic partition 0 from its start with franz-go, read_committed,
// until it has n records.
func franzRecords(t *testing.T, brokers []string, topic string, n int) []seenRecord {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []seenRecord
	for len(out) < n && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			s := seenRecord{Offset: r.Offset, Key: string(r.Key), Value: string(r.Value), Null: r.Value == nil, Time: r.Timestamp.UnixMilli()}
			for _, h := range r.Headers {
				s.Headers = append(s.Headers, kafka.Header{Key: h.Key, Value: h.Value})
			}
			out = append(out, s)
		})
	}
	if len(out) != n {
		t.Fatalf("franz-go read %d records of %s, want %d", len(out), topic, n)
	}
	return out
}

// observerRecords reads topic partition 0 from its start with the observer's
// partition reader until it has n records, then reads on for a moment to
// catch any record too many.
func observerRecords(t *testing.T, brokers []string, topic string, n int) []seenRecord {
	t.Helper()
	o := newDecodeObserver(t, brokers)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan seenRecord, n+100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		o.readPartition(ctx, topic, 0, 0, func(m *kafka.Message, _ time.Time) {
			s := seenRecord{Offset: m.Offset, Key: string(m.Key), Value: string(m.Value), Null: m.Value == nil, Time: m.Time.UnixMilli()}
			for _, h := range m.Headers {
				s.Headers = append(s.Headers, kafka.Header{Key: h.Key, Value: h.Value})
			}
			got <- s
		})
	}()
	var out []seenRecord
	if err := eventually(30*time.Second, func() bool {
		for {
			select {
			case s := <-got:
				out = append(out, s)
			default:
				return len(out) >= n
			}
		}
	}); err != nil {
		t.Fatalf("the observer read %d records of %s, want %d", len(out), topic, n)
	}
	// One more fetch round (an idle fetch waits fetchMaxWait): nothing else may come.
	_ = eventually(2*fetchMaxWait, func() bool { return false })
	cancel()
	<-done
	close(got)
	for s := range got {
		out = append(out, s)
	}
	return out
}

func newDecodeObserver(t *testing.T, brokers []string) *Observer {
	t.Helper()
	p := testPlan(brokers, time.Minute, 0)
	p.DLQ = &plan.DLQ{Topic: "t"}
	o, err := New(Options{Plan: p, Pod: "decode-test", Log: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// firstBatchCodec is the compression codec of topic partition 0's first batch.
func firstBatchCodec(t *testing.T, o *Observer, topic string) compress.Compression {
	t.Helper()
	resp, err := o.fetch(context.Background(), topic, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := resp.Records
	if len(b) < batchHeaderSize {
		t.Fatalf("topic %s: fetched %d bytes, want a batch", topic, len(b))
	}
	return compress.Compression(binary.BigEndian.Uint16(b[batchAttributesAt:]) & attrCompression)
}

func testHeaders(i int) []kafka.Header {
	hs := []kafka.Header{{Key: "run", Value: []byte("r1")}, {Key: "seq", Value: []byte(fmt.Sprint(i))}}
	if i%3 == 0 {
		hs = append(hs, kafka.Header{Key: "empty", Value: []byte{}})
	}
	return hs
}

// TestReadPartitionDecodesEveryCodec: records produced by franz-go and by
// kafka-go with each compression codec are read by the observer exactly as
// franz-go's consumer reads them: offsets, keys, values (null ones too),
// headers, timestamps, and not one record more.
func TestReadPartitionDecodesEveryCodec(t *testing.T) {
	const n = 300
	codecs := []compress.Compression{0, compress.Gzip, compress.Snappy, compress.Lz4, compress.Zstd}
	for _, codec := range codecs {
		for _, producer := range []string{"franz-go", "kafka-go"} {
			t.Run(fmt.Sprintf("%s/%s", producer, codec), func(t *testing.T) {
				brokers := newCluster(t, 1, map[string]int32{"t": 1})
				base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
				value := func(i int) []byte {
					if i%7 == 0 {
						return nil
					}
					return []byte(strings.Repeat(fmt.Sprintf("value-%d ", i), 1+i%5))
				}
				switch producer {
				case "franz-go":
					opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("t"), kgo.RecordPartitioner(kgo.ManualPartitioner())}
					switch codec {
					case 0:
						opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
					case compress.Gzip:
						opts = append(opts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
					case compress.Snappy:
						opts = append(opts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
					case compress.Lz4:
						opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
					case compress.Zstd:
						opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
					}
					cl, err := kgo.NewClient(opts...)
					if err != nil {
						t.Fatal(err)
					}
					defer cl.Close()
					for i := range n {
						r := &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: value(i), Timestamp: base.Add(time.Duration(i) * time.Millisecond)}
						for _, h := range testHeaders(i) {
							r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
						}
						cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
							if err != nil {
								t.Error(err)
							}
						})
						if i%100 == 99 { // several batches
							if err := cl.Flush(context.Background()); err != nil {
								t.Fatal(err)
							}
						}
					}
				case "kafka-go":
					w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: "t", Compression: codec,
						BatchSize: 100, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
					msgs := make([]kafka.Message, n)
					for i := range msgs {
						msgs[i] = kafka.Message{Key: fmt.Appendf(nil, "k%d", i), Value: value(i), Headers: testHeaders(i), Time: base.Add(time.Duration(i) * time.Millisecond)}
					}
					if err := w.WriteMessages(context.Background(), msgs...); err != nil {
						t.Fatal(err)
					}
					_ = w.Close()
				}
				if got := firstBatchCodec(t, newDecodeObserver(t, brokers), "t"); got != codec {
					t.Fatalf("first batch's codec = %v, want %v", got, codec)
				}
				want := franzRecords(t, brokers, "t", n)
				got := observerRecords(t, brokers, "t", n)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("records (-franz-go +observer):\n%s", diff)
				}
			})
		}
	}
}

// TestReadPartitionSkipsTransactionMarkers: committed transactions' records are
// read exactly once, with franz-go's offsets, and their commit markers (control
// batches) are not handed on as records; an aborted transaction's records are
// not read either.
func TestReadPartitionSkipsTransactionMarkers(t *testing.T) {
	brokers := newCluster(t, 1, map[string]int32{"t": 1})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("t"), kgo.TransactionalID("decode-test"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	i := 0
	for _, txn := range []struct {
		n      int
		commit kgo.TransactionEndTry
	}{{10, kgo.TryCommit}, {5, kgo.TryAbort}, {10, kgo.TryCommit}} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for range txn.n {
			if err := cl.ProduceSync(ctx, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i), Headers: []kgo.RecordHeader{{Key: "seq", Value: fmt.Append(nil, i)}}}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			i++
		}
		if err := cl.EndTransaction(ctx, txn.commit); err != nil {
			t.Fatal(err)
		}
	}
	want := franzRecords(t, brokers, "t", 20)
	got := observerRecords(t, brokers, "t", 20)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-franz-go +observer):\n%s", diff)
	}
}

// TestDecodeTruncatedBatch: a batch cut off at the end of a fetch response (the
// response's size limit) is left for the next fetch, as kafka-go does; a first
// batch cut off, or a corrupted one, is an error, not a silent skip.
func TestDecodeTruncatedBatch(t *testing.T) {
	brokers := newCluster(t, 1, map[string]int32{"t": 1})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("t"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for batch := range 2 {
		for i := range 3 {
			cl.Produce(context.Background(), &kgo.Record{Value: fmt.Appendf(nil, "b%d-%d", batch, i)}, nil)
		}
		if err := cl.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := newDecodeObserver(t, brokers).fetch(context.Background(), "t", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := resp.Records
	firstLen := batchLengthEnd + int(binary.BigEndian.Uint32(b[8:]))
	if firstLen >= len(b) {
		t.Fatalf("fetched one batch of %d bytes, want two", len(b))
	}
	values := func(msgs []kafka.Message) (out []string) {
		for _, m := range msgs {
			out = append(out, string(m.Value))
		}
		return out
	}

	msgs, next, err := newBatchDecoder().decode("t", 0, 0, b[:len(b)-5], nil)
	if err != nil {
		t.Fatalf("truncated last batch: %v", err)
	}
	if diff := cmp.Diff([]string{"b0-0", "b0-1", "b0-2"}, values(msgs)); diff != "" {
		t.Errorf("records before the truncated batch (-want +got):\n%s", diff)
	}
	if next != 3 {
		t.Errorf("next offset = %d, want 3 (the truncated batch is fetched again)", next)
	}

	if _, next, err := newBatchDecoder().decode("t", 0, 0, b[:firstLen-1], nil); err == nil || next != 0 {
		t.Errorf("truncated first batch: next %d, err %v; want 0 and an error", next, err)
	}

	corrupt := slices.Clone(b)
	corrupt[len(corrupt)-1] ^= 0xff
	if _, _, err := newBatchDecoder().decode("t", 0, 0, corrupt, nil); err == nil || !strings.Contains(err.Error(), "CRC") {
		t.Errorf("corrupted batch: err %v, want a CRC mismatch", err)
	}

	// From an offset inside the first batch: the records before it are not handed on.
	msgs, next, err = newBatchDecoder().decode("t", 0, 4, b, nil)
	if err != nil || next != 6 {
		t.Fatalf("from offset 4: next %d, err %v; want 6, nil", next, err)
	}
	if diff := cmp.Diff([]string{"b1-1", "b1-2"}, values(msgs)); diff != "" {
		t.Errorf("records from offset 4 (-want +got):\n%s", diff)
	}
}
