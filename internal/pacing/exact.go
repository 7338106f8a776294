package pacing

import "math/bits"

// Exact integer arithmetic wide enough for the schedules' comparisons: a product of three
// 63-bit factors (a length, a rate and a time, all in nanoseconds) needs 189 bits, so
// values live in four 64-bit limbs and no float rounding ever decides a record's time.

// u128 is an unsigned 128-bit integer.
type u128 struct{ hi, lo uint64 }

// u256 is an unsigned 256-bit integer, least significant limb first.
type u256 [4]uint64

func mul64(a, b uint64) u128 {
	hi, lo := bits.Mul64(a, b)
	return u128{hi, lo}
}

// add128 returns a+b and whether it overflowed.
func add128(a, b u128) (u128, bool) {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	hi, c := bits.Add64(a.hi, b.hi, c)
	return u128{hi, lo}, c != 0
}

func cmp128(a, b u128) int {
	switch {
	case a.hi != b.hi:
		return cmpU64(a.hi, b.hi)
	default:
		return cmpU64(a.lo, b.lo)
	}
}

// mul128 returns a*b; it cannot overflow 192 bits.
func mul128(a u128, b uint64) u256 {
	h1, l1 := bits.Mul64(a.lo, b)
	h2, l2 := bits.Mul64(a.hi, b)
	mid, c := bits.Add64(h1, l2, 0)
	return u256{l1, mid, h2 + c, 0}
}

// add256 returns a+b; callers keep values below 2^200, far from overflowing.
func add256(a, b u256) u256 {
	var r u256
	var c uint64
	r[0], c = bits.Add64(a[0], b[0], 0)
	r[1], c = bits.Add64(a[1], b[1], c)
	r[2], c = bits.Add64(a[2], b[2], c)
	r[3], _ = bits.Add64(a[3], b[3], c)
	return r
}

func cmp256(a, b u256) int {
	for i := 3; i >= 0; i-- {
		if a[i] != b[i] {
			return cmpU64(a[i], b[i])
		}
	}
	return 0
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// mulDiv returns floor(a*b/c) and false if it does not fit an int64 (or c is 0).
func mulDiv(a, b, c uint64) (int64, bool) {
	hi, lo := bits.Mul64(a, b)
	if c == 0 || hi >= c {
		return 0, false
	}
	q, _ := bits.Div64(hi, lo, c)
	if q > 1<<63-1 {
		return 0, false
	}
	return int64(q), true
}

// ceilDiv128 returns ceil(a/c) and false if it does not fit an int64 (or c is 0).
func ceilDiv128(a u128, c uint64) (int64, bool) {
	if c == 0 || a.hi >= c {
		return 0, false
	}
	q, r := bits.Div64(a.hi, a.lo, c)
	if r != 0 {
		q++
	}
	if q > 1<<63-1 {
		return 0, false
	}
	return int64(q), true
}

// lastTrue returns the largest x in [lo, hi] for which ok(x) holds, given that ok(lo)
// holds and that ok is true up to some point and false after it. It gallops from guess,
// so a guess off by a nanosecond (float rounding) costs two calls, and a bad one only
// a logarithmic number.
func lastTrue(lo, hi, guess int64, ok func(int64) bool) int64 {
	x := min(max(guess, lo), hi)
	var yes, no int64 // ok(yes) holds, ok(no) does not
	if ok(x) {
		yes = x
		for step := int64(1); ; step <<= 1 {
			if yes == hi {
				return hi
			}
			next := yes + step
			if step <= 0 || next > hi || next < yes {
				next = hi
			}
			if !ok(next) {
				no = next
				break
			}
			yes = next
		}
	} else {
		no = x
		for step := int64(1); ; step <<= 1 {
			if no == lo { // only if the precondition is broken: never loop forever
				return lo
			}
			next := no - step
			if step <= 0 || next < lo || next > no {
				next = lo
			}
			if ok(next) {
				yes = next
				break
			}
			no = next
		}
	}
	for no-yes > 1 {
		mid := yes + (no-yes)/2
		if ok(mid) {
			yes = mid
		} else {
			no = mid
		}
	}
	return yes
}
