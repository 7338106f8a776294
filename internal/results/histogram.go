package results

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram geometry. Every histogram in a report has this range; only the
// number of significant digits varies (Encode lowers it to fit a report in
// a termination message).
const (
	histLowest    = 1                                   // 1µs
	histHighest   = int64(time.Hour / time.Microsecond) // 1h in µs
	defaultDigits = 3                                   // significant digits of NewHistogram
	minDigits     = 1                                   // fewest digits a report may carry
)

// Histogram is a latency histogram with values in microseconds, tracking
// 1µs..1h. The zero value is ready to record (at 3 significant digits). Like the
// underlying hdrhistogram.Histogram it is not safe for concurrent use.
//
// In JSON it is the string of hdrhistogram's V2 compressed encoding (base64).
type Histogram struct {
	h *hdrhistogram.Histogram
	// enc caches the encoding of a histogram that is no longer recorded into:
	// Encode tries several layouts of one report and must not compress the same
	// histogram each time. Record and Merge clear it.
	enc []byte
}

// NewHistogram returns an empty histogram tracking 1µs..1h at 3 significant digits.
func NewHistogram() *Histogram { return newHistogramDigits(defaultDigits) }

func newHistogramDigits(digits int) *Histogram {
	return &Histogram{h: hdrhistogram.New(histLowest, histHighest, digits)}
}

func (h *Histogram) init() {
	if h.h == nil {
		h.h = hdrhistogram.New(histLowest, histHighest, defaultDigits)
	}
}

// Record adds one latency. Values outside 0..1h are clamped rather than
// rejected: a negative end-to-end latency (clock skew) or a record stuck for
// hours is still one record, and losing it would skew the counts.
func (h *Histogram) Record(d time.Duration) {
	h.init()
	h.enc = nil
	v := max(0, min(int64(d/time.Microsecond), histHighest))
	_ = h.h.RecordValue(v) // cannot fail in range; a total past MaxInt64 is unreachable
}

// Count returns the number of recorded values.
func (h *Histogram) Count() int64 {
	if h == nil || h.h == nil {
		return 0
	}
	return h.h.TotalCount()
}

// Quantile returns the value at quantile q (0..1, e.g. 0.99), rounded up to
// the histogram's precision so that it never understates latency.
// It returns 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.Count() == 0 {
		return 0
	}
	// hdrhistogram's ValueAtQuantile takes a percentile (0..100).
	return time.Duration(h.h.ValueAtPercentile(max(0, min(q, 1))*100)) * time.Microsecond
}

// Max returns the largest recorded value, at the histogram's precision.
func (h *Histogram) Max() time.Duration {
	if h.Count() == 0 {
		return 0
	}
	return time.Duration(h.h.Max()) * time.Microsecond
}

// SignificantDigits returns the precision of the histogram (1..3 in reports).
func (h *Histogram) SignificantDigits() int {
	if h == nil || h.h == nil {
		return defaultDigits
	}
	return int(h.h.SignificantFigures())
}

// Merge adds the values of other to h. Each bucket of other is recorded at the
// highest value it stands for: that is exact when h is as precise as other or
// less, and errs on the slow side when other is coarser than h, so merging
// reports of mixed precision never makes latency look better than measured.
// It fails only when the total count would pass MaxInt64.
func (h *Histogram) Merge(other *Histogram) error {
	if other.Count() == 0 {
		return nil
	}
	h.init()
	h.enc = nil
	if sameBuckets(h.h, other.h) {
		// hdrhistogram's Merge walks only the recorded buckets (Distribution makes a bar of
		// every one); with the same buckets, a bucket's lowest value, which it records, is
		// as good as its highest.
		h.h.Merge(other.h) // same range: nothing is dropped
		return nil
	}
	// Another precision: each of other's buckets is counted at its highest value, so that
	// a coarser source never reads better than it was.
	for _, bar := range other.h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		if h.h.RecordValues(bar.To, bar.Count) == nil {
			continue
		}
		// Out of h's range (only if other's last bucket reaches further): count it at the top.
		if err := h.h.RecordValues(h.h.HighestTrackableValue(), bar.Count); err != nil {
			return fmt.Errorf("merge histogram: %w", err)
		}
	}
	return nil
}

// sameBuckets tells whether a and b have the same range and precision.
func sameBuckets(a, b *hdrhistogram.Histogram) bool {
	return a.LowestTrackableValue() == b.LowestTrackableValue() && a.HighestTrackableValue() == b.HighestTrackableValue() &&
		a.SignificantFigures() == b.SignificantFigures()
}

// withDigits returns a copy of h at the given precision (never more precise
// than h already is). Going down is exact: a coarse bucket is a union of fine ones.
func (h *Histogram) withDigits(digits int) *Histogram {
	if digits >= h.SignificantDigits() && h.h != nil {
		return &Histogram{h: h.h.Clone()}
	}
	out := newHistogramDigits(min(digits, h.SignificantDigits()))
	_ = out.Merge(h) // same total as h, so it cannot overflow
	return out
}

// encode returns the V2 compressed base64 encoding.
func (h *Histogram) encode() ([]byte, error) {
	if h.enc != nil {
		return h.enc, nil
	}
	h.init()
	b, err := h.h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil, fmt.Errorf("encode histogram: %w", err)
	}
	return b, nil
}

// MarshalJSON writes the histogram as a JSON string of its compact encoding.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	b, err := h.encode()
	if err != nil {
		return nil, err
	}
	return json.Marshal(string(b))
}

// UnmarshalJSON reads the string MarshalJSON writes.
func (h *Histogram) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("bad histogram encoding: not a JSON string: %w", err)
	}
	d, err := decodeHistogram([]byte(s))
	if err != nil {
		return fmt.Errorf("bad histogram encoding %s: %w", quoteHead([]byte(s), 16), err)
	}
	*h = Histogram{h: d}
	return nil
}

var errEmptyHistogram = errors.New("empty string")

// decodeHistogram checks the geometry in the header before hdrhistogram.Decode
// allocates the counts array: a 4 KB message could otherwise declare a
// 1..MaxInt64 histogram at 5 digits and make the controller allocate ~50 MB.
func decodeHistogram(s []byte) (*hdrhistogram.Histogram, error) {
	if len(s) == 0 {
		return nil, errEmptyHistogram
	}
	raw, err := base64.StdEncoding.DecodeString(string(s))
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	if err := checkGeometry(raw); err != nil {
		return nil, err
	}
	d, err := hdrhistogram.Decode(s)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// checkGeometry reads the compressed V2 header: cookie, compressed length, then
// (inflated) cookie, payload length, normalizing offset, digits, lowest, highest.
func checkGeometry(raw []byte) error {
	if len(raw) < 8 {
		return fmt.Errorf("%d bytes, too short for a V2 histogram", len(raw))
	}
	if cookie := int32(binary.BigEndian.Uint32(raw)) &^ 0xf0; cookie != hdrhistogram.V2CompressedEncodingCookieBase {
		return fmt.Errorf("not a V2 compressed histogram (cookie %#x)", cookie)
	}
	n := int64(int32(binary.BigEndian.Uint32(raw[4:])))
	if n < 0 || n > int64(len(raw)-8) {
		return fmt.Errorf("compressed length %d does not match the %d bytes present", n, len(raw)-8)
	}
	z, err := zlib.NewReader(bytes.NewReader(raw[8 : 8+n]))
	if err != nil {
		return fmt.Errorf("not zlib compressed: %w", err)
	}
	defer func() { _ = z.Close() }()
	hdr := make([]byte, hdrhistogram.ENCODING_HEADER_SIZE)
	if _, err := io.ReadFull(z, hdr); err != nil {
		return fmt.Errorf("truncated header: %w", err)
	}
	digits := int32(binary.BigEndian.Uint32(hdr[12:]))
	lowest := int64(binary.BigEndian.Uint64(hdr[16:]))
	highest := int64(binary.BigEndian.Uint64(hdr[24:]))
	if lowest != histLowest || highest != histHighest || digits < minDigits || digits > defaultDigits {
		return fmt.Errorf("range %d..%d at %d digits, want %d..%d (1µs..1h) at %d to %d digits",
			lowest, highest, digits, histLowest, histHighest, minDigits, defaultDigits)
	}
	return nil
}
