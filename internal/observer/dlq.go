package observer

import (
	"cmp"
	"encoding/binary"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/internal/runheaders"
)

// Error headers of Kafka Connect's DeadLetterQueueReporter. Connect writes the
// original partition and offset as decimal text.
const (
	connectClass     = "__connect.errors.exception.class.name"
	connectMessage   = "__connect.errors.exception.message"
	connectStage     = "__connect.errors.stage"
	connectTopic     = "__connect.errors.topic"
	connectPartition = "__connect.errors.partition"
	connectOffset    = "__connect.errors.offset"
)

// Error headers of Spring Kafka's DeadLetterPublishingRecoverer. Spring writes
// the original partition as a 4-byte and the offset as an 8-byte big-endian
// integer (ByteBuffer.putInt / putLong).
const (
	springClass        = "kafka_dlt-exception-fqcn"
	springMessage      = "kafka_dlt-exception-message"
	springKeyClass     = "kafka_dlt-key-exception-fqcn"
	springKeyMessage   = "kafka_dlt-key-exception-message"
	springTopic        = "kafka_dlt-original-topic"
	springPartition    = "kafka_dlt-original-partition"
	springOffset       = "kafka_dlt-original-offset"
	unclassified       = "unclassified"
	maxExamples        = 3   // examples kept per class
	maxMessageBytes    = 200 // bytes kept of an example's message
	maxClassNameBytes  = 200 // bytes kept of a class name; Encode cuts further when it must
	maxClassesInMemory = 256 // distinct classes tracked; later ones count in results.OtherClass
)

// header returns the value of the last header named key: Kafka allows
// repeated keys, and both Connect and Spring append theirs after the copied ones.
func header(hs []kafka.Header, key string) ([]byte, bool) {
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].Key == key {
			return hs[i].Value, true
		}
	}
	return nil, false
}

// classSource picks the header values a dead letter's class is named from:
// the value of classifyHeader when set and present; else Kafka Connect's
// exception class, with its stage as suffix; else Spring Kafka's exception
// class, or its key exception class with the suffix "key"; else
// "unclassified". The name is a function of the two values alone (see
// className), so the tally can find a known class without building its name.
func classSource(hs []kafka.Header, classifyHeader string) (primary, suffix []byte) {
	if classifyHeader != "" {
		if v, ok := header(hs, classifyHeader); ok && len(v) > 0 {
			return v, nil
		}
	}
	if v, ok := header(hs, connectClass); ok && len(v) > 0 {
		stage, _ := header(hs, connectStage)
		return v, stage
	}
	if v, ok := header(hs, springClass); ok && len(v) > 0 {
		return v, nil
	}
	if v, ok := header(hs, springKeyClass); ok && len(v) > 0 {
		return v, keySuffix
	}
	return unclassifiedBytes, nil
}

var (
	keySuffix         = []byte("key")
	unclassifiedBytes = []byte(unclassified)
)

// className names a class: "<exception class> (<stage>)" for Kafka Connect,
// the class first so that when Encode shortens names, the stage is what goes.
func className(primary, suffix []byte) string {
	name := string(primary)
	if len(suffix) > 0 {
		name += " (" + string(suffix) + ")"
	}
	return results.Shorten(name, maxClassNameBytes)
}

// exampleOf points at the record a dead letter stands for: the original
// record when the headers say where it was, else the dead letter itself,
// with the exception message.
func exampleOf(m *kafka.Message) results.DLQExample {
	hs := m.Headers
	ex := results.DLQExample{Topic: m.Topic, Partition: int32(m.Partition), Offset: m.Offset}
	for _, k := range [...]string{connectMessage, springMessage, springKeyMessage} {
		if v, ok := header(hs, k); ok && len(v) > 0 {
			ex.Message = results.Shorten(string(v), maxMessageBytes)
			break
		}
	}
	if t, p, o, ok := original(hs, connectTopic, connectPartition, connectOffset); ok {
		ex.Topic, ex.Partition, ex.Offset = t, p, o
	} else if t, p, o, ok := original(hs, springTopic, springPartition, springOffset); ok {
		ex.Topic, ex.Partition, ex.Offset = t, p, o
	}
	return ex
}

// original reads where the dead letter's record came from; ok only when all
// three headers are present and sound.
func original(hs []kafka.Header, topicKey, partitionKey, offsetKey string) (topic string, partition int32, offset int64, ok bool) {
	t, ok := header(hs, topicKey)
	if !ok || len(t) == 0 {
		return "", 0, 0, false
	}
	pv, _ := header(hs, partitionKey)
	p, ok := decodeInt(pv, 4)
	if !ok || p > 1<<31-1 {
		return "", 0, 0, false
	}
	ov, _ := header(hs, offsetKey)
	o, ok := decodeInt(ov, 8)
	if !ok {
		return "", 0, 0, false
	}
	return results.Shorten(string(t), maxClassNameBytes), int32(p), o, true
}

// decodeInt reads a non-negative integer written either as decimal text (Kafka
// Connect) or big-endian binary of size bytes (Spring Kafka). The two cannot be
// confused: a binary partition or offset made only of ASCII digits would be
// above 808 million or 3.4e18.
func decodeInt(v []byte, size int) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	if len(v) == size && !allDigits(v) {
		var n int64
		if size == 4 {
			n = int64(int32(binary.BigEndian.Uint32(v)))
		} else {
			n = int64(binary.BigEndian.Uint64(v))
		}
		return n, n >= 0
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil && n >= 0
}

func allDigits(v []byte) bool {
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// dlqTally counts the dead letters of the run's window.
type dlqTally struct {
	runID          string
	start          time.Time // records of other runs count only from here; set by Run before reading
	countAll       bool
	classifyHeader string
	metrics        *metrics

	mu      sync.Mutex
	records int64
	other   int64
	classes map[string]*classEntry // by name
	// known finds a class by its header values without building its name:
	// every dead letter is classified, and most are of a few classes.
	known     map[string]map[string]*classEntry
	knownSize int
}

type classEntry struct {
	class   results.DLQClass
	counter prometheus.Counter
}

// maxKnown bounds the cache of header values; past it names are built each time.
const maxKnown = 4096

func newDLQTally(runID string, d *plan.DLQ, m *metrics) *dlqTally {
	return &dlqTally{
		runID: runID, countAll: d.CountAllRecords, classifyHeader: d.ClassifyHeader,
		metrics: m, classes: map[string]*classEntry{}, known: map[string]map[string]*classEntry{},
	}
}

// add counts one dead letter read from the DLQ topic.
func (t *dlqTally) add(m *kafka.Message, _ time.Time) {
	id, _ := header(m.Headers, runheaders.RunID)
	if string(id) != t.runID {
		// Reading starts a little before the start (clock skew between the
		// workers and the broker), so other runs' letters are dated.
		if !m.Time.IsZero() && m.Time.Before(t.start) {
			return
		}
		t.mu.Lock()
		t.other++
		t.mu.Unlock()
		t.metrics.dlqOther.Inc()
		if !t.countAll {
			return
		}
	}
	primary, suffix := classSource(m.Headers, t.classifyHeader)
	t.mu.Lock()
	t.records++
	e := t.known[string(primary)][string(suffix)] // no allocation: map index by converted bytes
	if e == nil {
		e = t.entry(primary, suffix)
	}
	e.class.Count++
	if len(e.class.Examples) < maxExamples {
		e.class.Examples = append(e.class.Examples, exampleOf(m))
	}
	t.mu.Unlock()
	e.counter.Inc()
}

// entry finds or makes the class of these header values; t.mu is held.
func (t *dlqTally) entry(primary, suffix []byte) *classEntry {
	name := className(primary, suffix)
	e := t.classes[name]
	if e == nil {
		if len(t.classes) >= maxClassesInMemory {
			name = results.OtherClass
			e = t.classes[name]
		}
		if e == nil {
			e = &classEntry{class: results.DLQClass{Name: name}, counter: t.metrics.dlqClass(name)}
			t.classes[name] = e
		}
	}
	if t.knownSize < maxKnown {
		bySuffix := t.known[string(primary)]
		if bySuffix == nil {
			bySuffix = map[string]*classEntry{}
			t.known[string(primary)] = bySuffix
		}
		bySuffix[string(suffix)] = e
		t.knownSize++
	}
	return e
}

func (t *dlqTally) counts() (records, other int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.records, t.other
}

// result gives the DLQ section, the largest classes first: Encode drops from
// the end when the report does not fit.
func (t *dlqTally) result() *results.DLQResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := &results.DLQResult{Records: t.records, OtherRecords: t.other}
	for _, e := range t.classes {
		c := e.class
		c.Examples = slices.Clone(c.Examples)
		r.Classes = append(r.Classes, c)
	}
	slices.SortFunc(r.Classes, func(a, b results.DLQClass) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name))
	})
	return r
}
