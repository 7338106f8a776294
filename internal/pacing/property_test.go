package pacing

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/streamreplay/streamreplay/internal/plan"
)

type randomCase struct {
	sc       plan.Scenario
	length   time.Duration
	recorded []time.Time
	loop     bool
	segs     []segment // the rate's pieces, for Constant, Ramp and Stages
}

func (c randomCase) String() string {
	return fmt.Sprintf("%+v length=%v samples=%d loop=%v", c.sc, c.length, len(c.recorded), c.loop)
}

func randomRate(r *rand.Rand) int64 {
	switch r.IntN(5) {
	case 0:
		return 0
	case 1:
		return r.Int64N(10) + 1
	case 2:
		return r.Int64N(10_000_000) + 1 // the API's maximum
	default:
		return r.Int64N(20_000)
	}
}

func randomLength(r *rand.Rand) time.Duration {
	switch r.IntN(4) {
	case 0:
		return time.Duration(r.Int64N(int64(time.Millisecond)))
	case 1:
		return time.Duration(r.Int64N(int64(24 * time.Hour)))
	default:
		return time.Duration(r.Int64N(int64(20 * time.Second)))
	}
}

func randomScenario(r *rand.Rand) randomCase {
	var c randomCase
	switch r.IntN(4) {
	case 0:
		rate := randomRate(r)
		c.sc = plan.Scenario{Type: "Constant", TargetRate: rate}
		c.length = randomLength(r)
		c.segs = []segment{{length: int64(c.length), from: rate, to: rate}}
	case 1:
		c.sc = plan.Scenario{Type: "Ramp", StartRate: randomRate(r), TargetRate: randomRate(r)}
		c.length = randomLength(r)
		c.segs = []segment{{length: int64(c.length), from: c.sc.StartRate, to: c.sc.TargetRate}}
	case 2:
		c.sc = plan.Scenario{Type: "Stages"}
		var prev int64
		for range r.IntN(6) + 1 {
			d := randomLength(r) / 4
			if r.IntN(6) == 0 {
				d = 0
			}
			target := randomRate(r)
			c.sc.Stages = append(c.sc.Stages, plan.Stage{Duration: metav1.Duration{Duration: d}, TargetRate: target})
			c.segs = append(c.segs, segment{length: int64(d), from: prev, to: target})
			c.length += d
			prev = target
		}
	default:
		c.sc = plan.Scenario{Type: "Replay", Speed: []string{"", "1", "2.0", "0.5", "3", "0.001", "1000", "1.337"}[r.IntN(8)]}
		if r.IntN(3) == 0 {
			c.sc.TargetRate = randomRate(r)
		}
		c.loop = r.IntN(2) == 0
		at := recordedAt
		for range r.IntN(40) {
			switch r.IntN(5) {
			case 0: // out of order
				c.recorded = append(c.recorded, at.Add(-time.Duration(r.Int64N(int64(time.Second)))))
				continue
			case 1: // together
			default:
				at = at.Add(time.Duration(r.Int64N(int64(300 * time.Millisecond))))
			}
			c.recorded = append(c.recorded, at)
		}
		c.length = randomLength(r)
		if c.loop && c.sc.TargetRate == 0 {
			// A looping replay over no time is refused; give it a span.
			c.recorded = append(c.recorded, at.Add(time.Millisecond), at.Add(2*time.Millisecond))
		}
	}
	return c
}

// exactDue is ceil(N(d+1ns)) from the segments, in big rationals: an independent
// reference for the piecewise schedule's Due.
func exactDue(segs []segment, d time.Duration) *big.Int {
	x := big.NewRat(int64(d)+1, 1)
	count := new(big.Rat)
	var start int64
	for _, sg := range segs {
		if sg.length == 0 {
			continue
		}
		u := new(big.Rat).Sub(x, big.NewRat(start, 1))
		if u.Sign() <= 0 {
			break
		}
		if u.Cmp(big.NewRat(sg.length, 1)) > 0 {
			u = big.NewRat(sg.length, 1)
		}
		// from·u/1e9 + (to−from)·u²/(2·L·1e9)
		lin := new(big.Rat).Mul(big.NewRat(sg.from, int64(time.Second)), u)
		sq := new(big.Rat).Mul(u, u)
		den := new(big.Int).Mul(big.NewInt(2*sg.length), big.NewInt(int64(time.Second)))
		sq.Mul(sq, new(big.Rat).SetFrac(big.NewInt(sg.to-sg.from), den))
		count.Add(count, lin).Add(count, sq)
		start += sg.length
	}
	q, m := new(big.Int).QuoRem(count.Num(), count.Denom(), new(big.Int))
	if m.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q
}

// Offset is non-decreasing, inside the run, and agrees with Due: for every n < Total,
// Due(Offset(n)) > n and Due(Offset(n)−1ns) ≤ n.
func TestPropertyOffsetMonotonicAndConsistentWithDue(t *testing.T) {
	r := rand.New(rand.NewPCG(20261125, 3))
	for i := range 400 {
		c := randomScenario(r)
		s, err := New(c.sc, c.length, c.recorded, c.loop)
		if err != nil {
			t.Fatalf("case %d %v: %v", i, c, err)
		}
		total := s.Total()
		if total < 0 {
			t.Fatalf("case %d %v: Total %d", i, c, total)
		}
		if _, ok := s.Offset(total); ok {
			t.Errorf("case %d %v: Offset(Total=%d) is ok", i, c, total)
		}
		if _, ok := s.Offset(-1); ok {
			t.Errorf("case %d %v: Offset(-1) is ok", i, c)
		}
		if s.Due(-1) != 0 || (total > 0 && s.Due(s.Length()-1) != total) {
			t.Errorf("case %d %v: Due(-1) = %d, Due(Length-1) = %d, Total %d", i, c, s.Due(-1), s.Due(s.Length()-1), total)
		}

		// Every record of small runs; random ones and both ends of big runs.
		ns := make([]int64, 0, 2000)
		if total <= 3000 {
			for n := range total {
				ns = append(ns, n)
			}
		} else {
			ns = append(ns, 0, 1, total-2, total-1)
			for range 1000 {
				ns = append(ns, r.Int64N(total-1))
			}
		}
		for _, n := range ns {
			d, ok := s.Offset(n)
			if !ok {
				t.Fatalf("case %d %v: Offset(%d) not ok, Total %d", i, c, n, total)
			}
			if d < 0 || d >= s.Length() {
				t.Fatalf("case %d %v: Offset(%d) = %v is outside [0, %v)", i, c, n, d, s.Length())
			}
			if next, ok := s.Offset(n + 1); ok && next < d {
				t.Fatalf("case %d %v: Offset(%d) = %v > Offset(%d) = %v", i, c, n, d, n+1, next)
			}
			if due := s.Due(d); due <= n {
				t.Fatalf("case %d %v: Due(Offset(%d) = %v) = %d, want > %d", i, c, n, d, due, n)
			}
			if due := s.Due(d - 1); due > n {
				t.Fatalf("case %d %v: Due(Offset(%d) − 1ns = %v) = %d, want ≤ %d", i, c, n, d-1, due, n)
			}
		}

		// Due is non-decreasing, and for rate-based scenarios equal to the exact count.
		var prev int64
		for k := range 200 {
			d := time.Duration(int64(s.Length()) * int64(k) / 200)
			if k%2 == 1 && s.Length() > 0 {
				d = time.Duration(r.Int64N(int64(s.Length())))
			}
			due := s.Due(d)
			if k%2 == 0 {
				if due < prev {
					t.Fatalf("case %d %v: Due(%v) = %d after %d", i, c, d, due, prev)
				}
				prev = due
			}
			if c.segs != nil {
				want := exactDue(c.segs, d)
				if want.Cmp(big.NewInt(total)) > 0 {
					want = big.NewInt(total)
				}
				if want.Cmp(big.NewInt(due)) != 0 {
					t.Fatalf("case %d %v: Due(%v) = %d, exact count %v", i, c, d, due, want)
				}
			}
		}
	}
}
