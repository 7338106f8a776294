// Package runheaders names the headers every replayed record carries, so that the observer
// can tell this run's records apart on the DLQ and the output topic (Kafka Connect and
// Spring Kafka copy a record's headers onto its dead letter) and measure end-to-end latency.
package runheaders

import (
	"strconv"
	"time"
)

// Header keys added by the workers next to the sample's own headers.
const (
	// RunID is the LoadTest's UID.
	RunID = "streamreplay-run-id"
	// Worker is the worker's index, in decimal.
	Worker = "streamreplay-worker"
	// Sequence is the record's sequence number within its worker, in decimal, from 0.
	Sequence = "streamreplay-seq"
	// Intended is the record's intended send time, Unix nanoseconds in decimal.
	Intended = "streamreplay-intended-at"
)

// Fields is what a record's run headers say, read one header at a time with Set. It
// neither allocates nor copies: the observer reads every record it consumes this way.
// A pipeline may drop or rewrite headers and a dead letter must still count, so a missing
// or malformed number is only marked absent.
type Fields struct {
	RunID                               []byte // empty: not a record of any run
	Worker, Sequence, Intended          int64  // Intended: Unix nanoseconds
	HasWorker, HasSequence, HasIntended bool
}

// Set reads one header; other keys are ignored. Kafka allows repeated keys: call Set in
// header order and the last one wins.
func (f *Fields) Set(key string, value []byte) {
	switch key {
	case RunID:
		f.RunID = value
	case Worker:
		f.Worker, f.HasWorker = parseDecimal(value)
	case Sequence:
		f.Sequence, f.HasSequence = parseDecimal(value)
	case Intended:
		f.Intended, f.HasIntended = parseDecimal(value)
	}
}

// Meta is Fields in the types a test compares: ok is false when the run id is missing.
func (f Fields) Meta() (m Meta, ok bool) {
	if len(f.RunID) == 0 {
		return Meta{}, false
	}
	m = Meta{RunID: string(f.RunID), Worker: int(f.Worker), Sequence: f.Sequence}
	if f.HasIntended {
		m.Intended = time.Unix(0, f.Intended)
	}
	return m, true
}

// Meta is what the headers say about a record of a run; absent numbers are zero.
type Meta struct {
	RunID    string
	Worker   int
	Sequence int64
	Intended time.Time
}

// parseDecimal reads an optionally signed decimal int64, as strconv.ParseInt would,
// without converting to a string first.
func parseDecimal(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	for len(b) > 1 && b[0] == '0' {
		b = b[1:]
	}
	if len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	switch {
	case neg && n <= 1<<63:
		return int64(-n), true
	case !neg && n < 1<<63:
		return int64(n), true
	}
	return 0, false
}

// AppendInt appends n in decimal to dst; the worker uses it to build header values without allocating per record.
func AppendInt(dst []byte, n int64) []byte {
	return strconv.AppendInt(dst, n, 10)
}
