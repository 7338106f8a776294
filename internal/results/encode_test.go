package results

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// mixedText is multi-byte UTF-8 plus characters JSON escapes.
const mixedText = "Ungültiges Datum 日本語 😀 <null> \"quoted\" back\\slash\ttab "

func pathologicalWorker() Report {
	rng := rand.New(rand.NewPCG(42, 43))
	errs := map[string]int64{}
	var failed int64
	for i := range 10_000 {
		name := strconv.Itoa(i) + strings.Repeat("ä", 100) // 200+ bytes, multi-byte
		n := 1 + rng.Int64N(1000)
		errs[name] = n
		failed += n
	}
	notes := make([]string, maxDegraded)
	for i := range notes {
		notes[i] = strconv.Itoa(i) + strings.Repeat("n", maxDegradedLen-len(strconv.Itoa(i)))
	}
	return Report{
		Version:   FormatVersion,
		Role:      RoleWorker,
		Pod:       strings.Repeat("p", maxPodName),
		Index:     999,
		RunID:     strings.Repeat("R", maxRunID),
		Start:     t0,
		End:       t0.Add(time.Hour),
		LateStart: 1500 * time.Millisecond,
		Stopped:   true,
		Degraded:  notes,
		Worker: &WorkerResult{
			Scheduled: 9_000_000_000, Sent: 8_000_000_000, Acked: 8_000_000_000 - failed, Failed: failed,
			Bytes: 1 << 50, MaxBehind: 3 * time.Minute, Errors: errs,
			Latency:     histOf(spread(1)),
			SendLatency: histOf(spread(2)),
		},
	}
}

func pathologicalObserver() Report {
	rng := rand.New(rand.NewPCG(7, 8))
	var classes []DLQClass
	records := int64(70) // already omitted by the observer
	for i := range 500 {
		c := DLQClass{Name: strconv.Itoa(i) + strings.Repeat("例外", 50), Count: 1 + rng.Int64N(100_000)}
		for j := range 5 {
			c.Examples = append(c.Examples, DLQExample{Topic: "crm-pipeline.dlq", Partition: int32(j), Offset: rng.Int64N(1 << 40),
				Message: strings.Repeat(mixedText, 100)})
		}
		records += c.Count
		classes = append(classes, c)
	}
	return Report{
		Version: FormatVersion, Role: RoleObserver, Pod: strings.Repeat("o", maxPodName), RunID: strings.Repeat("R", maxRunID),
		Start: t0, End: t0.Add(time.Hour),
		Observer: &ObserverResult{
			DLQ:      &DLQResult{Records: records, OtherRecords: 123_456, Classes: classes, OmittedClasses: 7, OmittedRecords: 70},
			Lag:      &LagResult{Max: 1 << 40, Final: 12, Samples: 3600},
			EndToEnd: &EndToEndResult{Delivered: 1 << 33, Duplicates: 5, Latency: histOf(spread(3))},
		},
	}
}

func TestEncodeFitsPathologicalReports(t *testing.T) {
	t.Run("worker", func(t *testing.T) {
		in := pathologicalWorker()
		b := mustEncode(t, in)
		got := decodeFitting(t, b)
		w, gw := in.Worker, got.Worker
		if diff := cmp.Diff([]int64{w.Scheduled, w.Sent, w.Acked, w.Failed, w.Bytes, int64(w.MaxBehind)},
			[]int64{gw.Scheduled, gw.Sent, gw.Acked, gw.Failed, gw.Bytes, int64(gw.MaxBehind)}); diff != "" {
			t.Errorf("counters changed (-want +got)\n%s", diff)
		}
		if sum := sumValues(gw.Errors); sum != w.Failed {
			t.Errorf("error classes add up to %d, want %d", sum, w.Failed)
		}
		if gw.Errors[OtherClass] == 0 {
			t.Errorf("no %q class in %v", OtherClass, gw.Errors)
		}
		if got.Pod != in.Pod || got.RunID != in.RunID || got.LateStart != in.LateStart || !got.Stopped {
			t.Error("report fields changed")
		}
		if len(got.Degraded) != maxDegraded || !slices.ContainsFunc(got.Degraded, func(n string) bool { return strings.HasPrefix(n, "errors: top ") }) {
			t.Errorf("degraded notes %q: want %d with Encode's own", got.Degraded, maxDegraded)
		}
	})
	t.Run("observer", func(t *testing.T) {
		in := pathologicalObserver()
		b := mustEncode(t, in)
		got := decodeFitting(t, b)
		d, gd := in.Observer.DLQ, got.Observer.DLQ
		if gd.Records != d.Records || gd.OtherRecords != d.OtherRecords {
			t.Errorf("dlq records %d/%d, want %d/%d", gd.Records, gd.OtherRecords, d.Records, d.OtherRecords)
		}
		var sum int64
		for _, c := range gd.Classes {
			sum += c.Count
			for _, e := range c.Examples {
				if !utf8.ValidString(e.Message) || len(e.Message) > 200 {
					t.Errorf("example message %q is not short valid UTF-8", e.Message)
				}
			}
		}
		if sum+gd.OmittedRecords != d.Records {
			t.Errorf("classes %d + omitted %d = %d, want %d", sum, gd.OmittedRecords, sum+gd.OmittedRecords, d.Records)
		}
		if n := len(gd.Classes) + gd.OmittedClasses; n != len(d.Classes)+d.OmittedClasses {
			t.Errorf("kept + omitted classes = %d, want %d", n, len(d.Classes)+d.OmittedClasses)
		}
		if diff := cmp.Diff(in.Observer.Lag, got.Observer.Lag); diff != "" {
			t.Errorf("lag (-want +got)\n%s", diff)
		}
		if e := got.Observer.EndToEnd; e.Delivered != 1<<33 || e.Duplicates != 5 {
			t.Errorf("end-to-end counters %+v", e)
		}
	})
}

// decodeFitting checks that b fits a termination message and decodes.
func decodeFitting(t *testing.T, b []byte) *Report {
	t.Helper()
	if len(b) > MaxMessageBytes {
		t.Fatalf("encoded %d bytes, more than %d", len(b), MaxMessageBytes)
	}
	r, err := Decode(b)
	if err != nil {
		t.Fatalf("Decode of Encode output: %v", err)
	}
	return r
}

func sumValues(m map[string]int64) int64 {
	var s int64
	for _, n := range m {
		s += n
	}
	return s
}

// TestEncodeDegradesLeastUsefulFirst checks the order of the steps: a
// report loses only what it must.
func TestEncodeDegradesLeastUsefulFirst(t *testing.T) {
	wide := func(seed uint64) *Histogram { return histOf(spread(seed)) }
	// incompressible fills every bucket of a 1-digit histogram with random
	// huge counts: even at 1 digit it cannot fit.
	incompressible := func(seed uint64) *Histogram {
		h := newHistogramDigits(1)
		rng := rand.New(rand.NewPCG(seed, seed))
		for v := int64(1); v < histHighest; v += max(1, v/64) {
			_ = h.h.RecordValues(v, rng.Int64N(1<<50))
		}
		return h
	}
	tests := []struct {
		name   string
		modify func(*Report)
		want   []string
	}{
		{"send latency first", func(r *Report) {
			r.Worker.Latency = histOf(latencies(1, 2000, 10*time.Millisecond, 0.5))
			r.Worker.SendLatency = wide(2)
		}, []string{"send latency: 1 significant digit"}},
		{"then latency to 2 digits", func(r *Report) {
			r.Worker.Latency = histOf(latencies(1, 1_000_000, 10*time.Millisecond, 0.8))
			r.Worker.SendLatency = histOf(latencies(2, 1_000_000, 10*time.Millisecond, 0.8))
		}, []string{"latency: 2 significant digits", "send latency: 1 significant digit"}},
		{"then send latency dropped, latency to 1 digit", func(r *Report) {
			r.Worker.Latency, r.Worker.SendLatency = wide(1), wide(2)
		}, []string{"latency: 1 significant digit", "send latency: dropped"}},
		{"error classes before latency precision", func(r *Report) {
			r.Worker.Errors = map[string]int64{}
			for i := range 60 {
				r.Worker.Errors[strings.Repeat("e", 40)+strconv.Itoa(i)] = 1
			}
		}, []string{"errors: top 32 classes, rest in other", "latency: 2 significant digits", "send latency: 1 significant digit"}},
		{"histograms dropped last", func(r *Report) {
			r.Worker.Latency, r.Worker.SendLatency = incompressible(1), incompressible(2)
		}, []string{"latency: dropped", "send latency: dropped"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := workerReport(0, 1)
			r.Worker.Errors = map[string]int64{"TimeoutException": 60}
			tt.modify(&r)
			r.Worker.Failed = sumValues(r.Worker.Errors)
			got := decodeFitting(t, mustEncode(t, r))
			if diff := cmp.Diff(tt.want, got.Degraded); diff != "" {
				t.Errorf("degraded (-want +got)\n%s", diff)
			}
			if got.Worker.Acked != r.Worker.Acked || sumValues(got.Worker.Errors) != r.Worker.Failed {
				t.Error("counters changed")
			}
		})
	}

	t.Run("examples before end-to-end precision", func(t *testing.T) {
		r := observerReport()
		r.Observer.EndToEnd.Latency = histOf(latencies(7, 2000, 180*time.Millisecond, 0.5))
		for i := range r.Observer.DLQ.Classes {
			for j := range r.Observer.DLQ.Classes[i].Examples {
				r.Observer.DLQ.Classes[i].Examples[j].Message = strings.Repeat(mixedText, 40)
			}
		}
		got := decodeFitting(t, mustEncode(t, r))
		if diff := cmp.Diff([]string{"dlq examples: cut to 200 bytes"}, got.Degraded); diff != "" {
			t.Errorf("degraded (-want +got)\n%s", diff)
		}
		if d := got.Observer.EndToEnd.Latency.SignificantDigits(); d != 3 {
			t.Errorf("end-to-end latency at %d digits, want 3", d)
		}
		msg := got.Observer.DLQ.Classes[0].Examples[0].Message
		if !strings.HasPrefix(strings.Repeat(mixedText, 40), strings.TrimSuffix(msg, "…")) || len(msg) > 200 {
			t.Errorf("example %q is not a prefix of at most 200 bytes", msg)
		}
	})
}

func TestShorten(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdefghijkl", 10, "abcdefg…"},
		{"日本語日本語", 10, "日本…"}, // 6 bytes + "…", never half a rune
		{"😀😀😀", 9, "😀…"},
		{"bad\xffutf8", 20, "bad?utf8"},
	}
	for _, tt := range tests {
		got := Shorten(tt.in, tt.n)
		if got != tt.want || len(got) > tt.n || !utf8.ValidString(got) {
			t.Errorf("Shorten(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func BenchmarkEncodeWorker(b *testing.B) {
	r := workerReport(0, 1) // 20,000 latencies each, encoded at 2 digits to fit
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePathologicalWorker(b *testing.B) {
	r := pathologicalWorker()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEncodeWorstCaseFits builds the largest report the last step can leave:
// the longest pod name and run id, the most notes, one class each whose
// name JSON escapes to six times its size, and histograms that never fit.
func TestEncodeWorstCaseFits(t *testing.T) {
	incompressible := func(seed uint64) *Histogram {
		h := newHistogramDigits(1)
		rng := rand.New(rand.NewPCG(seed, seed))
		for v := int64(1); v < histHighest; v += max(1, v/64) {
			_ = h.h.RecordValues(v, rng.Int64N(1<<50))
		}
		return h
	}
	escaped := strings.Repeat("\x01", 200) // cut to 64 bytes, each written as \u0001
	notes := make([]string, maxDegraded)
	for i := range notes {
		notes[i] = strconv.Itoa(i) + strings.Repeat("~", maxDegradedLen-len(strconv.Itoa(i)))
	}
	base := Report{Version: FormatVersion, Pod: strings.Repeat("p", maxPodName), Index: 1 << 40,
		RunID: strings.Repeat("R", maxRunID), Start: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("", -7*3600)),
		End: time.Date(2026, 12, 30, 3, 4, 5, 987654321, time.FixedZone("", 5*3600+1800)), LateStart: math.MaxInt64,
		Stopped: true, Degraded: notes}
	big := int64(math.MaxInt64)

	worker := base
	worker.Role = RoleWorker
	worker.Worker = &WorkerResult{Scheduled: big, ScheduledFor: math.MaxInt64, Samples: big, SamplesExhausted: true,
		Sent: big, Acked: big / 2, Failed: big / 2, Bytes: big, MaxBehind: math.MaxInt64,
		Errors: map[string]int64{escaped: big / 2}, Latency: incompressible(1), SendLatency: incompressible(2)}
	observer := base
	observer.Role, observer.Index = RoleObserver, 0
	observer.Observer = &ObserverResult{
		DLQ: &DLQResult{Records: big, OtherRecords: big, OmittedClasses: 1<<31 - 1, OmittedRecords: big / 2,
			Classes: []DLQClass{{Name: escaped, Count: big / 2, Examples: []DLQExample{{Topic: escaped, Partition: 1<<31 - 1, Offset: big, Message: escaped}}}}},
		Lag:      &LagResult{Max: big, Final: big, Drained: true, Samples: math.MaxInt},
		EndToEnd: &EndToEndResult{Delivered: big, Duplicates: big, Latency: incompressible(3)},
	}
	for _, r := range []Report{worker, observer} {
		b := mustEncode(t, r)
		got := decodeFitting(t, b)
		t.Logf("%s: %d bytes", r.Role, len(b))
		if got.LateStart != r.LateStart || got.Index != r.Index {
			t.Error("fields changed")
		}
	}
}
