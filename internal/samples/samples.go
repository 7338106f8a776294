// Package samples loads the recorded Kafka records that a LoadTest replays:
// JSON Lines or kcat -J files, plain or gzip, from a file, a folder (such as
// a mounted ConfigMap or volume) or an HTTP(S) URL, and splits them between
// replay workers.
package samples

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// Format of a sample set: the API's type, whose constants name the formats.
type Format = streamreplayv1alpha1.SampleFormat

// Header is a Kafka record header; a nil Value is a null one.
type Header struct {
	Key   string
	Value []byte
}

// Record is one recorded Kafka record.
type Record struct {
	Key       []byte // nil: no key
	Value     []byte // nil: a tombstone
	Headers   []Header
	Timestamp time.Time // zero when not recorded
	Topic     string    // the topic it was recorded on, "" when not recorded; never written to: the worker writes to the LoadTest's target topic
	Partition int32     // -1 when not recorded; used with partitioning Recorded
	Source    Position  // where it was read, for messages: "samples.jsonl:12"
}

// Position is a line of a sample file. Records of one file share its name, so a record's
// position costs no allocation.
type Position struct {
	File string // the file's name as messages show it (a folder's file, a URL, or Source.Name)
	Line int
}

func (p Position) String() string { return p.File + ":" + strconv.Itoa(p.Line) }

// Set is a loaded sample set. The keys, values and header values of its
// records share a few large backing arrays; each slice's capacity is its
// length, so appending to one copies it rather than overwrite the next.
type Set struct {
	Records []Record
	Bytes   int64 // uncompressed bytes parsed
	// Notes say what the loader decided on its own, such as a file read in the other
	// format than the one asked because its first record is plainly of that format.
	Notes []string
}

// maxReported is how many bad lines an error lists before "and N more".
const maxReported = 20

// Parse reads one sample file (gzip recognised by its magic bytes, whatever the name).
// name is used in error messages. Every bad line is reported — up to 20, then "and N more" —
// with its line number and what is wrong, e.g. `samples.jsonl: line 12: "valueBase64": invalid base64: ...`.
// The list has one bad line per line of text; an error that stopped reading
// (gzip, I/O) comes last.
//
// Parse has no size limit; Load applies Source.MaxBytes. Strings keep their
// bytes as they are, invalid UTF-8 included (kcat writes binary keys and
// payloads so). An empty set is an error.
func Parse(r io.Reader, format Format, name string) (*Set, error) {
	p, err := newParser(format, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	return p.finish(name, p.parse(r, name))
}

// parser reads the files of one set, collecting their records and bad lines.
type parser struct {
	format   Format
	decode   func(*parser, *Record) error
	maxBytes int64 // limit on the uncompressed bytes of all files
	set      Set
	errs     parseError
	dec      decoder
	arena    arena
	hdrs     headerArena
	names    map[string]string // interned topics and header keys
}

func newParser(format Format, maxBytes int64) (*parser, error) {
	p := &parser{format: format, maxBytes: maxBytes, names: make(map[string]string)}
	p.decode = decoderOf(format)
	if p.decode == nil && !auto(format) {
		return nil, fmt.Errorf("unknown sample format %q (want %q, %q or %q)", format,
			streamreplayv1alpha1.SampleFormatAuto, streamreplayv1alpha1.SampleFormatJSONLines, streamreplayv1alpha1.SampleFormatKcat)
	}
	return p, nil
}

func decoderOf(f Format) func(*parser, *Record) error {
	switch f {
	case streamreplayv1alpha1.SampleFormatJSONLines:
		return (*parser).jsonLine
	case streamreplayv1alpha1.SampleFormatKcat:
		return (*parser).kcatLine
	}
	return nil
}

// other is the format a file asked to be read as f may really have.
func other(f Format) Format {
	if f == streamreplayv1alpha1.SampleFormatKcat {
		return streamreplayv1alpha1.SampleFormatJSONLines
	}
	return streamreplayv1alpha1.SampleFormatKcat
}

// wrongFormat tells whether err, a record of format f refused, names a field that only
// the other format has; it returns that field.
func wrongFormat(f Format, err error) (string, bool) {
	var uf *unknownFieldError
	if !errors.As(err, &uf) {
		return "", false
	}
	if f == streamreplayv1alpha1.SampleFormatKcat {
		return uf.name, jsonLinesOnly[uf.name]
	}
	return uf.name, kcatOnly[uf.name]
}

// formatHint is what a parse error says first when the file's records are of the other
// format than the one asked.
func formatHint(name string, asked Format, field string) string {
	if asked == streamreplayv1alpha1.SampleFormatKcat {
		return fmt.Sprintf("%s looks like JSON Lines, not kcat -J output (it has the field %q): set sampleSet.format: %s",
			name, field, streamreplayv1alpha1.SampleFormatJSONLines)
	}
	return fmt.Sprintf("%s looks like kcat -J output, not JSON Lines (it has the field %q): set sampleSet.format: %s",
		name, field, streamreplayv1alpha1.SampleFormatKcat)
}

var gzipMagic = []byte{0x1f, 0x8b}

// parse reads one file into p. Bad lines are collected in p.errs; the error
// returned is one that stopped reading (I/O, gzip, size limit).
func (p *parser) parse(r io.Reader, name string) error {
	// Small: once it is empty, the line reader's larger reads bypass it.
	br := bufio.NewReaderSize(r, 16<<10)
	in := io.Reader(br)
	compressed := false
	if magic, _ := br.Peek(2); bytes.Equal(magic, gzipMagic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: gzip: %w", name, err)
		}
		defer zr.Close()
		in, compressed = zr, true
	}
	lr := lineReader{
		r:      in,
		limit:  p.maxBytes - p.set.Bytes,
		limErr: &sizeError{limit: p.maxBytes},
	}
	defer func() { p.set.Bytes += lr.total }()
	// The format asked is tried first. When a file's first record is refused for a field
	// that only the other format has, and is valid in that format, the file is read in
	// it: the two formats share no such field, so no valid file is misread.
	format, decode := p.format, p.decode
	first := true
	for {
		line, err := lr.next()
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, errLineTooLong):
			p.errs.add(name, lr.line, err)
			continue
		case err != nil:
			if se := (*sizeError)(nil); compressed && !errors.As(err, &se) {
				return fmt.Errorf("%s: gzip: %w", name, err)
			}
			return fmt.Errorf("%s: %w", name, err)
		}
		if lr.line == 1 {
			line = trimBOM(line)
		}
		if skipLine(line) {
			continue
		}
		rec := Record{Partition: -1}
		if decode == nil {
			// Auto: the file's first record decides its format; without one, no line of
			// the file can be read.
			if format, err = p.detect(line, &rec); err != nil {
				return &lineError{name: name, line: lr.line, err: err}
			}
			decode, first = decoderOf(format), false
			p.set.Notes = append(p.set.Notes, fmt.Sprintf("%s: format %s detected", name, format))
			rec.Source = Position{File: name, Line: lr.line}
			p.set.Records = append(p.set.Records, rec)
			continue
		}
		p.dec.reset(line)
		err = decode(p, &rec)
		if field, wrong := wrongFormat(format, err); wrong {
			alt := other(format)
			if first {
				rec = Record{Partition: -1}
				p.dec.reset(line)
				if decoderOf(alt)(p, &rec) == nil {
					format, decode, err = alt, decoderOf(alt), nil
					p.set.Notes = append(p.set.Notes, fmt.Sprintf("%s: read as %s: its records are of that format, not %s", name, alt, p.format))
				}
			}
			if err != nil && p.errs.hint == "" {
				p.errs.hint = formatHint(name, format, field)
			}
		}
		first = false
		if err != nil {
			p.errs.add(name, lr.line, err)
			continue
		}
		if p.errs.count > 0 {
			continue // the set is lost anyway
		}
		rec.Source = Position{File: name, Line: lr.line}
		p.set.Records = append(p.set.Records, rec)
	}
}

func trimBOM(line []byte) []byte {
	if len(line) >= 3 && line[0] == 0xEF && line[1] == 0xBB && line[2] == 0xBF {
		return line[3:]
	}
	return line
}

// skipLine reports blank lines and # comments.
func skipLine(line []byte) bool {
	for _, c := range line {
		switch c {
		case ' ', '\t', '\r', '\n':
		case '#':
			return true
		default:
			return false
		}
	}
	return true
}

// finish returns the set, or every problem found on the way.
func (p *parser) finish(name string, fatal error) (*Set, error) {
	if fatal != nil || p.errs.count > 0 {
		if p.errs.count == 0 {
			return nil, fatal
		}
		p.errs.fatal = fatal
		return nil, &p.errs
	}
	if len(p.set.Records) == 0 {
		return nil, fmt.Errorf("%s: no records", name)
	}
	set := p.set
	return &set, nil
}

// intern returns b as a string, shared with earlier equal ones: topics and
// header keys repeat on every line.
func (p *parser) intern(b []byte) string {
	if s, ok := p.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(p.names) < 10000 {
		p.names[s] = s
	}
	return s
}

// lineError is one bad line.
type lineError struct {
	name string
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("%s: line %d: %v", e.name, e.line, e.err) }
func (e *lineError) Unwrap() error { return e.err }

// parseError lists the bad lines of a set, one per line of text.
type parseError struct {
	hint  string       // said first: the likely cause of every bad line (a wrong format)
	lines []*lineError // the first maxReported
	count int          // all bad lines
	fatal error        // what stopped reading early, if anything
}

func (e *parseError) add(name string, line int, err error) {
	e.count++
	if len(e.lines) < maxReported {
		e.lines = append(e.lines, &lineError{name: name, line: line, err: err})
	}
}

func (e *parseError) Error() string {
	var b strings.Builder
	if e.hint != "" {
		b.WriteString(e.hint)
		b.WriteByte('\n')
	}
	for i, l := range e.lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l.Error())
	}
	if more := e.count - len(e.lines); more > 0 {
		fmt.Fprintf(&b, "\nand %d more bad lines", more)
	}
	if e.fatal != nil {
		b.WriteByte('\n')
		b.WriteString(e.fatal.Error())
	}
	return b.String()
}

func (e *parseError) Unwrap() []error {
	errs := make([]error, 0, len(e.lines)+1)
	for _, l := range e.lines {
		errs = append(errs, l)
	}
	if e.fatal != nil {
		errs = append(errs, e.fatal)
	}
	return errs
}
