package pacing

import (
	"errors"
	"math"
	"time"
)

// segment is a linear ramp of the rate, from one rate to another (records/s) over length ns.
type segment struct {
	length   int64
	from, to int64
}

// piecewise is a rate that is linear on each of its stages (Ramp is one stage). Within a
// stage of length L (ns) going from rate a to rate b, starting when the run has counted
// C records, the count after u ns is
//
//	N(u) = C + a·u/1e9 + (b−a)·u²/(2·L·1e9)
//
// and, multiplied by 2·L·1e9 with S = 2e9·C (an integer: the sum of (a+b)·L of the stages
// before), N(u) ≤ n becomes a comparison of integers:
//
//	L·S + 2·L·a·u + (b−a)·u²  ≤  2·L·1e9·n
//
// A float solution of the quadratic gives a guess; that comparison settles it, so Offset
// and Due agree to the nanosecond however the floats round.
type piecewise struct {
	stages []stage // the stages longer than 0, in order
	length int64
	total  int64
}

type stage struct {
	start, length int64 // ns
	s             u128  // 2e9 × the records counted before the stage

	// The exact terms of the comparison.
	lsS      u256   // L·S
	twoLsA   u128   // 2·L·a
	slope    uint64 // |b−a|
	down     bool   // b < a: the u² term moves to the right-hand side
	twoLs1e9 u128   // 2·L·1e9

	// The float model, for guesses: count at start, rate (per ns), rate's slope (per ns²).
	c0, a, k float64
}

func newPiecewise(segs []segment) (*piecewise, error) {
	p := &piecewise{}
	var s u128
	for _, sg := range segs {
		if sg.length > math.MaxInt64-p.length {
			return nil, errors.New("the run is longer than an int64 of nanoseconds")
		}
		if sg.length == 0 { // a step: only its target matters, as the next stage's start
			continue
		}
		l := uint64(sg.length)
		st := stage{
			start:    p.length,
			length:   sg.length,
			s:        s,
			lsS:      mul128(s, l),
			twoLsA:   mul64(2*l, uint64(sg.from)),
			twoLs1e9: mul64(2*l, nsPerSecond),
			c0:       (float64(s.hi)*0x1p64 + float64(s.lo)) / float64(2*nsPerSecond),
			a:        float64(sg.from) / float64(nsPerSecond),
			k:        float64(sg.to-sg.from) / (float64(sg.length) * float64(nsPerSecond)),
		}
		if sg.to >= sg.from {
			st.slope = uint64(sg.to - sg.from)
		} else {
			st.slope, st.down = uint64(sg.from-sg.to), true
		}
		p.stages = append(p.stages, st)
		p.length += sg.length

		var overflow bool
		s, overflow = add128(s, mul64(uint64(sg.from)+uint64(sg.to), l))
		if overflow {
			return nil, errors.New("the run has more records than an int64 counts")
		}
	}
	// Records with N(t) > n for some t < length: ceil(N(length)) = ceil(S/2e9).
	t, ok := ceilDiv128(s, 2*nsPerSecond)
	if !ok {
		return nil, errors.New("the run has more records than an int64 counts")
	}
	p.total = t
	return p, nil
}

// cmp is the sign of N(u) − n within the stage.
func (st *stage) cmp(u, n int64) int {
	left := add256(st.lsS, mul128(st.twoLsA, uint64(u)))
	right := mul128(st.twoLs1e9, uint64(n))
	sq := mul128(mul64(uint64(u), uint64(u)), st.slope)
	if st.down {
		right = add256(right, sq)
	} else {
		left = add256(left, sq)
	}
	return cmp256(left, right)
}

func (p *piecewise) Offset(n int64) (time.Duration, bool) {
	if n < 0 || n >= p.total {
		return 0, false
	}
	// Record n is due in the last stage that starts with at most n records counted
	// (stages of rate 0 count none, so they are skipped).
	target := mul64(uint64(n), 2*nsPerSecond)
	lo, hi := 0, len(p.stages)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if cmp128(p.stages[mid].s, target) <= 0 {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	st := &p.stages[lo]

	// Solve a·u + k·u²/2 = n − C in the form that does not cancel: u = 2r/(a+√(a²+2kr)).
	r := max(float64(n)-st.c0, 0)
	den := st.a + math.Sqrt(max(st.a*st.a+2*st.k*r, 0))
	guess := st.length - 1
	if r == 0 {
		guess = 0
	} else if g := 2 * r / den; g < float64(guess) { // false for NaN and +Inf too
		guess = int64(g)
	}
	// N is strictly increasing within a stage that counts records, so the floor of the
	// exact time is the last whole nanosecond at which N(u) ≤ n.
	u := lastTrue(0, st.length-1, guess, func(u int64) bool { return st.cmp(u, n) <= 0 })
	return time.Duration(st.start + u), true
}

func (p *piecewise) Due(d time.Duration) int64 {
	if d < 0 || p.total == 0 {
		return 0
	}
	x := int64(d) + 1 // Offset(n) ≤ d  <=>  the exact time < d+1ns  <=>  n < N(d+1ns)
	if int64(d) >= p.length-1 {
		return p.total
	}
	lo, hi := 0, len(p.stages)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if p.stages[mid].start <= x {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	st := &p.stages[lo]
	u := x - st.start

	// ceil(N(u)) is the last m with N(u) > m−1.
	uf := float64(u)
	guess := p.total
	if g := math.Ceil(st.c0 + st.a*uf + st.k*uf*uf/2); g < float64(guess) {
		guess = int64(g)
	}
	return lastTrue(0, p.total, guess, func(m int64) bool { return m == 0 || st.cmp(u, m-1) > 0 })
}

func (p *piecewise) Total() int64 { return p.total }

func (p *piecewise) Length() time.Duration { return time.Duration(p.length) }
