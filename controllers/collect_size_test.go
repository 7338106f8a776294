package controllers

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/streamreplay/streamreplay/internal/results"
)

// TestStoredSeriesFitsTheConfigMap: an hour of one-second samples from a run with 64
// partitions, merged from 4 pods, fit maxSeriesBytes once gzipped (coarsened when need
// be), keep every record, and the document's timeline stays small beside them.
func TestStoredSeriesFitsTheConfigMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	state := &collectedSeries{Series: results.NewSeries(start)}
	var acked int64
	for pod := range 4 {
		s := results.NewSeries(start)
		for sec := range 3600 {
			h := results.NewHistogram()
			for range 50 {
				h.Record(time.Duration(rng.ExpFloat64() * float64(5*time.Millisecond)))
			}
			p := &results.Point{Scheduled: 50, Sent: 50, Acked: 50, Latency: h}
			if pod == 0 { // the observer's part
				e2e := h
				pl := map[int32]int64{}
				for part := range 64 {
					pl[int32(part)] = rng.Int64N(10000)
				}
				p = &results.Point{Delivered: 50, EndToEnd: e2e, Lag: 1, LagSamples: 1, PartitionLag: pl,
					DLQ: map[string]int64{"DataException": 1, "SerializationException": 2}}
			} else {
				acked += 50
			}
			if err := s.Add(start.Add(time.Duration(sec)*time.Second), p); err != nil {
				t.Fatal(err)
			}
		}
		if err := state.Series.Merge(s); err != nil {
			t.Fatal(err)
		}
		state.Pods = append(state.Pods, "pod")
	}
	b, err := encodeSeries(state)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > maxSeriesBytes {
		t.Fatalf("stored series is %d bytes, more than %d", len(b), maxSeriesBytes)
	}
	back, err := decodeSeries(b)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, p := range back.Series.Points {
		sum += p.Acked
	}
	if sum != acked {
		t.Errorf("stored series holds %d acknowledged records, want %d", sum, acked)
	}
	tl, err := back.Series.Timeline(nil).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	// With results.json's other parts (a few KiB), the ConfigMap stays under 1 MiB.
	if total := len(b) + len(tl); total > 900<<10 {
		t.Errorf("stored series %d + timeline %d bytes = %d, too close to the 1 MiB limit", len(b), len(tl), total)
	}
	t.Logf("stored series %d bytes gzipped (%d intervals of %s); timeline %d bytes", len(b), len(back.Series.Points), back.Series.Step, len(tl))
}
