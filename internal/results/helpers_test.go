package results

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// latencies returns n deterministic latencies, log-normal around median.
func latencies(seed uint64, n int, median time.Duration, sigma float64) []time.Duration {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(float64(median) * math.Exp(sigma*rng.NormFloat64()))
	}
	return out
}

// spreadCount is enough values to populate every bucket of a 3-digit histogram.
const spreadCount = 1_000_000

// spread returns spreadCount latencies spread log-uniformly over the whole 1µs..1h
// range, which populates every bucket: the worst case for the encoding size.
func spread(seed uint64) []time.Duration {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	out := make([]time.Duration, spreadCount)
	for i := range out {
		out[i] = time.Duration(math.Exp(rng.Float64()*math.Log(float64(time.Hour/time.Microsecond)))) * time.Microsecond
	}
	return out
}

func histOf(values []time.Duration) *Histogram {
	h := NewHistogram()
	for _, v := range values {
		h.Record(v)
	}
	return h
}

func workerReport(index int, seed uint64) Report {
	return Report{
		Version:   FormatVersion,
		Role:      RoleWorker,
		Pod:       "crm-test-worker-" + strconv.Itoa(index),
		Index:     index,
		RunID:     "5b0c9f4e-1c7a-4d3e-9a51-0f7e2d9c6b11",
		Start:     t0.Add(time.Duration(index) * time.Millisecond),
		End:       t0.Add(10*time.Minute + time.Duration(index)*time.Millisecond),
		LateStart: time.Duration(index) * time.Millisecond,
		Worker: &WorkerResult{
			Scheduled: 750_000, ScheduledFor: 10 * time.Minute, Samples: 12_345,
			Sent: 749_990, Acked: 749_900, Failed: 60, Bytes: 1_234_567_890,
			MaxBehind:   42 * time.Millisecond,
			Errors:      map[string]int64{"TimeoutException": 45, "NotLeaderOrFollowerException": 15},
			Latency:     histOf(latencies(seed, 20_000, 8*time.Millisecond, 0.8)),
			SendLatency: histOf(latencies(seed+100, 20_000, 6*time.Millisecond, 0.7)),
		},
	}
}

func observerReport() Report {
	return Report{
		Version: FormatVersion,
		Role:    RoleObserver,
		Pod:     "crm-test-observer",
		RunID:   "5b0c9f4e-1c7a-4d3e-9a51-0f7e2d9c6b11",
		Start:   t0,
		End:     t0.Add(10*time.Minute + 30*time.Second),
		Observer: &ObserverResult{
			DLQ: &DLQResult{
				Records: 17, OtherRecords: 3,
				Classes: []DLQClass{
					{Name: "org.apache.kafka.connect.errors.DataException", Count: 12, Examples: []DLQExample{
						{Topic: "crm-pipeline.dlq", Partition: 0, Offset: 41, Message: "Converting byte[] to Kafka Connect data failed due to serialization error"},
						{Topic: "crm-pipeline.dlq", Partition: 2, Offset: 7, Message: "Unknown magic byte!"},
					}},
					{Name: "com.example.crm.ValidationException", Count: 5, Examples: []DLQExample{
						{Topic: "crm-pipeline.dlq", Partition: 1, Offset: 3, Message: "vin must be 17 characters: <null>"},
					}},
				},
			},
			Lag:      &LagResult{Max: 1200, Final: 0, Drained: true, Samples: 64},
			EndToEnd: &EndToEndResult{Delivered: 2_999_500, Duplicates: 2, Latency: histOf(latencies(7, 20_000, 180*time.Millisecond, 0.5))},
		},
	}
}

// histComparer compares histograms by what the results use of them.
var histComparer = cmp.Comparer(func(a, b *Histogram) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	if a == nil {
		return true
	}
	return histSummary(a) == histSummary(b)
})

type histSum struct {
	Count                     int64
	Digits                    int
	P50, P90, P99, P999, PMax time.Duration
}

func histSummary(h *Histogram) histSum {
	return histSum{h.Count(), h.SignificantDigits(), h.Quantile(0.5), h.Quantile(0.9), h.Quantile(0.99), h.Quantile(0.999), h.Max()}
}

func mustEncode(t testing.TB, r Report) []byte {
	t.Helper()
	b, err := r.Encode()
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return b
}

func wantErrContains(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
}
