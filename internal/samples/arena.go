package samples

// Keys and values are copied into large shared chunks rather than allocated
// one by one: a set of a million records then costs a few hundred
// allocations instead of two million, and little more memory than its bytes.
const (
	minChunk = 16 << 10
	maxChunk = 1 << 20
	// Values bigger than this get their own allocation, so that they do not
	// leave the rest of a chunk unused.
	bigValue = maxChunk / 4
)

// emptyBytes is the value of an empty, non-nil key or value ("" is not null).
var emptyBytes = []byte{}

type arena struct {
	cur  []byte // the chunk being filled: len is used, cap its size
	size int    // size of the last chunk
	big  bool   // the last buf call returned its own allocation
}

// buf returns an empty slice with room for n bytes. Append to it, then pass
// the result to keep; what is not kept is reused by the next call.
func (a *arena) buf(n int) []byte {
	a.big = n > bigValue
	if a.big {
		return make([]byte, 0, n)
	}
	if cap(a.cur)-len(a.cur) < n {
		a.size = min(max(2*a.size, minChunk), maxChunk)
		a.cur = make([]byte, 0, max(a.size, n))
	}
	return a.cur[len(a.cur):len(a.cur)]
}

// keep makes b, filled from the last buf call within its room, permanent.
// The result's capacity is its length, so that appending to one record's
// value can never overwrite the next one.
func (a *arena) keep(b []byte) []byte {
	if len(b) == 0 {
		return emptyBytes
	}
	if a.big {
		return b[:len(b):len(b)]
	}
	start := len(a.cur)
	a.cur = a.cur[:start+len(b)]
	return a.cur[start : start+len(b) : start+len(b)]
}

func (a *arena) copy(src []byte) []byte {
	return a.keep(append(a.buf(len(src)), src...))
}

// headerArena does the same for header slices.
type headerArena struct {
	cur []Header
}

func (h *headerArena) keep(hs []Header) []Header {
	if len(hs) == 0 {
		return nil
	}
	if cap(h.cur)-len(h.cur) < len(hs) {
		h.cur = make([]Header, 0, max(1024, len(hs)))
	}
	start := len(h.cur)
	h.cur = append(h.cur, hs...)
	return h.cur[start:len(h.cur):len(h.cur)]
}
