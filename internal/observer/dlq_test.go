package observer

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/segmentio/kafka-go"

	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/internal/runheaders"
)

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func hdrs(kv ...string) []kafka.Header {
	var hs []kafka.Header
	for i := 0; i+1 < len(kv); i += 2 {
		hs = append(hs, kafka.Header{Key: kv[i], Value: []byte(kv[i+1])})
	}
	return hs
}

func be32(n int32) string {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, uint32(n))
	return string(b)
}

func be64(n int64) string {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(n))
	return string(b)
}

func TestClassify(t *testing.T) {
	self := results.DLQExample{Topic: "dlq", Partition: 1, Offset: 42}
	for name, tc := range map[string]struct {
		headers   []kafka.Header
		classify  string
		wantClass string
		wantEx    results.DLQExample
	}{
		"kafka connect": {
			headers: hdrs(connectClass, "org.apache.kafka.connect.errors.DataException", connectStage, "VALUE_CONVERTER",
				connectMessage, "bad JSON", connectTopic, "in", connectPartition, "7", connectOffset, "123456789012"),
			wantClass: "org.apache.kafka.connect.errors.DataException (VALUE_CONVERTER)",
			wantEx:    results.DLQExample{Topic: "in", Partition: 7, Offset: 123456789012, Message: "bad JSON"},
		},
		"spring binary coordinates": {
			headers: hdrs(springClass, "org.example.Boom", springMessage, "boom", springTopic, "in",
				springPartition, be32(3), springOffset, be64(1<<40+5)),
			wantClass: "org.example.Boom",
			wantEx:    results.DLQExample{Topic: "in", Partition: 3, Offset: 1<<40 + 5, Message: "boom"},
		},
		"spring offset made of digit bytes is still binary when 8 bytes long": {
			headers:   hdrs(springClass, "X", springTopic, "in", springPartition, be32(0), springOffset, be64(0x0030303030303030)),
			wantClass: "X",
			wantEx:    results.DLQExample{Topic: "in", Partition: 0, Offset: 0x0030303030303030},
		},
		"spring key exception": {
			headers:   hdrs(springKeyClass, "org.example.KeyBoom", springKeyMessage, "bad key"),
			wantClass: "org.example.KeyBoom (key)",
			wantEx:    results.DLQExample{Topic: "dlq", Partition: 1, Offset: 42, Message: "bad key"},
		},
		"classify header first": {
			headers:   hdrs("x-error-code", "E42", connectClass, "Boom"),
			classify:  "x-error-code",
			wantClass: "E42",
			wantEx:    self,
		},
		// An empty value is no class: the next source names it.
		"classify header empty falls back to Connect": {
			headers:   hdrs("x-error-code", "", connectClass, "Boom", connectStage, "CONVERTER"),
			classify:  "x-error-code",
			wantClass: "Boom (CONVERTER)",
			wantEx:    self,
		},
		"classify header empty falls back to Spring": {
			headers:   hdrs("x-error-code", "", springClass, "org.example.Boom"),
			classify:  "x-error-code",
			wantClass: "org.example.Boom",
			wantEx:    self,
		},
		"empty Connect class falls back to Spring": {
			headers:   hdrs(connectClass, "", springClass, "org.example.Boom"),
			wantClass: "org.example.Boom",
			wantEx:    self,
		},
		"classify header missing falls back": {
			headers:   hdrs(connectClass, "Boom"),
			classify:  "x-error-code",
			wantClass: "Boom",
			wantEx:    self,
		},
		"unclassified": {
			headers:   hdrs(runheaders.RunID, runID),
			wantClass: unclassified,
			wantEx:    self,
		},
		"incomplete original points at the dead letter": {
			headers:   hdrs(connectClass, "Boom", connectTopic, "in", connectPartition, "-1", connectOffset, "5"),
			wantClass: "Boom",
			wantEx:    self,
		},
	} {
		t.Run(name, func(t *testing.T) {
			m := &kafka.Message{Topic: "dlq", Partition: 1, Offset: 42, Headers: tc.headers}
			class, ex := classify(m, tc.classify)
			if class != tc.wantClass {
				t.Errorf("class = %q, want %q", class, tc.wantClass)
			}
			if diff := cmp.Diff(tc.wantEx, ex); diff != "" {
				t.Errorf("example mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes
	got := results.Shorten(long, maxMessageBytes)
	if len(got) > maxMessageBytes || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("truncate gave %d bytes, valid %v: %q", len(got), utf8.ValidString(got), got)
	}
	if got := results.Shorten("ab\xffc", 10); got != "ab?c" {
		t.Errorf("invalid UTF-8 gave %q", got)
	}
	if got := results.Shorten("short", 10); got != "short" {
		t.Errorf("short string changed to %q", got)
	}
}

// TestManyClassesFit: 300 classes with long messages overflow the in-memory
// bound into "other", and the report still fits a termination message with
// the largest classes first and every record accounted for.
func TestManyClassesFit(t *testing.T) {
	m, _ := newMetrics(nil)
	tally := newDLQTally(runID, &plan.DLQ{Topic: "dlq"}, m)
	tally.start = time.Now()
	total := 0
	for c := range 300 {
		n := 300 - c // class 0 is the largest
		for i := range n {
			tally.add(&kafka.Message{Topic: "dlq", Offset: int64(total), Headers: hdrs(
				runheaders.RunID, runID,
				connectClass, fmt.Sprintf("com.example.pipeline.errors.SomethingWentWrongException%03d", c),
				connectMessage, strings.Repeat("détail ", 60)+itoa(i),
			)}, time.Now())
			total++
		}
	}
	res := tally.result()
	if len(res.Classes) != maxClassesInMemory+1 {
		t.Fatalf("%d classes in memory, want %d + other", len(res.Classes), maxClassesInMemory)
	}
	if got := testCount(m, results.OtherClass); got != float64(total-sumFirst(300, maxClassLabels)) {
		t.Errorf("metric class other = %v, want %d (classes past the label bound)", got, total-sumFirst(300, maxClassLabels))
	}
	rep := &results.Report{
		Version: results.FormatVersion, Role: results.RoleObserver, Pod: "crm-cdc-peak-observer", RunID: runID,
		Start: time.Now(), End: time.Now(), Observer: &results.ObserverResult{DLQ: res},
	}
	b, err := rep.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > results.MaxMessageBytes {
		t.Fatalf("encoded report is %d bytes", len(b))
	}
	dec, err := results.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	d := dec.Observer.DLQ
	sum := d.OmittedRecords
	for _, c := range d.Classes {
		sum += c.Count
	}
	if d.Records != int64(total) || sum != int64(total) || d.OmittedClasses == 0 {
		t.Errorf("records %d, classes+omitted %d, omitted classes %d; want %d, %d, > 0", d.Records, sum, d.OmittedClasses, total, total)
	}
	// The in-memory "other" (classes 256 to 299, 990 records) is the largest, then class 0.
	if len(d.Classes) < 2 || d.Classes[0].Name != results.OtherClass || !strings.HasSuffix(d.Classes[1].Name, "Exception000") {
		t.Errorf("classes kept = %+v, want other, then class 000", d.Classes)
	}
	for i := 1; i < len(d.Classes); i++ {
		if d.Classes[i].Count > d.Classes[i-1].Count {
			t.Errorf("class %d (%d) is larger than class %d (%d)", i, d.Classes[i].Count, i-1, d.Classes[i-1].Count)
		}
	}
	t.Logf("%d bytes, %d classes kept, %d omitted, degraded %v", len(b), len(d.Classes), d.OmittedClasses, dec.Degraded)
}

func sumFirst(n, k int) int {
	s := 0
	for c := range k {
		s += n - c
	}
	return s
}

func testCount(m *metrics, class string) float64 {
	c, err := m.dlqRecords.GetMetricWithLabelValues(class)
	if err != nil {
		return -1
	}
	return metricValue(c)
}

func TestSeqSet(t *testing.T) {
	var s seqSet
	for _, tc := range []struct {
		worker          int
		seq             int64
		seen, untracked bool
	}{
		{0, 0, false, false}, {0, 0, true, false}, {0, 65535, false, false}, {0, 65536, false, false},
		{1, 0, false, false}, {0, 1 << 50, false, false}, {0, 1 << 50, true, false}, {0, 65535, true, false},
		{-1, 3, false, true}, {0, -3, false, true},
	} {
		seen, tracked := s.testAndSet(tc.worker, tc.seq)
		if seen != tc.seen || tracked == tc.untracked {
			t.Errorf("testAndSet(%d, %d) = %v, %v; want %v, %v", tc.worker, tc.seq, seen, tracked, tc.seen, !tc.untracked)
		}
	}
	if len(s.chunks) != 4 {
		t.Errorf("%d chunks, want 4", len(s.chunks))
	}
}

// classify is the class name and example the tally derives for m.
func classify(m *kafka.Message, classifyHeader string) (string, results.DLQExample) {
	return className(classSource(m.Headers, classifyHeader)), exampleOf(m)
}
