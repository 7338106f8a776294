package earlystop

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ptr[T any](v T) *T { return &v }

// lagRun returns samples every 2 s with the lags given.
func lagRun(lags ...int64) []Sample {
	out := make([]Sample, len(lags))
	for i, l := range lags {
		out[i] = Sample{At: time.Duration(i+1) * 2 * time.Second, Lag: ptr(l)}
	}
	return out
}

func TestObserve(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limits  Limits
		samples []Sample
		want    *Breach
	}{
		{
			name:    "lag beyond and growing for the window",
			limits:  Limits{MaxConsumerLag: ptr[int64](1000)},
			samples: lagRun(100, 900, 1200, 1600, 2000, 2400, 2800, 3200, 3600),
			// Beyond from +6 s; the window of 10 s is full at +16 s.
			want: &Breach{Threshold: "maxConsumerLag", At: 16 * time.Second, Message: "stopped early at +16s on maxConsumerLag: lag 3200 > 1000 for 10s and growing 200/s"},
		},
		{
			name:    "lag beyond but draining",
			limits:  Limits{MaxConsumerLag: ptr[int64](1000)},
			samples: lagRun(5000, 4600, 4200, 3800, 3400, 3000, 2600, 2200, 1800),
		},
		{
			name:    "lag beyond and growing, but not for the window",
			limits:  Limits{MaxConsumerLag: ptr[int64](1000)},
			samples: lagRun(1200, 1600, 2000, 2400, 900, 1200, 1600, 2000, 2400),
		},
		{
			name:   "a failed lag sample restarts the window",
			limits: Limits{MaxConsumerLag: ptr[int64](1000)},
			samples: append(lagRun(1200, 1600, 2000, 2400), Sample{At: 10 * time.Second},
				Sample{At: 12 * time.Second, Lag: ptr[int64](2800)}, Sample{At: 14 * time.Second, Lag: ptr[int64](3200)}),
		},
		{
			name:    "dead letters over the limit",
			limits:  Limits{MaxDLQRecords: ptr[int64](10)},
			samples: []Sample{{At: 2 * time.Second, DeadLetters: 10}, {At: 4 * time.Second, DeadLetters: 11}},
			want:    &Breach{Threshold: "maxDLQRecords", At: 4 * time.Second, Message: "stopped early at +4s on maxDLQRecords: 11 dead letters > 10"},
		},
		{
			// 0.001 × 100,000 = 100 failures can still pass; 101 cannot.
			name:    "errors beyond what the whole run allows",
			limits:  Limits{MaxErrorRatio: ptr(0.001), Scheduled: 100000},
			samples: []Sample{{At: 2 * time.Second, Failed: 100}, {At: 4 * time.Second, Failed: 101}},
			want:    &Breach{Threshold: "maxErrorRatio", At: 4 * time.Second, Message: "stopped early at +4s on maxErrorRatio: 101 records failed, more than 0.001 of the 100000 the run schedules"},
		},
		{
			name:    "end-to-end latency over the limit for more than 1% of the run",
			limits:  Limits{MaxEndToEndP99: ptr(time.Second), Scheduled: 10000},
			samples: []Sample{{At: 2 * time.Second, EndToEndOver: 100}, {At: 4 * time.Second, EndToEndOver: 101}},
			want:    &Breach{Threshold: "maxEndToEndP99Latency", At: 4 * time.Second, Message: "stopped early at +4s on maxEndToEndP99Latency: 101 records took longer than 1s end to end, more than 1% of the 10000 the run schedules"},
		},
		{
			name:    "no limits watched",
			samples: []Sample{{At: 2 * time.Second, Lag: ptr[int64](1 << 40), DeadLetters: 1 << 40, Failed: 1 << 40, EndToEndOver: 1 << 40}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := New(tc.limits)
			var got *Breach
			for _, s := range tc.samples {
				if got = w.Observe(s); got != nil {
					break
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("breach (-want +got):\n%s", diff)
			}
		})
	}
}
