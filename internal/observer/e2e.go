package observer

import (
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/segmentio/kafka-go"

	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/internal/runheaders"
)

// headerlessWarnAfter is how many output records without run headers, and none
// with, make the observer say that the pipeline drops headers.
const headerlessWarnAfter = 100

// maxWorker bounds the worker numbers tracked for duplicates (a plan has at most a few hundred workers).
const maxWorker = 1 << 20

// e2eTally counts this run's records on the output topic and their latency.
type e2eTally struct {
	runID   string
	start   time.Time // set by Run before reading
	metrics *metrics
	log     logr.Logger
	probes  *probeWindows // a Capacity search's windows; nil otherwise

	mu         sync.Mutex
	delivered  int64 // distinct records of this run
	duplicates int64 // further copies of a record already delivered
	untracked  int64 // records of this run without worker and sequence: delivered, but not checked for duplicates
	headerless int64 // records in the window without a run id
	warned     bool
	latency    *results.Histogram
	seen       seqSet
	// overLimit, when > 0, is the early stop's end-to-end limit; over counts the
	// delivered records beyond it.
	overLimit time.Duration
	over      int64
}

func newE2ETally(runID string, m *metrics, log logr.Logger) *e2eTally {
	return &e2eTally{runID: runID, metrics: m, log: log, latency: results.NewHistogram()}
}

// add counts one record read from the output topic at recv.
func (t *e2eTally) add(m *kafka.Message, recv time.Time) {
	var r runheaders.Fields
	for i := range m.Headers {
		r.Set(m.Headers[i].Key, m.Headers[i].Value)
	}
	if len(r.RunID) == 0 {
		if m.Time.IsZero() || !m.Time.Before(t.start) {
			t.countHeaderless()
		}
		return
	}
	if string(r.RunID) != t.runID {
		return
	}
	if r.HasIntended {
		t.probes.delivered(time.Unix(0, r.Intended), recv)
	}

	t.mu.Lock()
	dup, tracked := false, false
	if r.HasWorker && r.HasSequence && r.Worker <= maxWorker {
		dup, tracked = t.seen.testAndSet(int(r.Worker), r.Sequence)
	}
	if !tracked {
		t.untracked++ // delivered, but a copy of it would go unnoticed
	}
	var latency time.Duration
	measured := false
	if dup {
		t.duplicates++
	} else {
		t.delivered++
		if r.HasIntended {
			latency, measured = recv.Sub(time.Unix(0, r.Intended)), true
			t.latency.Record(latency)
			if t.overLimit > 0 && latency > t.overLimit {
				t.over++
			}
		}
	}
	t.mu.Unlock()

	t.metrics.output.Inc()
	if dup {
		t.metrics.duplicates.Inc()
	} else if measured {
		t.metrics.latency.Observe(max(0, latency.Seconds()))
	}
}

func (t *e2eTally) countHeaderless() {
	t.mu.Lock()
	t.headerless++
	warn := !t.warned && t.delivered == 0 && t.headerless >= headerlessWarnAfter
	if warn {
		t.warned = true
	}
	n := t.headerless
	t.mu.Unlock()
	if warn {
		t.log.Info("Output records carry no run headers: the pipeline drops them, so delivery and end-to-end latency are not measured",
			"records", n)
	}
}

type e2eCounts struct {
	delivered, duplicates, headerless int64
	p50, p99                          time.Duration
}

func (t *e2eTally) counts() e2eCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return e2eCounts{
		delivered: t.delivered, duplicates: t.duplicates, headerless: t.headerless,
		p50: t.latency.Quantile(0.5), p99: t.latency.Quantile(0.99),
	}
}

func (t *e2eTally) result() *results.EndToEndResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := &results.EndToEndResult{Delivered: t.delivered, Duplicates: t.duplicates}
	if t.latency.Count() > 0 {
		// A copy: the report may be encoded while late readers still record.
		r.Latency = results.NewHistogram()
		_ = r.Latency.Merge(t.latency) // same total, cannot overflow
	}
	return r
}

// seqSet is a sparse bitmap of the sequence numbers seen, per worker: 64 Ki
// sequences per 8 KiB chunk, so 10 million records of one worker cost about
// 1.3 MB, and one malformed huge sequence number costs one chunk, not a giant
// slice. The last chunk used is cached: records of a worker arrive mostly in
// sequence order.
type seqSet struct {
	chunks  map[chunkKey]*seqChunk
	lastKey chunkKey
	last    *seqChunk
}

const (
	chunkShift = 16
	chunkWords = 1 << chunkShift / 64
)

type (
	chunkKey struct {
		worker int
		hi     int64
	}
	seqChunk [chunkWords]uint64
)

// testAndSet marks (worker, seq) as seen and tells whether it was already.
// tracked is false for negative numbers, which are not tracked.
func (s *seqSet) testAndSet(worker int, seq int64) (seen, tracked bool) {
	if worker < 0 || seq < 0 {
		return false, false
	}
	k := chunkKey{worker, seq >> chunkShift}
	c := s.last
	if c == nil || k != s.lastKey {
		if s.chunks == nil {
			s.chunks = map[chunkKey]*seqChunk{}
		}
		c = s.chunks[k]
		if c == nil {
			c = new(seqChunk)
			s.chunks[k] = c
		}
		s.last, s.lastKey = c, k
	}
	low := seq & (1<<chunkShift - 1)
	word, bit := &c[low/64], uint64(1)<<(low%64)
	seen = *word&bit != 0
	*word |= bit
	return seen, true
}
