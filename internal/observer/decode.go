package observer

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	fetchAPI "github.com/segmentio/kafka-go/protocol/fetch"
)

// Record batch layout (magic v2): the fixed header's field offsets.
const (
	batchLengthEnd     = 12 // baseOffset int64, batchLength int32
	batchMagicAt       = 16
	batchCRCAt         = 17
	batchAttributesAt  = 21
	batchLastDeltaAt   = 23
	batchFirstTimeAt   = 27
	batchMaxTimeAt     = 35
	batchRecordCountAt = 57
	batchHeaderSize    = 61

	batchProducerIDAt = 43

	attrCompression   = 0x07
	attrLogAppendTime = 0x08
	attrTransactional = 0x10
	attrControl       = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchDecoder decodes the record batches of a partition's fetch responses. One
// per partition reader: it keeps the header keys seen (interned, so that a
// header key is not a new string per record).
type batchDecoder struct {
	keys    map[string]string
	headers []kafka.Header // where records' headers are cut from: one allocation for many records
}

const (
	maxInternedKeys = 1024
	headerSlab      = 4096
)

func newBatchDecoder() *batchDecoder { return &batchDecoder{keys: map[string]string{}} }

// decode returns the records of the batches in b at or after offset and the
// offset to fetch next. Control batches (transaction markers) are skipped,
// their offsets too, and so are the batches of the aborted transactions the
// fetch response lists (read_committed: the broker sends them, the client drops
// them, as the Java client and franz-go do). A batch cut off at the end of b (a
// fetch's size limit) is left for the next fetch, as kafka-go and the Java
// client do; a first batch cut off is an error, since fetching again would not
// move on. Keys, values and header values point into b (or into the batch's
// decompressed bytes), which must not change afterwards.
func (d *batchDecoder) decode(topic string, partition int, offset int64, b []byte, aborted []fetchAPI.ResponseTransaction) ([]kafka.Message, int64, error) {
	var msgs []kafka.Message
	aborted = slices.SortedFunc(slices.Values(aborted), func(a, b fetchAPI.ResponseTransaction) int { return cmp.Compare(a.FirstOffset, b.FirstOffset) })
	var abortedProducers map[int64]bool
	first := true
	for len(b) > 0 {
		if len(b) < batchLengthEnd {
			break
		}
		base := int64(binary.BigEndian.Uint64(b))
		size := batchLengthEnd + int(int32(binary.BigEndian.Uint32(b[8:])))
		if size < batchHeaderSize || len(b) < size {
			if first && size > len(b) {
				return msgs, offset, fmt.Errorf("record batch at offset %d: %d bytes, the fetch returned only %d", base, size, len(b))
			}
			if size < batchHeaderSize && size <= len(b) {
				return msgs, offset, fmt.Errorf("record batch at offset %d: length %d is shorter than a batch header", base, size)
			}
			break
		}
		batch := b[:size]
		b = b[size:]
		first = false
		if magic := batch[batchMagicAt]; magic != 2 {
			return msgs, offset, fmt.Errorf("record batch at offset %d: message format v%d is not supported (v2, Kafka 0.11 and later)", base, magic)
		}
		if want, got := binary.BigEndian.Uint32(batch[batchCRCAt:]), crc32.Checksum(batch[batchAttributesAt:], castagnoli); want != got {
			return msgs, offset, fmt.Errorf("record batch at offset %d: CRC mismatch", base)
		}
		attrs := binary.BigEndian.Uint16(batch[batchAttributesAt:])
		end := base + int64(int32(binary.BigEndian.Uint32(batch[batchLastDeltaAt:]))) + 1
		if end <= offset {
			continue
		}
		records := batch[batchHeaderSize:]
		if codec := attrs & attrCompression; codec != 0 {
			var err error
			if records, err = decompress(compress.Compression(codec), records); err != nil {
				return msgs, offset, fmt.Errorf("record batch at offset %d: %w", base, err)
			}
		}
		if producer := int64(binary.BigEndian.Uint64(batch[batchProducerIDAt:])); attrs&attrTransactional != 0 {
			for len(aborted) > 0 && aborted[0].FirstOffset < end {
				if abortedProducers == nil {
					abortedProducers = map[int64]bool{}
				}
				abortedProducers[aborted[0].ProducerID] = true
				aborted = aborted[1:]
			}
			if attrs&attrControl != 0 {
				if isAbortMarker(records) {
					delete(abortedProducers, producer)
				}
			} else if abortedProducers[producer] {
				offset = end
				continue
			}
		}
		if attrs&attrControl != 0 {
			offset = end
			continue
		}
		firstTime := int64(binary.BigEndian.Uint64(batch[batchFirstTimeAt:]))
		logAppendTime := attrs&attrLogAppendTime != 0
		maxTime := int64(binary.BigEndian.Uint64(batch[batchMaxTimeAt:]))
		n := int(int32(binary.BigEndian.Uint32(batch[batchRecordCountAt:])))
		r := recordReader{b: records}
		msgs = slices.Grow(msgs, min(n, len(records)))
		for range n {
			m, ok := d.record(&r, base, firstTime)
			if !ok {
				return msgs, offset, fmt.Errorf("record batch at offset %d: malformed record", base)
			}
			if m.Offset < offset { // the batch starts before the offset asked for
				continue
			}
			if logAppendTime {
				m.Time = time.UnixMilli(maxTime)
			}
			m.Topic, m.Partition = topic, partition
			msgs = append(msgs, m)
		}
		offset = max(offset, end)
	}
	return msgs, offset, nil
}

// isAbortMarker says whether a control batch's records are an abort marker:
// the first record's key is a version (int16) and a type, 0 for abort.
func isAbortMarker(records []byte) bool {
	r := recordReader{b: records}
	r.varint() // length
	r.pos++    // attributes
	r.varint() // timestamp delta
	r.varint() // offset delta
	key := r.bytes()
	return !r.bad && len(key) >= 4 && binary.BigEndian.Uint16(key[2:]) == 0
}

// record decodes one record of a batch.
func (d *batchDecoder) record(r *recordReader, base, firstTime int64) (kafka.Message, bool) {
	var m kafka.Message
	length := r.varint()
	start := r.pos
	r.pos++ // attributes, unused
	m.Time = time.UnixMilli(firstTime + r.varint())
	m.Offset = base + r.varint()
	m.Key = r.bytes()
	m.Value = r.bytes()
	if nh := r.varint(); nh > 0 && nh <= int64(len(r.b)) {
		if cap(d.headers)-len(d.headers) < int(nh) {
			d.headers = make([]kafka.Header, 0, max(int(nh), headerSlab))
		}
		start := len(d.headers)
		d.headers = d.headers[:start+int(nh)]
		m.Headers = d.headers[start : start+int(nh) : start+int(nh)]
		for i := range m.Headers {
			m.Headers[i] = kafka.Header{Key: d.key(r.bytes()), Value: r.bytes()}
		}
	} else if nh != 0 {
		r.bad = true
	}
	return m, !r.bad && int64(r.pos-start) == length
}

// key returns b as a string, the same string for the same key.
func (d *batchDecoder) key(b []byte) string {
	if k, ok := d.keys[string(b)]; ok {
		return k
	}
	k := string(b)
	if len(d.keys) < maxInternedKeys {
		d.keys[k] = k
	}
	return k
}

// recordReader reads a batch's records; bad is set, and reads return zero
// values, once a read would go past the end.
type recordReader struct {
	b   []byte
	pos int
	bad bool
}

func (r *recordReader) varint() int64 {
	if r.bad || r.pos > len(r.b) {
		r.bad = true
		return 0
	}
	v, n := binary.Varint(r.b[r.pos:])
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.pos += n
	return v
}

// bytes reads a varint-length byte string; nil for length -1.
func (r *recordReader) bytes() []byte {
	n := r.varint()
	if r.bad || n < 0 {
		if n < -1 {
			r.bad = true
		}
		return nil
	}
	if n > int64(len(r.b)-r.pos) {
		r.bad = true
		return nil
	}
	out := r.b[r.pos : r.pos+int(n) : r.pos+int(n)]
	r.pos += int(n)
	return out
}

// decompress returns the decompressed records of a batch.
func decompress(c compress.Compression, b []byte) ([]byte, error) {
	codec := c.Codec()
	if codec == nil {
		return nil, fmt.Errorf("unsupported compression codec %d", c)
	}
	zr := codec.NewReader(bytes.NewReader(b))
	out, err := io.ReadAll(zr)
	if cerr := zr.Close(); err == nil && cerr != nil && !errors.Is(cerr, io.EOF) {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("decompressing (%s): %w", c, err)
	}
	return out, nil
}
