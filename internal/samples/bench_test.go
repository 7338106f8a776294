package samples

import (
	"bytes"
	"runtime"
	"testing"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

const benchSize = 10 << 20

func BenchmarkParseJSONLines(b *testing.B) {
	benchParse(b, debeziumJSONLines(benchSize), streamreplayv1alpha1.SampleFormatJSONLines, false)
}

func BenchmarkParseJSONLinesGzip(b *testing.B) {
	benchParse(b, debeziumJSONLines(benchSize), streamreplayv1alpha1.SampleFormatJSONLines, true)
}

func BenchmarkParseKcat(b *testing.B) {
	benchParse(b, debeziumKcat(benchSize), streamreplayv1alpha1.SampleFormatKcat, false)
}

// benchParse reports MB/s of uncompressed samples and the heap that the
// parsed set keeps per byte of them (heap-B/B).
func benchParse(b *testing.B, plain []byte, format Format, compress bool) {
	in := plain
	if compress {
		in = gz(b, plain)
	}
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(in), format, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// MB per CPU-second of the whole process (GC included) is steadier than
	// MB/s on a shared machine.
	if cpu := cpuTime() - cpu; cpu > 0 {
		b.ReportMetric(float64(len(plain))*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
	}
	b.ReportMetric(heapPerByte(b, in, format), "heap-B/B")
}

// heapPerByte is the live heap of one parsed set, after collection, per
// uncompressed input byte.
func heapPerByte(b *testing.B, in []byte, format Format) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	set, err := Parse(bytes.NewReader(in), format, "bench")
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(set)
	runtime.KeepAlive(in) // counted in before, so it must be in after too
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(set.Bytes)
}
