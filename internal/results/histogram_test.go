package results

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/google/go-cmp/cmp"
)

func TestHistogramRecordClampsAndQuantiles(t *testing.T) {
	var h Histogram                 // the zero value records
	h.Record(-5 * time.Millisecond) // clock skew: counted as 0
	h.Record(500 * time.Nanosecond) // below 1µs: 0
	h.Record(3 * time.Hour)         // beyond range: counted at 1h
	for range 97 {
		h.Record(10 * time.Millisecond)
	}
	got := histSum{Count: h.Count(), Digits: h.SignificantDigits(),
		P50: h.Quantile(0.5), P99: h.Quantile(0.99), PMax: h.Max()}
	want := histSum{Count: 100, Digits: 3,
		P50: 10_000*time.Microsecond + 7*time.Microsecond, // 10ms rounded up to its 3-digit bucket
		P99: 10_007 * time.Microsecond, PMax: h.Quantile(1)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if h.Max() < time.Hour || h.Max() > time.Hour+time.Hour/1000 {
		t.Errorf("Max = %v, want 1h at 3-digit precision", h.Max())
	}
	if q := h.Quantile(0); q != 0 {
		t.Errorf("Quantile(0) = %v, want 0 (the clamped negative value)", q)
	}
	var nilHist *Histogram
	if nilHist.Count() != 0 || nilHist.Quantile(0.99) != 0 || nilHist.Max() != 0 {
		t.Error("a nil histogram must read as empty")
	}
}

func TestHistogramJSONRoundTrip(t *testing.T) {
	h := histOf(latencies(1, 50_000, 5*time.Millisecond, 1))
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `"HIST`) {
		t.Errorf("encoding %.20s... is not the V2 compressed base64 string", b)
	}
	var got Histogram
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(histSummary(h), histSummary(&got)); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if !got.h.Equals(h.h) {
		t.Error("decoded histogram differs bucket by bucket")
	}
}

func TestHistogramUnmarshalRejects(t *testing.T) {
	encode := func(h *hdrhistogram.Histogram) string {
		b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			t.Fatal(err)
		}
		return `"` + string(b) + `"`
	}
	valid := encode(hdrhistogram.New(1, histHighest, 3))
	tests := []struct{ name, in, want string }{
		{"number", `42`, "not a JSON string"},
		{"empty", `""`, "empty string"},
		{"not base64", `"not base64!"`, "not base64"},
		{"short", `"AAAA"`, "too short"},
		{"wrong cookie", `"AAAAAAAAAAAAAAAA"`, "not a V2 compressed histogram"},
		{"truncated", valid[:20] + `"`, "bad histogram encoding"},
		// A 4 KB message must not make the reader allocate a huge counts array.
		{"huge geometry", encode(hdrhistogram.New(1, 1<<62, 5)), "want 1..3600000000 (1µs..1h) at 1 to 3 digits"},
		{"other range", encode(hdrhistogram.New(1, 1000, 3)), "range 1..1000 at 3 digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			err := json.Unmarshal([]byte(tt.in), &h)
			wantErrContains(t, err, tt.want)
			wantErrContains(t, err, "bad histogram encoding")
		})
	}
}

func TestHistogramMerge(t *testing.T) {
	a, b := latencies(1, 30_000, 3*time.Millisecond, 1), latencies(2, 30_000, 40*time.Millisecond, 0.5)
	all := histOf(slices.Concat(a, b))

	t.Run("same precision is exact", func(t *testing.T) {
		m := histOf(a)
		if err := m.Merge(histOf(b)); err != nil {
			t.Fatal(err)
		}
		if !m.h.Equals(all.h) {
			t.Errorf("merged %+v, want %+v", histSummary(m), histSummary(all))
		}
	})
	t.Run("coarser source never understates", func(t *testing.T) {
		m := histOf(a)
		if err := m.Merge(histOf(b).withDigits(1)); err != nil {
			t.Fatal(err)
		}
		for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
			got, want := m.Quantile(q), all.Quantile(q)
			// 1 significant digit: buckets 1/32 to 1/16 of their value wide.
			if got < want || float64(got) > float64(want)*1.0625 {
				t.Errorf("q%v = %v, want %v to %v", q, got, want, time.Duration(float64(want)*1.0625))
			}
		}
		if m.Count() != all.Count() {
			t.Errorf("count %d, want %d", m.Count(), all.Count())
		}
	})
	t.Run("lowering precision keeps coarse buckets exact", func(t *testing.T) {
		for _, d := range []int{2, 1} {
			direct := newHistogramDigits(d)
			for _, v := range slices.Concat(a, b) {
				direct.Record(v)
			}
			if got := all.withDigits(d); !got.h.Equals(direct.h) {
				t.Errorf("withDigits(%d) = %+v, want %+v", d, histSummary(got), histSummary(direct))
			}
		}
	})
	t.Run("empty and nil", func(t *testing.T) {
		m := histOf(a)
		before := histSummary(m)
		if err := m.Merge(nil); err != nil {
			t.Fatal(err)
		}
		if err := m.Merge(NewHistogram()); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, histSummary(m)); diff != "" {
			t.Errorf("(-want +got)\n%s", diff)
		}
	})
}

// BenchmarkHistogramMerge merges one worker's latencies (35 distinct values) into a run's
// histogram, as the controller does for every worker of every LoadTest it judges.
func BenchmarkHistogramMerge(b *testing.B) {
	for _, tc := range []struct {
		name   string
		digits int
	}{{"same-precision", defaultDigits}, {"coarser-source", defaultDigits - 1}} {
		b.Run(tc.name, func(b *testing.B) {
			worker := newHistogramDigits(tc.digits)
			for i := range 35 {
				worker.Record(time.Duration(5+i) * time.Millisecond)
			}
			run := NewHistogram()
			b.ReportAllocs()
			for b.Loop() {
				if err := run.Merge(worker); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
