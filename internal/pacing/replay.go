package pacing

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/streamreplay/streamreplay/internal/plan"
)

// replay sends the samples at their recorded times, relative to the whole set's first
// timestamp and divided by speed. Pass p of a looping replay starts at floor(p·P) with
// P = span·M/(M−1) (the set's span plus one mean gap of its M records) kept as an exact
// fraction, so passes do not drift; an optional rate cap delays record n to at least n/rate.
type replay struct {
	off  []int64 // offset of each sample within a pass, ns, non-decreasing
	m    int64
	loop bool

	// The pass period, P = pq + pr/pd ns, and its float value for guesses.
	pq     int64
	pr, pd uint64
	pf     float64

	rate   int64 // the cap, records/s; 0: none
	length int64
	total  int64
}

// Timeline is the recorded time of a whole sample set. Every worker's shard of a Replay
// shares it: offsets count from First, and the passes of a looping replay last the set's
// span plus one mean gap of the set, so that the workers' schedules merge into the
// recording divided by speed, whatever the split.
type Timeline struct {
	First, Last time.Time // the earliest and the latest recorded timestamp of the set
	Records     int64     // the set's records
}

// TimelineOf is the timeline of a whole set's timestamps; zero ones are skipped.
func TimelineOf(recorded []time.Time) Timeline {
	var tl Timeline
	for _, t := range recorded {
		if t.IsZero() {
			continue
		}
		if tl.Records == 0 || t.Before(tl.First) {
			tl.First = t
		}
		if tl.Records == 0 || t.After(tl.Last) {
			tl.Last = t
		}
		tl.Records++
	}
	return tl
}

func newReplay(sc plan.Scenario, length int64, recorded []time.Time, loop bool, set Timeline) (*replay, error) {
	num, den, err := parseSpeed(sc.Speed)
	if err != nil {
		return nil, fmt.Errorf("scenario Replay: %w", err)
	}
	if sc.TargetRate < 0 {
		return nil, fmt.Errorf("scenario Replay: targetRate %d is negative", sc.TargetRate)
	}
	for i, t := range recorded {
		switch {
		case t.IsZero():
			return nil, fmt.Errorf("scenario Replay: sample %d: %w", i, ErrNoTimestamp)
		case t.Before(set.First) || t.After(set.Last):
			return nil, fmt.Errorf("scenario Replay: sample %d, recorded at %s, is outside the set's timeline %s to %s",
				i, t.Format(time.RFC3339Nano), set.First.Format(time.RFC3339Nano), set.Last.Format(time.RFC3339Nano))
		}
	}
	if set.Records < int64(len(recorded)) {
		return nil, fmt.Errorf("scenario Replay: the set has %d records, fewer than the %d of this shard", set.Records, len(recorded))
	}
	r := &replay{m: int64(len(recorded)), loop: loop, rate: sc.TargetRate, length: length, pd: 1}
	if r.m == 0 {
		if !loop {
			r.length = 0 // the run ends after its last sample, and there is none
		}
		return r, nil
	}

	// Offsets count from the set's first timestamp, so that every worker's shard keeps its
	// place in the merged timeline. They come from the latest timestamp so far, so a sample
	// recorded out of order is due with the one before it (gap 0) and the ones after keep
	// the recording's clock.
	r.off = make([]int64, len(recorded))
	first, latest := set.First, set.First
	for k, t := range recorded {
		if t.After(latest) {
			latest = t
		}
		o, ok := mulDiv(uint64(latest.Sub(first)), uint64(den), uint64(num))
		if !ok {
			o = math.MaxInt64 // due after centuries: past the end of any run
		}
		r.off[k] = o
	}

	if loop {
		r.setPeriod(int64(set.Last.Sub(set.First)), set.Records, num, den)
		if r.pq == 0 && r.pr == 0 && r.rate == 0 {
			return nil, errors.New("scenario Replay: the samples' timestamps span no time, so a looping replay would send without end at time 0; set a targetRate to cap it")
		}
	}

	if length > 0 {
		r.total = r.dueUncapped(length - 1)
	}
	if !loop && r.total == r.m {
		// The run ends with its last sample: Length is just past it, so that every record
		// of the run is due before Length, as for the other scenarios.
		last, _ := r.Offset(r.m - 1)
		r.length = int64(last) + 1
	}
	return r, nil
}

// setPeriod sets P = span·den·m / (num·(m−1)): the scaled span plus one scaled mean gap of
// the set's m records.
func (r *replay) setPeriod(span, m, num, den int64) {
	if m < 2 || span == 0 {
		return // P = 0
	}
	n := new(big.Int).Mul(big.NewInt(span), big.NewInt(den))
	n.Mul(n, big.NewInt(m))
	d := new(big.Int).Mul(big.NewInt(num), big.NewInt(m-1))
	p := new(big.Rat).SetFrac(n, d)
	r.pf, _ = p.Float64()

	q, frac := new(big.Int).QuoRem(p.Num(), p.Denom(), new(big.Int))
	if !q.IsInt64() {
		r.pq = math.MaxInt64 // longer than any run: the second pass never comes
		return
	}
	r.pq = q.Int64()
	if frac.Sign() == 0 {
		return
	}
	if p.Denom().IsUint64() {
		r.pr, r.pd = frac.Uint64(), p.Denom().Uint64()
		return
	}
	// A denominator past 64 bits: round the fraction down to 63 bits, which drifts by
	// 1ns only after 2^63 passes.
	r.pd = 1 << 63
	r.pr = new(big.Int).Quo(new(big.Int).Lsh(frac, 63), p.Denom()).Uint64()
}

// parseSpeed reads a speed as an exact fraction num/den.
func parseSpeed(s string) (num, den int64, err error) {
	if s == "" {
		return 1, 1, nil
	}
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return 0, 0, fmt.Errorf("speed %q: %w", s, err)
	}
	q, ok := new(big.Rat).SetString(s)
	switch {
	case !ok:
		return 0, 0, fmt.Errorf("speed %q is not a decimal number", s)
	case q.Sign() <= 0:
		return 0, 0, fmt.Errorf("speed %q is not positive", s)
	case !q.Num().IsInt64() || !q.Denom().IsInt64():
		return 0, 0, fmt.Errorf("speed %q has too many digits", s)
	}
	return q.Num().Int64(), q.Denom().Int64(), nil
}

// passStart is floor(p·P), saturating at the largest int64.
func (r *replay) passStart(p int64) int64 {
	whole, ok := mulDiv(uint64(p), uint64(r.pq), 1)
	if !ok {
		return math.MaxInt64
	}
	frac, _ := mulDiv(uint64(p), r.pr, r.pd) // below p, since pr < pd
	return satAdd(whole, frac)
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func (r *replay) Offset(n int64) (time.Duration, bool) {
	if n < 0 || n >= r.total {
		return 0, false
	}
	o := satAdd(r.passStart(n/r.m), r.off[n%r.m])
	if r.rate > 0 {
		// floor(n·1e9/rate): n < total keeps it below the run's length.
		c, _ := mulDiv(uint64(n), nsPerSecond, uint64(r.rate))
		o = max(o, c)
	}
	return time.Duration(o), true
}

func (r *replay) Due(d time.Duration) int64 {
	if d < 0 || r.total == 0 {
		return 0
	}
	return min(r.dueUncapped(int64(d)), r.total)
}

// dueUncapped counts the records due by d ns, ignoring the run's end. Offset is the
// larger of two non-decreasing times, so it is at most d exactly when both are.
func (r *replay) dueUncapped(d int64) int64 {
	n := r.dueRecorded(d)
	if r.rate > 0 {
		// floor(n·1e9/rate) ≤ d  <=>  n < ceil((d+1)·rate/1e9)
		c, ok := ceilDiv128(mul64(uint64(d)+1, uint64(r.rate)), nsPerSecond)
		if ok {
			n = min(n, c)
		}
	}
	return n
}

// dueRecorded counts the records whose recorded time, scaled and looped, is at most d.
func (r *replay) dueRecorded(d int64) int64 {
	if !r.loop {
		return r.within(d)
	}
	if r.pq == 0 && r.pr == 0 {
		return math.MaxInt64 // every pass at 0: only the rate cap paces
	}
	// The last pass started by d; earlier passes ended before it began (P ≥ span).
	guess := math.MaxInt64 / r.m
	if g := float64(d) / r.pf; g < float64(guess) {
		guess = int64(g)
	}
	p := lastTrue(0, math.MaxInt64/r.m-1, guess, func(p int64) bool { return r.passStart(p) <= d })
	return p*r.m + r.within(d-r.passStart(p))
}

// within counts the samples of one pass due by v ns into it.
func (r *replay) within(v int64) int64 {
	if v == math.MaxInt64 {
		return r.m
	}
	i, _ := slices.BinarySearch(r.off, v+1) // the first offset past v
	return int64(i)
}

func (r *replay) Total() int64 { return r.total }

func (r *replay) Length() time.Duration { return time.Duration(r.length) }
