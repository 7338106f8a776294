package record

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/streamreplay/streamreplay/internal/kafkaconn"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/samples"
)

// OffsetRange is the offsets From to To of one partition, both included.
type OffsetRange struct{ From, To int64 }

// Bounds says which records to read. The zero value reads every partition from its first
// record to the end it had when the recording started: a recording never waits for new
// records.
type Bounds struct {
	// Since and Until bound by timestamp, as Kafka's offsets-for-times does: from the first
	// record of each partition at or after Since, to the last before the first at or after Until.
	Since, Until time.Time
	// Count is the most records in all; the earliest by timestamp are kept, each partition
	// contributing a prefix, so every key keeps its order. 0: no limit.
	Count int
	// Offsets, when set, reads only these partitions and offsets.
	Offsets map[int32]OffsetRange
}

// ReadOptions says what to read and how to connect.
type ReadOptions struct {
	Kafka  plan.Kafka
	Topic  string
	Bounds Bounds
	// IdleTimeout ends the read of a partition that sends nothing for this long before
	// its end offset, with an error. 0 means 30s.
	IdleTimeout time.Duration
	// Progress, when set, is told of each partition read.
	Progress func(partition int32, records int)
}

// Read reads the topic's partitions within the bounds; each partition's records in
// offset order.
func Read(ctx context.Context, o ReadOptions) ([][]Record, error) {
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 30 * time.Second
	}
	transport, err := kafkaconn.Transport(o.Kafka)
	if err != nil {
		return nil, err
	}
	counts, err := kafkaconn.CheckTopics(ctx, o.Kafka, transport, o.Topic)
	if err != nil {
		return nil, err
	}
	dialer, err := kafkaconn.Dialer(o.Kafka)
	if err != nil {
		return nil, err
	}
	n := int32(counts[o.Topic])
	var ids []int32
	if o.Bounds.Offsets != nil {
		for p := range o.Bounds.Offsets {
			if p >= n {
				return nil, fmt.Errorf("--offsets names partition %d, but topic %q has %d partitions (0 to %d)", p, o.Topic, n, n-1)
			}
			ids = append(ids, p)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	} else {
		for p := range n {
			ids = append(ids, p)
		}
	}
	out := make([][]Record, 0, len(ids))
	for _, p := range ids {
		start, end, err := o.span(ctx, dialer, p)
		if err != nil {
			return nil, err
		}
		recs, err := o.readPartition(ctx, dialer, p, start, end)
		if err != nil {
			return nil, err
		}
		if o.Progress != nil {
			o.Progress(p, len(recs))
		}
		out = append(out, recs)
	}
	return out, nil
}

// span finds the offsets [start, end) to read in partition p.
func (o *ReadOptions) span(ctx context.Context, dialer *kafka.Dialer, p int32) (int64, int64, error) {
	conn, err := dialLeader(ctx, dialer, o.Kafka.BootstrapServers, o.Topic, p)
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = conn.Close() }()
	first, last, err := conn.ReadOffsets()
	if err != nil {
		return 0, 0, fmt.Errorf("reading the offsets of %s partition %d: %w", o.Topic, p, err)
	}
	start, end := first, last
	at := func(t time.Time) (int64, error) {
		off, err := conn.ReadOffset(t)
		if err != nil {
			return 0, fmt.Errorf("finding the offset at %s in %s partition %d: %w", t.Format(time.RFC3339), o.Topic, p, err)
		}
		if off < 0 { // no record at or after t
			return last, nil
		}
		return off, nil
	}
	if !o.Bounds.Since.IsZero() {
		if start, err = at(o.Bounds.Since); err != nil {
			return 0, 0, err
		}
	}
	if !o.Bounds.Until.IsZero() {
		if end, err = at(o.Bounds.Until); err != nil {
			return 0, 0, err
		}
	}
	if r, ok := o.Bounds.Offsets[p]; ok {
		start, end = max(start, r.From), min(end, r.To+1)
	}
	return start, max(start, end), nil
}

func dialLeader(ctx context.Context, dialer *kafka.Dialer, brokers []string, topic string, p int32) (*kafka.Conn, error) {
	var errs []error
	for _, b := range brokers {
		conn, err := dialer.DialLeader(ctx, "tcp", b, topic, int(p))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("connecting to the leader of %s partition %d: %w", topic, p, errors.Join(errs...))
}

func (o *ReadOptions) readPartition(ctx context.Context, dialer *kafka.Dialer, p int32, start, end int64) ([]Record, error) {
	if start >= end {
		return nil, nil
	}
	limit := end - start
	if o.Bounds.Count > 0 {
		limit = min(limit, int64(o.Bounds.Count))
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   o.Kafka.BootstrapServers,
		Topic:     o.Topic,
		Partition: int(p),
		Dialer:    dialer,
		MinBytes:  1,
		MaxBytes:  16 << 20,
		MaxWait:   250 * time.Millisecond,
	})
	defer func() { _ = r.Close() }()
	if err := r.SetOffset(start); err != nil {
		return nil, err
	}
	recs := make([]Record, 0, limit)
	for int64(len(recs)) < limit {
		rctx, cancel := context.WithTimeout(ctx, o.IdleTimeout)
		m, err := r.ReadMessage(rctx)
		cancel()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && r.Offset() >= end:
			// The partition ends with offsets that hold no record (transaction markers,
			// compacted away): nothing more to read.
			return recs, nil
		case errors.Is(err, context.DeadlineExceeded):
			return nil, fmt.Errorf("%s partition %d sent nothing for %s at offset %d (reading up to %d): is the broker reachable?", o.Topic, p, o.IdleTimeout, r.Offset(), end-1)
		case errors.Is(err, io.EOF):
			return nil, fmt.Errorf("reading %s partition %d: the connection closed at offset %d", o.Topic, p, r.Offset())
		default:
			return nil, fmt.Errorf("reading %s partition %d at offset %d: %w", o.Topic, p, r.Offset(), err)
		}
		if m.Offset >= end {
			break
		}
		rec := Record{Topic: m.Topic, Partition: int32(m.Partition), Offset: m.Offset, Timestamp: m.Time, Key: m.Key, Value: m.Value}
		for _, h := range m.Headers {
			rec.Headers = append(rec.Headers, samples.Header{Key: h.Key, Value: h.Value})
		}
		recs = append(recs, rec)
		if m.Offset+1 >= end {
			break
		}
	}
	return recs, nil
}
