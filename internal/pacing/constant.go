package pacing

import (
	"errors"
	"time"
)

const nsPerSecond = uint64(time.Second)

// constant sends rate records per second: record n is due at floor(n*1e9/rate) ns,
// computed in 128 bits, so the millionth hour is as exact as the first second.
type constant struct {
	rate   int64 // records per second, >= 0
	length int64 // ns
	total  int64
}

func newConstant(rate, length int64) (*constant, error) {
	c := &constant{rate: rate, length: length}
	if length > 0 {
		// Records with n/rate < length: ceil(rate*length/1e9).
		t, ok := ceilDiv128(mul64(uint64(rate), uint64(length)), nsPerSecond)
		if !ok {
			return nil, errors.New("rate × length is more records than an int64 counts")
		}
		c.total = t
	}
	return c, nil
}

func (c *constant) Offset(n int64) (time.Duration, bool) {
	if n < 0 || n >= c.total {
		return 0, false
	}
	return time.Duration(c.at(n)), true
}

// at is floor(n*1e9/rate); n < total keeps the quotient below length, so it fits.
func (c *constant) at(n int64) int64 {
	d, _ := mulDiv(uint64(n), nsPerSecond, uint64(c.rate))
	return d
}

func (c *constant) Due(d time.Duration) int64 {
	if d < 0 || c.total == 0 {
		return 0
	}
	if int64(d) >= c.length-1 {
		return c.total
	}
	return c.dueBefore(int64(d) + 1)
}

// dueBefore counts the records due strictly before x ns, x in [0, length]:
// floor(n*1e9/rate) < x  <=>  n*1e9 < x*rate  <=>  n < ceil(x*rate/1e9).
func (c *constant) dueBefore(x int64) int64 {
	n, _ := ceilDiv128(mul64(uint64(x), uint64(c.rate)), nsPerSecond)
	return n
}

func (c *constant) Total() int64 { return c.total }

func (c *constant) Length() time.Duration { return time.Duration(c.length) }
