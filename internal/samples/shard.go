package samples

import "fmt"

// Shard returns worker index's share of the records, of workers in all: records with a key
// go to hash(key) % workers, so one key's records stay in order on one worker; keyless
// records are spread evenly by their position. Order is kept.
//
// The hash is 32-bit FNV-1a of the key bytes: it only has to be stable and
// well spread, since the Kafka partition is chosen later by the producer's
// own partitioner (murmur2 for Key). An empty key is a key; keyless means a
// nil Key. The i-th keyless record goes to worker i % workers, so keyless
// counts differ by at most one. The result shares the records' byte slices;
// with one worker it is records itself. Shard panics unless
// 0 <= index < workers.
func Shard(records []Record, workers, index int) []Record {
	if workers < 1 || index < 0 || index >= workers {
		panic(fmt.Sprintf("samples.Shard: worker %d of %d", index, workers))
	}
	if workers == 1 {
		return records[:len(records):len(records)]
	}
	out := make([]Record, 0, len(records)/workers+1)
	keyless := 0
	for i := range records {
		r := &records[i]
		var w int
		if r.Key == nil {
			w = keyless % workers
			keyless++
		} else {
			w = int(fnv1a(r.Key) % uint32(workers))
		}
		if w == index {
			out = append(out, *r)
		}
	}
	return out
}

// fnv1a is 32-bit FNV-1a, inlined because hash/fnv allocates a hasher.
func fnv1a(b []byte) uint32 {
	const (
		offset = 2166136261
		prime  = 16777619
	)
	h := uint32(offset)
	for _, c := range b {
		h ^= uint32(c)
		h *= prime
	}
	return h
}
