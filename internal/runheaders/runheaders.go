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

// Meta is what the headers say about a record of a run.
type Meta struct {
	RunID    string
	Worker   int
	Sequence int64
	Intended time.Time
}

// Lookup finds a header's value by key.
type Lookup func(key string) ([]byte, bool)

// Parse reads the run headers through lookup. ok is false when the run id is missing;
// the other fields stay zero when missing or malformed, since a pipeline may drop or
// rewrite them and a dead letter must still count.
func Parse(lookup Lookup) (m Meta, ok bool) {
	id, found := lookup(RunID)
	if !found || len(id) == 0 {
		return Meta{}, false
	}
	m.RunID = string(id)
	if v, found := lookup(Worker); found {
		if n, err := strconv.Atoi(string(v)); err == nil {
			m.Worker = n
		}
	}
	if v, found := lookup(Sequence); found {
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			m.Sequence = n
		}
	}
	if v, found := lookup(Intended); found {
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			m.Intended = time.Unix(0, n)
		}
	}
	return m, true
}

// AppendInt appends n in decimal to dst; the worker uses it to build header values without allocating per record.
func AppendInt(dst []byte, n int64) []byte {
	return strconv.AppendInt(dst, n, 10)
}
