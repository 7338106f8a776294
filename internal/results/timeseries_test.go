package results

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var seriesStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// TestSeriesCoarsensAndKeepsSums adds one record per 100 ms for an hour: the series stays
// within MaxPoints, its step doubles as it grows, and nothing is lost on the way.
func TestSeriesCoarsensAndKeepsSums(t *testing.T) {
	s := NewSeries(seriesStart)
	const n = 36000
	for i := range n {
		at := seriesStart.Add(time.Duration(i) * 100 * time.Millisecond)
		if err := s.Add(at, &Point{Sent: 1, Acked: 1, Scheduled: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.Points) > MaxPoints {
		t.Fatalf("%d intervals, more than %d", len(s.Points), MaxPoints)
	}
	if s.Step != 16*time.Second {
		t.Errorf("step %s after an hour, want 16s (1s doubled until 3600s fit in %d intervals)", s.Step, MaxPoints)
	}
	var sent int64
	for i, p := range s.Points {
		sent += p.Sent
		if i < len(s.Points)-1 && p.Sent != 160 {
			t.Errorf("interval %d holds %d records, want 160 (16s at 10/s)", i, p.Sent)
		}
	}
	if sent != n {
		t.Errorf("intervals sum to %d records, want %d", sent, n)
	}
}

// TestSeriesMergeAlignsSteps merges a worker that coarsened with one that did not: the
// merged series has the coarser step, and each record lands in the interval of its time.
func TestSeriesMergeAlignsSteps(t *testing.T) {
	long, short := NewSeries(seriesStart), NewSeries(seriesStart)
	for sec := range 400 { // past 360 s: step 2s
		at := seriesStart.Add(time.Duration(sec) * time.Second)
		mustAdd(t, long, at, &Point{Sent: 1, DLQ: map[string]int64{"Bad": 1}})
	}
	for sec := range 10 {
		at := seriesStart.Add(time.Duration(sec)*time.Second + 500*time.Millisecond)
		mustAdd(t, short, at, &Point{Sent: 10, Lag: int64(sec), LagSamples: 1, PartitionLag: map[int32]int64{0: int64(sec)}})
	}
	if long.Step != 2*time.Second || short.Step != time.Second {
		t.Fatalf("steps %s and %s, want 2s and 1s", long.Step, short.Step)
	}
	merged := NewSeries(seriesStart)
	for _, s := range []*Series{short, long} {
		if err := merged.Merge(roundTrip(t, s)); err != nil {
			t.Fatal(err)
		}
	}
	if merged.Step != 2*time.Second || len(merged.Points) != 200 {
		t.Fatalf("merged: step %s, %d intervals; want 2s, 200", merged.Step, len(merged.Points))
	}
	if p := merged.Points[0]; p.Sent != 2+20 || p.Lag != 1 || p.LagSamples != 2 || p.DLQ["Bad"] != 2 {
		t.Errorf("first interval %+v, want 22 sent, lag 1 (the higher of 2 samples), 2 dead letters", p)
	}
	if p := merged.Points[5]; p.Sent != 2 || p.LagSamples != 0 {
		t.Errorf("interval 5 %+v, want 2 sent and no lag sample", p)
	}
	other := NewSeries(seriesStart.Add(time.Millisecond))
	if err := merged.Merge(other); err == nil || !strings.Contains(err.Error(), "not at the run's start") {
		t.Errorf("merging a series of another start: %v, want an error naming the start", err)
	}
}

// TestHistogramCursorSince takes the values recorded between calls, none twice.
func TestHistogramCursorSince(t *testing.T) {
	h := NewHistogram()
	var c HistogramCursor
	if got := c.Since(h.Snapshot()); got != nil {
		t.Fatalf("empty histogram: %d values since, want none", got.Count())
	}
	for range 100 {
		h.Record(time.Millisecond)
	}
	first := c.Since(h.Snapshot())
	for range 50 {
		h.Record(time.Second)
	}
	second := c.Since(h.Snapshot())
	if first.Count() != 100 || second.Count() != 50 {
		t.Fatalf("counts %d and %d, want 100 and 50", first.Count(), second.Count())
	}
	if q := second.Quantile(0); q < 990*time.Millisecond {
		t.Errorf("the second interval's least value is %s, want ~1s: values of the first leaked in", q)
	}
	if got := c.Since(h.Snapshot()); got != nil {
		t.Errorf("nothing recorded since: %d values, want none", got.Count())
	}
}

// TestReconcile finds intervals that do not add up to the totals, and accepts those that do.
func TestReconcile(t *testing.T) {
	d := &Document{Totals: Totals{Scheduled: 10, Sent: 10, Acked: 9, Failed: 1}, DLQ: &DLQResult{Records: 2}}
	s := NewSeries(seriesStart)
	mustAdd(t, s, seriesStart, &Point{Scheduled: 6, Sent: 6, Acked: 5, Failed: 1, DLQ: map[string]int64{"A": 1}})
	mustAdd(t, s, seriesStart.Add(time.Second), &Point{Scheduled: 4, Sent: 4, Acked: 4, DLQ: map[string]int64{"B": 1}})
	d.Series = s.Timeline(nil)
	if err := d.Reconcile(); err != nil {
		t.Fatalf("matching series: %v", err)
	}
	d.Totals.Acked = 10
	if err := d.Reconcile(); err == nil || !strings.Contains(err.Error(), "acked: the intervals sum to 9, the totals say 10") {
		t.Errorf("a missing acknowledgement: %v", err)
	}
}

// TestTimelineHotPartition names the partition that holds most of the lag.
func TestTimelineHotPartition(t *testing.T) {
	s := NewSeries(seriesStart)
	for sec := range 10 {
		mustAdd(t, s, seriesStart.Add(time.Duration(sec)*time.Second), &Point{LagSamples: 1, Lag: 100,
			PartitionLag: map[int32]int64{0: 5, 1: 5, 2: 10, 3: 80}})
	}
	tl := s.Timeline(nil)
	p, share, ok := tl.HotPartition()
	if !ok || p != 3 || share != 0.8 {
		t.Errorf("hot partition %d holding %.2f (%v), want 3 holding 0.80", p, share, ok)
	}
	if tl.Partitions[0] != 3 || len(tl.PartitionLag) != 10 || tl.PartitionLag[0][0] != 80 {
		t.Errorf("partitions %v, lag %v: want partition 3 first with 80", tl.Partitions, tl.PartitionLag)
	}
}

// TestSeriesSizeOfLongRun bounds a long run's series: 360 intervals of latency and
// end-to-end histograms, 64 partitions' lag and a few dead-letter classes.
func TestSeriesSizeOfLongRun(t *testing.T) {
	s := longSeries(t, 64)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 768 << 10
	if len(b) > limit {
		t.Errorf("a long run's series is %d bytes of JSON, more than %d", len(b), limit)
	}
	t.Logf("series of %d intervals: %d bytes of JSON", len(s.Points), len(b))
}

// longSeries is two hours of one-second samples with realistic spreads of latency.
func longSeries(t testing.TB, partitions int) *Series {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	s := NewSeries(seriesStart)
	for sec := range 7200 {
		lat, e2e := newHistogramDigits(seriesDigits), newHistogramDigits(seriesDigits)
		for range 200 {
			lat.Record(time.Duration(rng.ExpFloat64() * float64(5*time.Millisecond)))
			e2e.Record(time.Duration(rng.ExpFloat64() * float64(200*time.Millisecond)))
		}
		pl := map[int32]int64{}
		for p := range partitions {
			pl[int32(p)] = rng.Int64N(10000)
		}
		mustAdd(t, s, seriesStart.Add(time.Duration(sec)*time.Second), &Point{
			Scheduled: 200, Sent: 200, Acked: 199, Failed: 1, Latency: lat, Delivered: 190, EndToEnd: e2e,
			DLQ: map[string]int64{"DeserializationException": 5, "TimeoutException": 4}, Lag: 5000, LagSamples: 1, PartitionLag: pl,
		})
	}
	return s
}

func mustAdd(t testing.TB, s *Series, at time.Time, p *Point) {
	t.Helper()
	if err := s.Add(at, p); err != nil {
		t.Fatal(err)
	}
}

func roundTrip(t *testing.T, s *Series) *Series {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	out := new(Series)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return out
}

// BenchmarkSeriesSample is one interval's sample of a worker's latency histogram: the
// Snapshot taken while acknowledgements wait, and the rest after.
func BenchmarkSeriesSample(b *testing.B) {
	h := NewHistogram()
	var c HistogramCursor
	rng := rand.New(rand.NewPCG(5, 6))
	b.Run("snapshot", func(b *testing.B) {
		for b.Loop() {
			h.Record(time.Duration(rng.ExpFloat64() * float64(5*time.Millisecond)))
			_ = h.Snapshot()
		}
	})
	b.Run("since", func(b *testing.B) {
		for b.Loop() {
			for range 1000 {
				h.Record(time.Duration(rng.ExpFloat64() * float64(5*time.Millisecond)))
			}
			_ = c.Since(h.Snapshot())
		}
	})
}
