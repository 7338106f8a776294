package capacity

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// model is a deterministic pipeline for the search's tests: a consumer of a
// given capacity behind a broker and a load generator, each with its own
// limit, simulated in 100 ms steps on a virtual clock.
type model struct {
	capacity    float64       // records/s the pipeline consumes at most
	noise       float64       // relative jitter of each step's consumption
	slowStart   time.Duration // capacity ramps from 20% to 100% over this, from the model's start
	broker      float64       // produce rate above which the broker times records out (0: none)
	generator   float64       // the workers' highest send rate (0: none)
	commitEvery time.Duration // lag samples read up to this long of consumption high (commit interval)
	stuck       bool          // the pipeline consumes nothing at all

	rng *rand.Rand
	now time.Duration // since the model's start
	lag float64
}

const step = 100 * time.Millisecond

func newModel(seed uint64, m model) *model {
	m.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return &m
}

func (m *model) capNow() float64 {
	if m.stuck {
		return 0
	}
	c := m.capacity
	if m.slowStart > 0 && m.now < m.slowStart {
		c *= 0.2 + 0.8*float64(m.now)/float64(m.slowStart)
	}
	return c * (1 + m.noise*(2*m.rng.Float64()-1))
}

// advance moves one step with produce rate sent.
func (m *model) advance(sent float64) {
	m.lag += sent * step.Seconds()
	m.lag -= min(m.lag, m.capNow()*step.Seconds())
	m.now += step
}

func (m *model) Probe(_ context.Context, rate float64, hold time.Duration) (Signals, error) {
	sent := rate
	var behind time.Duration
	if m.generator > 0 && rate > m.generator {
		sent = m.generator
		behind = time.Duration(float64(hold) * (1 - m.generator/rate))
	}
	acked, failed := sent, 0.0
	produceP99 := 5 * time.Millisecond
	if m.broker > 0 && sent > m.broker {
		acked, failed = m.broker, sent-m.broker
		produceP99 = 2 * time.Second
	}
	s := Signals{
		Rate: rate, Hold: hold, MaxBehind: behind, ProduceP99: produceP99,
		Scheduled:    int64(math.Round(rate * hold.Seconds())),
		Acknowledged: int64(math.Round(acked * hold.Seconds())),
		Failed:       int64(math.Round(failed * hold.Seconds())),
	}
	start := m.now
	for m.now-start < hold {
		m.advance(acked)
		if at := m.now - start; at%(2*time.Second) == 0 {
			s.Lag = append(s.Lag, LagSample{At: at, Lag: int64(m.lag + acked*m.commitEvery.Seconds()*m.rng.Float64())})
		}
	}
	if c := m.capacity; c > 0 && !m.stuck {
		s.EndToEndP99, s.HasEndToEnd = 20*time.Millisecond+time.Duration(m.lag/c*float64(time.Second)), true
	}
	return s, nil
}

func (m *model) Drain(_ context.Context, timeout time.Duration) (bool, error) {
	start := m.now
	for m.lag >= 1 {
		if m.now-start >= timeout {
			return false, nil
		}
		m.advance(0)
	}
	return true, nil
}
