package worker

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/segmentio/kafka-go"

	"github.com/streamreplay/streamreplay/internal/runheaders"
)

// The worker encodes Kafka record batches (format v2, magic 2) itself: the samples are
// known before the run, so each sample's key, value and constant headers are encoded once
// (encodedSample.pre), and a record costs a few varints, its two run-header values and a
// copy. kafka-go's Writer encodes every field of every record through reflection, which
// was a third of the worker's CPU (docs/design.md, "The worker").

// Offsets in a batch's buffer, which starts with the record set's int32 size (the raw
// record set of a Produce request, protocol.RawRecordSet).
const (
	offBatchLength = 4 + 8                      // after the size and baseOffset
	offCRC         = offBatchLength + 4 + 4 + 1 // after batchLength, partitionLeaderEpoch, magic
	offAttributes  = offCRC + 4
	offLastDelta   = offAttributes + 2
	offFirstTS     = offLastDelta + 4
	offMaxTS       = offFirstTS + 8
	offProducerID  = offMaxTS + 8
	offCount       = offProducerID + 8 + 2 + 4 // after producerId, producerEpoch, baseSequence
	offRecords     = offCount + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodedSample is a sample's record, encoded but for its first fields and the values of
// the two per-record run headers.
type encodedSample struct {
	// pre is key, value, the header count and the sample's own headers.
	pre []byte
	// runHeaders is the constant run headers and the sequence header's key, shared by
	// every sample of the worker.
	runHeaders []byte
	// partition is where Key partitioning sends the record (murmur2 of its key, as the
	// Java client and kafka-go's Murmur2Balancer), or -1 for a keyless record.
	partition int32
}

// intendedKey is the intended-time header's key, encoded: it follows the sequence value.
var intendedKey = appendVarBytes(nil, []byte(runheaders.Intended))

// encodeSamples encodes every sample once for the send loop, which then reads only
// w.encoded and each sample's partition and size.
func (w *Worker) encodeSamples() {
	n := w.partitions[w.plan.Target.Topic]
	parts := make([]int, n)
	for i := range parts {
		parts[i] = i
	}
	murmur := kafka.Murmur2Balancer{}
	var runHeaders, scratch []byte
	w.encoded = make([]encodedSample, len(w.samples))
	for i := range w.samples {
		s := &w.samples[i]
		e := &w.encoded[i]
		e.partition = -1
		if s.key != nil && n > 0 {
			e.partition = int32(murmur.Balance(kafka.Message{Key: s.key}, parts...))
		}
		b := scratch[:0]
		b = appendVarBytes(b, s.key)
		b = appendVarBytes(b, s.value)
		b = binary.AppendVarint(b, int64(len(s.headers)))
		own := len(s.headers) - 4 // then the run id, the worker, the sequence and the intended time
		for _, h := range s.headers[:own] {
			b = appendVarBytes(b, []byte(h.Key))
			b = appendVarBytes(b, h.Value)
		}
		if runHeaders == nil {
			for _, h := range s.headers[own : own+2] {
				runHeaders = appendVarBytes(runHeaders, []byte(h.Key))
				runHeaders = appendVarBytes(runHeaders, h.Value)
			}
			runHeaders = appendVarBytes(runHeaders, []byte(s.headers[own+2].Key))
		}
		scratch = b
		e.pre, e.runHeaders = bytes.Clone(b), runHeaders // exactly its size
		// The encoded record is all the run needs: drop the sample's own copy, so that
		// a worker holds each sample once.
		s.key, s.value, s.headers = nil, nil, nil
	}
}

// appendVarBytes appends b with its varint length, -1 for nil (a null key or value).
func appendVarBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// batch is the records to one partition sent in one Produce request. Its buffer is a raw
// record set; seqs, intended and handed are per record, for the acknowledgement.
type batch struct {
	partition int32
	buf       []byte
	n         int32
	firstMs   int64
	deadline  int64   // monotonic ns (since the loop's base) when its linger ends
	seqs      []int64 // sequence numbers
	intended  []int64 // unix ns
	handed    []int64 // unix ns when the send loop produced the record
	raw       []byte  // what is sent: buf, or its compressed form
	comp      bytes.Buffer
}

// reset empties b for partition, with room for records records of bytes bytes in all so
// that a batch does not grow while it is filled.
func (b *batch) reset(partition int32, records, bytes int) {
	b.partition, b.n, b.firstMs = partition, 0, 0
	if cap(b.buf) < offRecords+bytes {
		b.buf = make([]byte, offRecords, offRecords+bytes)
	}
	if cap(b.seqs) < records {
		b.seqs, b.intended, b.handed = make([]int64, 0, records), make([]int64, 0, records), make([]int64, 0, records)
	}
	b.buf = b.buf[:offRecords]
	b.seqs, b.intended, b.handed = b.seqs[:0], b.intended[:0], b.handed[:0]
	b.raw = nil
}

// size is the batch's encoded size so far, uncompressed.
func (b *batch) size() int { return len(b.buf) }

// recordSize is what appending e with these values adds to a batch, roughly (the
// varints of the deltas are counted at their largest).
func recordSize(e *encodedSample, seqDigits, intendedDigits int) int {
	return 5 + 1 + 10 + 5 + len(e.pre) + len(e.runHeaders) + 1 + seqDigits + len(intendedKey) + 1 + intendedDigits
}

// add appends one record and returns the bytes of its two run-header values.
func (b *batch) add(e *encodedSample, seq, intended, handed int64) int {
	var tmp [40]byte
	seqV := runheaders.AppendInt(tmp[:0], seq)
	intV := runheaders.AppendInt(tmp[len(seqV):len(seqV)], intended)
	ms := intended / 1e6
	if b.n == 0 {
		b.firstMs = ms
	}
	tsDelta, offDelta := ms-b.firstMs, int64(b.n)
	body := 1 + varintLen(tsDelta) + varintLen(offDelta) + len(e.pre) + len(e.runHeaders) +
		varintLen(int64(len(seqV))) + len(seqV) + len(intendedKey) + varintLen(int64(len(intV))) + len(intV)
	buf := binary.AppendVarint(b.buf, int64(body))
	buf = append(buf, 0) // attributes
	buf = binary.AppendVarint(buf, tsDelta)
	buf = binary.AppendVarint(buf, offDelta)
	buf = append(buf, e.pre...)
	buf = append(buf, e.runHeaders...)
	buf = binary.AppendVarint(buf, int64(len(seqV)))
	buf = append(buf, seqV...)
	buf = append(buf, intendedKey...)
	buf = binary.AppendVarint(buf, int64(len(intV)))
	buf = append(buf, intV...)
	b.buf = buf
	b.n++
	b.seqs = append(b.seqs, seq)
	b.intended = append(b.intended, intended)
	b.handed = append(b.handed, handed)
	return len(seqV) + len(intV)
}

// seal writes the batch header and, with a codec, compresses the records: b.raw is then
// the raw record set to send, the same on every attempt.
func (b *batch) seal(codec kafka.CompressionCodec) error {
	buf := b.buf
	if codec != nil {
		b.comp.Reset()
		b.comp.Write(buf[:offRecords])
		zw := codec.NewWriter(&b.comp)
		if _, err := zw.Write(buf[offRecords:]); err != nil {
			return fmt.Errorf("compressing a batch with %s: %w", codec.Name(), err)
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("compressing a batch with %s: %w", codec.Name(), err)
		}
		buf = b.comp.Bytes()
	}
	be := binary.BigEndian
	be.PutUint32(buf[0:], uint32(len(buf)-4))
	be.PutUint64(buf[4:], 0) // baseOffset
	be.PutUint32(buf[offBatchLength:], uint32(len(buf)-offBatchLength-4))
	be.PutUint32(buf[offBatchLength+4:], 0xffffffff) // partitionLeaderEpoch -1
	buf[offBatchLength+8] = 2                        // magic
	var attributes uint16
	if codec != nil {
		attributes = uint16(codec.Code()) & 0x7
	}
	be.PutUint16(buf[offAttributes:], attributes) // create time, not transactional
	be.PutUint32(buf[offLastDelta:], uint32(b.n-1))
	be.PutUint64(buf[offFirstTS:], uint64(b.firstMs))
	be.PutUint64(buf[offMaxTS:], uint64(b.intended[b.n-1]/1e6))
	be.PutUint64(buf[offProducerID:], 0xffffffffffffffff) // producerId -1
	be.PutUint16(buf[offProducerID+8:], 0xffff)           // producerEpoch -1
	be.PutUint32(buf[offProducerID+10:], 0xffffffff)      // baseSequence -1
	be.PutUint32(buf[offCount:], uint32(b.n))
	be.PutUint32(buf[offCRC:], crc32.Checksum(buf[offAttributes:], castagnoli))
	b.raw = buf
	return nil
}
