package samples

import (
	"testing"
)

// skipSafe must find the first '"', '\\' or control byte at every position
// and alignment, whatever bytes come before and after it.
func TestSkipSafe(t *testing.T) {
	fill := []byte{'a', 0x7f, 0x80, 0xff, ' ', 0x21, 0x5d, 0xdc, 0xa2}
	for _, special := range []byte{'"', '\\', 0x00, 0x1f, '\n'} {
		for n := 0; n < 24; n++ {
			for pos := 0; pos <= n; pos++ {
				b := make([]byte, n)
				for i := range b {
					b[i] = fill[(i*7+n)%len(fill)]
				}
				want := n
				if pos < n {
					b[pos] = special
					want = pos
				}
				for start := 0; start <= min(pos, 3); start++ {
					if got := skipSafe(b, start); got != want {
						t.Fatalf("skipSafe(%q, %d) = %d, want %d", b, start, got, want)
					}
				}
			}
		}
	}
}
