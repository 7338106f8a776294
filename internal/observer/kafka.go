package observer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Fetch settings of the partition readers: a fetch returns as soon as one
// record is there (latency is measured on arrival), and an idle partition is
// polled twice a second so that the end of the drain is not delayed.
const (
	fetchMinBytes = 1
	fetchMaxBytes = 8 << 20
	fetchMaxWait  = 500 * time.Millisecond
	queueCapacity = 1024
	errorLogEvery = 10 * time.Second // at most one log line per partition reader
)

func (o *Observer) brokers() string {
	return strings.Join(o.plan.Kafka.BootstrapServers, ",")
}

// startOffsets finds, per partition, the first offset of a record dated from
// or later. It asks for the high watermarks first: a partition without such a
// record then starts at the watermark read before, so that no record written
// between the two requests is missed.
func (o *Observer) startOffsets(ctx context.Context, topic string, partitions []int, from time.Time) ([]int64, error) {
	ends, err := o.listOffsets(ctx, topic, partitions, kafka.LastOffsetOf)
	if err != nil {
		return nil, err
	}
	at, err := o.listOffsets(ctx, topic, partitions, func(p int) kafka.OffsetRequest { return kafka.TimeOffsetOf(p, from) })
	if err != nil {
		return nil, err
	}
	for i := range at {
		if at[i] < 0 {
			at[i] = ends[i]
		}
	}
	return at, nil
}

// highWatermarks gives the next offset to be written of each partition.
func (o *Observer) highWatermarks(ctx context.Context, topic string, partitions []int) ([]int64, error) {
	return o.listOffsets(ctx, topic, partitions, kafka.LastOffsetOf)
}

// listOffsets returns one offset per partition, in the order of partitions;
// -1 where the broker has none (no record at or after a timestamp).
func (o *Observer) listOffsets(ctx context.Context, topic string, partitions []int, req func(int) kafka.OffsetRequest) ([]int64, error) {
	reqs := make([]kafka.OffsetRequest, len(partitions))
	for i, p := range partitions {
		reqs[i] = req(p)
	}
	resp, err := o.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("listing offsets of topic %q: %w", topic, err)
	}
	byPartition := make(map[int]int64, len(partitions))
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("listing offsets of topic %q partition %d: %w", topic, po.Partition, po.Error)
		}
		if reqs[0].Timestamp == kafka.LastOffset {
			byPartition[po.Partition] = po.LastOffset
			continue
		}
		byPartition[po.Partition] = -1
		for off := range po.Offsets { // one entry: the offset found for the timestamp
			byPartition[po.Partition] = off
		}
	}
	out := make([]int64, len(partitions))
	for i, p := range partitions {
		off, ok := byPartition[p]
		if !ok {
			return nil, fmt.Errorf("listing offsets of topic %q: no answer for partition %d", topic, p)
		}
		out[i] = off
	}
	return out, nil
}

// readPartition reads one partition from offset until ctx ends, handing each
// record to handle with the time it arrived. It reads without a consumer group,
// so it never commits offsets, least of all in the pipeline's group.
//
// It sends fetch requests itself on the observer's transport (fetch.go): a
// response's record sets are read whole and their batches decoded from memory
// (decode.go), where kafka-go decodes them field by field. The next fetch is on
// its way while the records of the last one are handled. Control records
// (transaction markers) are skipped, not handed on as records.
func (o *Observer) readPartition(ctx context.Context, topic string, partition int, offset int64, handle func(*kafka.Message, time.Time)) {
	fetched := make(chan fetchedRecords, 2)
	go o.fetchPartition(ctx, topic, partition, offset, fetched)
	for f := range fetched {
		for i := range f.msgs {
			handle(&f.msgs[i], f.recv)
		}
	}
}

// fetchedRecords are the records of one fetch response and when it arrived.
type fetchedRecords struct {
	msgs []kafka.Message
	recv time.Time
}

// fetchPartition fetches from offset until ctx ends, sending each response's records
// to out, which it closes at the end.
func (o *Observer) fetchPartition(ctx context.Context, topic string, partition int, offset int64, out chan<- fetchedRecords) {
	defer close(out)
	log := o.log.WithValues("topic", topic, "partition", partition)
	var lastErr time.Time
	dec := newBatchDecoder()
	for ctx.Err() == nil {
		resp, err := o.fetch(ctx, topic, partition, offset)
		recv := time.Now()
		var msgs []kafka.Message
		if err == nil {
			msgs, offset, err = dec.decode(topic, partition, offset, resp.Records, resp.AbortedTransactions)
		}
		if len(msgs) > 0 {
			select {
			case out <- fetchedRecords{msgs: msgs, recv: recv}:
			case <-ctx.Done():
				return
			}
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return
		}
		// Retried until the run ends; said now and then, not per retry.
		if now := time.Now(); now.Sub(lastErr) >= errorLogEvery {
			lastErr = now
			log.Error(err, "Reading a partition failed, retrying", "offset", offset)
		}
		t := time.NewTimer(fetchRetryBackoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// fetchRetryBackoff is the pause after a failed fetch.
const fetchRetryBackoff = 250 * time.Millisecond

// lagSample sums the pipeline group's lag over the input partitions:
// high watermark minus committed offset, or minus the run's start offset
// where the group has committed nothing yet.
func (o *Observer) lagSample(ctx context.Context, partitions []int, startOffsets []int64) (int64, error) {
	topic, group := o.plan.Pipeline.InputTopic, o.plan.Pipeline.ConsumerGroup
	ends, err := o.highWatermarks(ctx, topic, partitions)
	if err != nil {
		return 0, err
	}
	resp, err := o.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: partitions}})
	if err != nil {
		return 0, fmt.Errorf("fetching the committed offsets of group %q: %w", group, err)
	}
	// A group that never committed may not exist yet (kfake and newer brokers say so): nothing committed.
	if resp.Error != nil && !errors.Is(resp.Error, kafka.GroupIdNotFound) {
		return 0, fmt.Errorf("fetching the committed offsets of group %q: %w", group, resp.Error)
	}
	committed := make(map[int]int64, len(partitions))
	for _, p := range resp.Topics[topic] {
		if p.Error != nil && !errors.Is(p.Error, kafka.GroupIdNotFound) {
			return 0, fmt.Errorf("fetching the committed offset of group %q on partition %d: %w", group, p.Partition, p.Error)
		}
		committed[p.Partition] = p.CommittedOffset
	}
	var lag int64
	perPartition := make(map[int32]int64, len(partitions))
	for i, p := range partitions {
		from, ok := committed[p]
		if !ok || from < 0 {
			from = startOffsets[i]
		}
		perPartition[int32(p)] = max(0, ends[i]-from)
		lag += perPartition[int32(p)]
	}
	o.noteLag(lag, perPartition)
	return lag, nil
}
