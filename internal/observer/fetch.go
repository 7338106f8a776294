package observer

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	fetchAPI "github.com/segmentio/kafka-go/protocol/fetch"
)

// The observer decodes fetched record batches itself (decode.go): kafka-go's
// fetch decoding reads each field through its page buffers and costs about five
// times franz-go's CPU per record (docs/design.md, "The observer"). kafka-go picks
// a response's type by API key only (protocol.ReadResponse ignores type
// overrides), so this registers, for the whole process, a Fetch response that
// keeps each partition's record set as raw bytes. kafka.Client.Fetch no longer
// works in a process that links this package; nothing in streamreplay uses it
// (kafka.Reader decodes on kafka.Conn, without the registry).
func init() {
	protocol.Register(&fetchAPI.Request{}, &rawFetchResponse{})
}

// rawFetchResponse is fetchAPI.Response with the record sets kept as bytes.
type rawFetchResponse struct {
	ThrottleTimeMs int32           `kafka:"min=v1,max=v11"`
	ErrorCode      int16           `kafka:"min=v7,max=v11"`
	SessionID      int32           `kafka:"min=v7,max=v11"`
	Topics         []rawFetchTopic `kafka:"min=v0,max=v11"`
}

func (r *rawFetchResponse) ApiKey() protocol.ApiKey { return protocol.Fetch } //nolint:revive // kafka-go's protocol.Message names it so

type rawFetchTopic struct {
	Topic      string              `kafka:"min=v0,max=v11"`
	Partitions []rawFetchPartition `kafka:"min=v0,max=v11"`
}

type rawFetchPartition struct {
	Partition            int32                          `kafka:"min=v0,max=v11"`
	ErrorCode            int16                          `kafka:"min=v0,max=v11"`
	HighWatermark        int64                          `kafka:"min=v0,max=v11"`
	LastStableOffset     int64                          `kafka:"min=v4,max=v11"`
	LogStartOffset       int64                          `kafka:"min=v5,max=v11"`
	AbortedTransactions  []fetchAPI.ResponseTransaction `kafka:"min=v4,max=v11"`
	PreferredReadReplica int32                          `kafka:"min=v11,max=v11"`
	Records              rawRecordSet                   `kafka:"min=v0,max=v11"`
}

// rawRecordSet is a record set's bytes (its batches), read in one piece.
type rawRecordSet []byte

func (s *rawRecordSet) ReadFrom(r io.Reader) (int64, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return 0, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n <= 0 {
		*s = nil
		return 4, nil
	}
	*s = make([]byte, n) // not reused: the fetched records' keys, values and headers point into it
	m, err := io.ReadFull(r, *s)
	return int64(4 + m), err
}

// fetch sends one fetch request for a partition from offset and returns the
// partition's answer: its record batches' bytes and aborted transactions.
func (o *Observer) fetch(ctx context.Context, topic string, partition int, offset int64) (*rawFetchPartition, error) {
	ctx, cancel := context.WithTimeout(ctx, o.client.Timeout+fetchMaxWait)
	defer cancel()
	transport := o.client.Transport
	if transport == nil {
		transport = kafka.DefaultTransport
	}
	m, err := transport.RoundTrip(ctx, o.client.Addr, &fetchAPI.Request{
		ReplicaID: -1, MaxWaitTime: int32(fetchMaxWait / time.Millisecond), MinBytes: fetchMinBytes, MaxBytes: fetchMaxBytes,
		IsolationLevel: int8(kafka.ReadCommitted), SessionID: -1, SessionEpoch: -1,
		Topics: []fetchAPI.RequestTopic{{Topic: topic, Partitions: []fetchAPI.RequestPartition{{
			Partition: int32(partition), CurrentLeaderEpoch: -1, FetchOffset: offset, LogStartOffset: -1, PartitionMaxBytes: fetchMaxBytes,
		}}}},
	})
	if err != nil {
		return nil, fmt.Errorf("fetching: %w", err)
	}
	res, ok := m.(*rawFetchResponse)
	if !ok {
		return nil, fmt.Errorf("fetching: unexpected response type %T", m)
	}
	if res.ErrorCode != 0 {
		return nil, fmt.Errorf("fetching: %w", kafka.Error(res.ErrorCode))
	}
	if len(res.Topics) != 1 || len(res.Topics[0].Partitions) != 1 {
		return nil, fmt.Errorf("fetching: the response has no answer for topic %q partition %d", topic, partition)
	}
	p := &res.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		return nil, fmt.Errorf("fetching: %w", kafka.Error(p.ErrorCode))
	}
	return p, nil
}
