// Package record turns real traffic into a sample set a LoadTest replays: it reads a live
// topic (or imports kafka-console-consumer output), applies redaction rules before anything
// is written, and writes the `kcat -C -J` format that internal/samples loads, gzipped, as a
// file or as a ConfigMap manifest.
package record

import (
	"time"

	"github.com/streamreplay/streamreplay/internal/samples"
)

// Record is one record as read, with where it was read for messages.
type Record struct {
	Topic     string
	Partition int32 // -1 when unknown (an import without print.partition)
	Offset    int64 // -1 when unknown
	Timestamp time.Time
	Key       []byte // nil: no key
	Value     []byte // nil: a tombstone
	Headers   []samples.Header
	// Line is the input line of an imported record, 0 for a record read from a topic.
	Line int
}

// Merge interleaves partitions' records into one list in timestamp order, always taking
// the head of a partition, so that each partition's order (and with it each key's order)
// is kept whatever the timestamps. Ties go to the lower partition.
func Merge(partitions [][]Record) []Record {
	total := 0
	for _, p := range partitions {
		total += len(p)
	}
	out := make([]Record, 0, total)
	next := make([]int, len(partitions))
	for len(out) < total {
		best := -1
		var head *Record
		for i, p := range partitions {
			if next[i] == len(p) {
				continue
			}
			if r := &p[next[i]]; head == nil || r.Timestamp.Before(head.Timestamp) {
				best, head = i, r
			}
		}
		out = append(out, *head)
		next[best]++
	}
	return out
}

// Snapshot keeps the latest record of each key, as a compacted topic holds the current
// state: a tombstone removes its key, and records without a key (which a compacted topic
// refuses) are left out and counted. The survivors keep their relative order.
func Snapshot(in []Record) (out []Record, keyless int) {
	last := make(map[string]int, len(in))
	for i, r := range in {
		if r.Key == nil {
			keyless++
			continue
		}
		last[string(r.Key)] = i
	}
	for i, r := range in {
		if r.Key == nil || r.Value == nil || last[string(r.Key)] != i {
			continue
		}
		out = append(out, r)
	}
	return out, keyless
}
