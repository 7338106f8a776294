package samples

import (
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func shardRecords() []Record {
	var rs []Record
	for i := range 1000 {
		r := Record{Source: Position{File: "s", Line: i + 1}, Partition: -1}
		switch {
		case i%3 == 0: // keyless
		case i%17 == 0:
			r.Key = []byte{} // an empty key is still a key
		default:
			r.Key = fmt.Appendf(nil, "customer-%d", i%37)
		}
		rs = append(rs, r)
	}
	return rs
}

func TestShard(t *testing.T) {
	records := shardRecords()
	for workers := 1; workers <= 7; workers++ {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			owner := map[Position]int{}  // record source -> worker
			keyOwner := map[string]int{} // key -> worker
			var keyless []int
			for w := range workers {
				share := Shard(records, workers, w)
				n, pos := 0, -1
				for _, r := range share {
					if prev, ok := owner[r.Source]; ok {
						t.Fatalf("record %s on workers %d and %d", r.Source, prev, w)
					}
					owner[r.Source] = w
					// Order kept: positions in the input increase.
					i := slices.IndexFunc(records, func(x Record) bool { return x.Source == r.Source })
					if i <= pos {
						t.Fatalf("worker %d: record %s out of order", w, r.Source)
					}
					pos = i
					if r.Key == nil {
						n++
						continue
					}
					if prev, ok := keyOwner[string(r.Key)]; ok && prev != w {
						t.Fatalf("key %q on workers %d and %d", r.Key, prev, w)
					}
					keyOwner[string(r.Key)] = w
				}
				keyless = append(keyless, n)
			}
			if len(owner) != len(records) {
				t.Errorf("%d of %d records assigned", len(owner), len(records))
			}
			if lo, hi := slices.Min(keyless), slices.Max(keyless); hi-lo > 1 {
				t.Errorf("keyless records per worker %v differ by more than 1", keyless)
			}
			if workers > 1 && len(slices.Compact(slices.Sorted(maps.Values(keyOwner)))) < 2 {
				t.Errorf("all keys on one worker: %v", keyOwner)
			}
		})
	}
}

func TestShardOneWorkerReturnsAll(t *testing.T) {
	records := shardRecords()
	if diff := cmp.Diff(records, Shard(records, 1, 0)); diff != "" {
		t.Errorf("Shard(records, 1, 0) (-want +got):\n%s", diff)
	}
	if got := Shard(nil, 3, 1); len(got) != 0 {
		t.Errorf("Shard(nil) = %v", got)
	}
}

// The documented hash: 32-bit FNV-1a, modulo the worker count.
func TestShardHashIsFNV1a(t *testing.T) {
	for _, key := range []string{"", "a", "customer-42", "\xff\x00"} {
		h := fnv.New32a()
		h.Write([]byte(key))
		if got, want := fnv1a([]byte(key)), h.Sum32(); got != want {
			t.Errorf("fnv1a(%q) = %#x, want %#x", key, got, want)
		}
	}
	rs := []Record{{Key: []byte("customer-42")}}
	h := fnv.New32a()
	h.Write([]byte("customer-42"))
	want := int(h.Sum32() % 5)
	if len(Shard(rs, 5, want)) != 1 {
		t.Errorf("key customer-42 not on worker hash %% 5 = %d", want)
	}
}

func TestShardPanicsOnBadIndex(t *testing.T) {
	for _, c := range [][2]int{{0, 0}, {3, 3}, {3, -1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Shard(_, %d, %d) did not panic", c[0], c[1])
				}
			}()
			Shard(nil, c[0], c[1])
		}()
	}
}
