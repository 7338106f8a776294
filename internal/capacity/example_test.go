package capacity_test

import (
	"context"
	"fmt"
	"time"

	"github.com/streamreplay/streamreplay/internal/capacity"
)

// steady is a pipeline that consumes exactly 300 records/s, sampled every 2 s.
type steady struct{ lag float64 }

func (p *steady) Probe(_ context.Context, rate float64, hold time.Duration) (capacity.Signals, error) {
	s := capacity.Signals{
		Rate: rate, Hold: hold, ProduceP99: 5 * time.Millisecond, EndToEndP99: 40 * time.Millisecond, HasEndToEnd: true,
		Scheduled: int64(rate * hold.Seconds()), Acknowledged: int64(rate * hold.Seconds()),
	}
	for at := 2 * time.Second; at <= hold; at += 2 * time.Second {
		p.lag = max(0, p.lag+2*(rate-300))
		s.Lag = append(s.Lag, capacity.LagSample{At: at, Lag: int64(p.lag)})
	}
	return s, nil
}

func (p *steady) Drain(context.Context, time.Duration) (bool, error) { p.lag = 0; return true, nil }

func ExampleSearch() {
	b := capacity.Bounds{StartRate: 100, MaxRate: 5000, Hold: 30 * time.Second, Precision: 0.05}
	l := capacity.Limits{MinAchievedRateRatio: 0.95, MaxErrorRatio: 0.001, MaxDLQRatio: 0.001, LagSlopeNoise: 0.02}
	res, _, err := capacity.Search(context.Background(), b, l, &steady{}, time.Minute, func(p capacity.Probe) { fmt.Println(p) })
	if err != nil {
		panic(err)
	}
	fmt.Println(res)
	// Output:
	// 100/s asked, 100/s achieved, lag +0.0±0.0/s, produce p99 5ms, end-to-end p99 40ms, 0 failed, 0 dead letters: held
	// 200/s asked, 200/s achieved, lag +0.0±0.0/s, produce p99 5ms, end-to-end p99 40ms, 0 failed, 0 dead letters: held
	// 400/s asked, 400/s achieved, lag +100.0±0.0/s, produce p99 5ms, end-to-end p99 40ms, 0 failed, 0 dead letters: failed (Pipeline): lag grows 100.0±0.0/s (> 8/s noise)
	// 300/s asked, 300/s achieved, lag +0.0±0.0/s, produce p99 5ms, end-to-end p99 40ms, 0 failed, 0 dead letters: held
	// 350/s asked, 350/s achieved, lag +50.0±0.0/s, produce p99 5ms, end-to-end p99 40ms, 0 failed, 0 dead letters: failed (Pipeline): lag grows 50.0±0.0/s (> 7/s noise)
	// 325/s asked, 325/s achieved, lag +25.0±0.0/s, produce p99 5ms, end-to-end p99 40ms, 0 failed, 0 dead letters: failed (Pipeline): lag grows 25.0±0.0/s (> 6.5/s noise)
	// 312.5/s asked, 312.5/s achieved, lag +12.5±0.0/s, produce p99 5ms, end-to-end p99 40ms, 0 failed, 0 dead letters: failed (Pipeline): lag grows 12.5±0.0/s (> 6.25/s noise)
	// 300/s sustained (at 300/s asked), limited by Pipeline: at 312.5/s: lag grows 12.5±0.0/s (> 6.25/s noise)
}
