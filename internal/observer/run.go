package observer

import (
	"github.com/segmentio/kafka-go"

	"github.com/streamreplay/streamreplay/internal/runheaders"
)

// runMeta is what a record's run headers say. scanRun reads them in one pass
// over the headers without allocating, where runheaders.Parse takes four
// lookups and copies the run id: the observer does this for every record it
// reads. Like Parse (through header), the last of repeated headers wins.
type runMeta struct {
	runID                          []byte
	worker, seq, intended          int64 // intended: Unix nanoseconds
	hasWorker, hasSeq, hasIntended bool
}

func scanRun(hs []kafka.Header) runMeta {
	var m runMeta
	for i := range hs {
		h := &hs[i]
		switch h.Key {
		case runheaders.RunID:
			m.runID = h.Value
		case runheaders.Worker:
			m.worker, m.hasWorker = parseDecimal(h.Value)
		case runheaders.Sequence:
			m.seq, m.hasSeq = parseDecimal(h.Value)
		case runheaders.Intended:
			m.intended, m.hasIntended = parseDecimal(h.Value)
		}
	}
	return m
}

// parseDecimal reads an optionally signed decimal int64, as strconv.ParseInt
// would, without converting to a string first.
func parseDecimal(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	switch {
	case neg && n <= 1<<63:
		return int64(-n), true
	case !neg && n < 1<<63:
		return int64(n), true
	}
	return 0, false
}
