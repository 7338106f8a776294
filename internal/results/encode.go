package results

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"maps"
	"math"
	"slices"
)

// OtherClass is the error class that Encode folds the smallest classes into.
const OtherClass = "other"

// step is one layout Encode tries. Each loses more detail than the one
// before, least useful first: example text, send-latency precision (the
// acknowledgement latency is what a verdict reads), class breakdowns, and
// the acknowledgement and end-to-end histograms last. Counters are never
// touched, and class counts move into OtherClass or the omitted totals, so
// every total still adds up.
type step struct {
	latDigits  int // significant digits of the latency and end-to-end histograms; 0 drops them
	sendDigits int // significant digits of the send-latency histogram; 0 drops it
	examples   int // examples kept per DLQ class; -1 keeps all
	exampleLen int // bytes kept of an example message; 0 keeps all
	nameLen    int // bytes kept of a class name; 0 keeps all
	classes    int // error and DLQ classes kept; -1 keeps all
}

// A 10-minute worker report at 1,000 records/s has histograms of about 5 KB
// each at 3 digits, 1.5 KB at 2 and 400 bytes at 1, so the steps on
// histograms are the ones that matter most.
var steps = []step{
	{latDigits: 3, sendDigits: 3, examples: -1, classes: -1},
	{latDigits: 3, sendDigits: 3, examples: 3, exampleLen: 200, classes: -1},
	{latDigits: 3, sendDigits: 2, examples: 3, exampleLen: 200, classes: -1},
	{latDigits: 3, sendDigits: 1, examples: 3, exampleLen: 200, classes: -1},
	{latDigits: 2, sendDigits: 1, examples: 3, exampleLen: 200, classes: -1},
	{latDigits: 2, sendDigits: 1, examples: 3, exampleLen: 64, nameLen: 64, classes: -1},
	{latDigits: 2, sendDigits: 1, examples: 1, exampleLen: 64, nameLen: 64, classes: 32},
	{latDigits: 2, sendDigits: 0, examples: 1, exampleLen: 64, nameLen: 64, classes: 32},
	{latDigits: 2, sendDigits: 0, examples: 0, nameLen: 64, classes: 8},
	{latDigits: 1, sendDigits: 0, examples: 0, nameLen: 64, classes: 8},
	{latDigits: 1, sendDigits: 0, examples: 0, nameLen: 64, classes: 0},
	// Only bounded fields are left (validate bounds the pod name, run id and
	// notes; at most one class each of at most 64 bytes), so this always
	// fits: about 3 KB at worst.
	{latDigits: 0, sendDigits: 0, examples: 0, nameLen: 64, classes: 0},
}

// Encode returns the report as JSON of at most MaxMessageBytes. When the full
// report does not fit, it loses precision step by step (see steps) and lists
// what it reduced in Degraded; r itself is not changed. It fails only on an
// invalid report (unknown role, over-long pod name or run id, negative
// counters, ...).
func (r *Report) Encode() ([]byte, error) {
	if r == nil {
		return nil, errors.New("encode report: nil report")
	}
	v := *r
	if v.Version == 0 {
		v.Version = FormatVersion
	}
	if err := v.validate(); err != nil {
		return nil, fmt.Errorf("invalid report: %w", err)
	}
	e := encoder{hists: map[histKey]*Histogram{}}
	size := 0
	for _, s := range steps {
		c, err := e.reduce(&v, s)
		if err != nil {
			return nil, err
		}
		b, err := marshalJSON(c)
		if err != nil {
			return nil, fmt.Errorf("encode report: %w", err)
		}
		if len(b) <= MaxMessageBytes {
			return b, nil
		}
		size = len(b)
	}
	return nil, fmt.Errorf("encode report: %d bytes with everything optional dropped, more than %d", size, MaxMessageBytes)
}

type histKey struct {
	h      *Histogram
	digits int
}

// encoder keeps the reduced histograms across steps, encoded once each.
type encoder struct {
	hists map[histKey]*Histogram
	notes []string
}

func (e *encoder) note(format string, args ...any) {
	if n := fmt.Sprintf(format, args...); !slices.Contains(e.notes, n) {
		e.notes = append(e.notes, n)
	}
}

// reduce returns a shallow copy of r laid out as step s asks; the slices and
// maps it changes are new, so r is left as it was.
func (e *encoder) reduce(r *Report, s step) (*Report, error) {
	e.notes = e.notes[:0]
	c := *r
	if r.Worker != nil {
		w := *r.Worker
		var err error
		if w.Latency, err = e.hist(w.Latency, "latency", s.latDigits); err != nil {
			return nil, err
		}
		if w.SendLatency, err = e.hist(w.SendLatency, "send latency", s.sendDigits); err != nil {
			return nil, err
		}
		w.Errors = e.foldErrors(w.Errors, s)
		c.Worker = &w
	}
	if r.Observer != nil {
		o := *r.Observer
		if o.DLQ != nil {
			o.DLQ = e.reduceDLQ(*o.DLQ, s)
		}
		if o.EndToEnd != nil {
			ee := *o.EndToEnd
			var err error
			if ee.Latency, err = e.hist(ee.Latency, "end-to-end latency", s.latDigits); err != nil {
				return nil, err
			}
			o.EndToEnd = &ee
		}
		c.Observer = &o
	}
	c.Degraded = mergeNotes(e.notes, r.Degraded)
	return &c, nil
}

// hist returns h at the given precision (never raised); 0 digits drops it.
func (e *encoder) hist(h *Histogram, name string, digits int) (*Histogram, error) {
	if h == nil {
		return nil, nil
	}
	if digits == 0 {
		e.note("%s: dropped", name)
		return nil, nil
	}
	from := h.SignificantDigits()
	digits = min(digits, from)
	if digits < from {
		e.note("%s: %d significant digit%s", name, digits, plural(digits))
	}
	k := histKey{h, digits}
	if c, ok := e.hists[k]; ok {
		return c, nil
	}
	// A private copy, so the cached encoding never goes stale.
	c := h.withDigits(digits)
	enc, err := c.encode()
	if err != nil {
		return nil, fmt.Errorf("encode %s histogram: %w", name, err)
	}
	c.enc = enc
	e.hists[k] = c
	return c, nil
}

// foldErrors shortens class names and keeps the largest classes, adding the
// rest into OtherClass.
func (e *encoder) foldErrors(m map[string]int64, s step) map[string]int64 {
	if s.nameLen > 0 && anyLonger(maps.Keys(m), s.nameLen) {
		short := make(map[string]int64, len(m))
		for k, n := range m {
			short[Shorten(k, s.nameLen)] += n
		}
		m = short
		e.note("error class names: cut to %d bytes", s.nameLen)
	}
	if s.classes < 0 || len(m) <= s.classes+1 { // folding one class alone saves nothing
		return m
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b))
	})
	out := make(map[string]int64, s.classes+1)
	for _, k := range keys[:s.classes] {
		out[k] = m[k]
	}
	for _, k := range keys[s.classes:] {
		out[OtherClass] += m[k]
	}
	e.note("errors: top %d classes, rest in %s", s.classes, OtherClass)
	return out
}

// reduceDLQ shortens names and examples and keeps the largest classes,
// counting the rest in OmittedClasses and OmittedRecords.
func (e *encoder) reduceDLQ(d DLQResult, s step) *DLQResult {
	classes := slices.Clone(d.Classes)
	if s.nameLen > 0 && slices.ContainsFunc(classes, func(c DLQClass) bool { return len(c.Name) > s.nameLen }) {
		for i := range classes {
			classes[i].Name = Shorten(classes[i].Name, s.nameLen)
		}
		classes = mergeClasses(classes, -1)
		e.note("dlq class names: cut to %d bytes", s.nameLen)
	}
	if s.classes >= 0 && len(classes) > s.classes+1 { // omitting one class alone saves little
		slices.SortStableFunc(classes, func(a, b DLQClass) int { return cmp.Compare(b.Count, a.Count) })
		for _, c := range classes[s.classes:] {
			d.OmittedClasses = min(d.OmittedClasses, math.MaxInt-1) + 1
			d.OmittedRecords += c.Count // cannot overflow: validate bounds the sum by Records
		}
		classes = classes[:s.classes]
		e.note("dlq: top %d classes, rest omitted", s.classes)
	}
	for i := range classes {
		c := &classes[i]
		if s.examples >= 0 && len(c.Examples) > s.examples {
			c.Examples = c.Examples[:s.examples]
			if s.examples == 0 {
				e.note("dlq examples: dropped")
			} else {
				e.note("dlq examples: %d per class", s.examples)
			}
		}
		if s.exampleLen > 0 {
			c.Examples = slices.Clone(c.Examples)
			for j := range c.Examples {
				if m := &c.Examples[j].Message; len(*m) > s.exampleLen {
					*m = Shorten(*m, s.exampleLen)
					e.note("dlq examples: cut to %d bytes", s.exampleLen)
				}
			}
		}
		if len(c.Examples) == 0 {
			c.Examples = nil
		}
	}
	if len(classes) == 0 {
		classes = nil
	}
	d.Classes = classes
	return &d
}

// mergeClasses merges classes of the same name, in order of first
// appearance, keeping at most maxExamples examples each (-1: all).
func mergeClasses(classes []DLQClass, maxExamples int) []DLQClass {
	var out []DLQClass
	at := map[string]int{}
	for _, c := range classes {
		i, ok := at[c.Name]
		if !ok {
			i = len(out)
			at[c.Name] = i
			out = append(out, DLQClass{Name: c.Name})
		}
		out[i].Count += c.Count
		out[i].Examples = append(out[i].Examples, c.Examples...)
		if maxExamples >= 0 && len(out[i].Examples) > maxExamples {
			out[i].Examples = out[i].Examples[:maxExamples]
		}
	}
	return out
}

// mergeNotes adds the notes a pod already had to Encode's own, within the
// bound validate enforces; Encode's own take precedence, as they describe
// this very message.
func mergeNotes(ours, theirs []string) []string {
	out := slices.Clone(ours)
	for _, n := range theirs {
		if len(out) >= maxDegraded {
			break
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return out
}

func plural[T int | int64](n T) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func anyLonger(names iter.Seq[string], n int) bool {
	for s := range names {
		if len(s) > n {
			return true
		}
	}
	return false
}
