package record

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/streamreplay/streamreplay/internal/samples"
)

// ConsoleFormat describes kafka-console-consumer output as its DefaultMessageFormatter
// writes it: per line, the columns enabled by print.timestamp, print.partition,
// print.offset, print.headers and print.key, in that order, each followed by
// key.separator, then the value. The value is the rest of the line, separators included;
// a key or header holding a separator cannot be told apart and makes a wrong record, so
// choose separators the data does not hold.
type ConsoleFormat struct {
	Timestamp, Partition, Offset, Headers, Key bool
	// KeySeparator ends every column (default a tab), HeadersSeparator separates headers
	// (default ","), HeadersKeySeparator a header's name from its value (default ":").
	KeySeparator, HeadersSeparator, HeadersKeySeparator string
	// NullLiteral is what the tool prints for a null key, value or header value
	// (default "null").
	NullLiteral string
	// Topic is the topic the records are said to come from in the set.
	Topic string
}

// DefaultConsoleFormat is print.key, print.timestamp and print.headers with the tool's
// default separators.
func DefaultConsoleFormat() ConsoleFormat {
	return ConsoleFormat{Timestamp: true, Headers: true, Key: true, KeySeparator: "\t", HeadersSeparator: ",", HeadersKeySeparator: ":", NullLiteral: "null"}
}

// maxLineErrors is how many bad lines an import reports before "and N more".
const maxLineErrors = 20

// ImportConsole reads kafka-console-consumer output; every bad line is reported with its
// number, up to 20.
func ImportConsole(r io.Reader, f ConsoleFormat) ([]Record, error) {
	if f.KeySeparator == "" || (f.Headers && (f.HeadersSeparator == "" || f.HeadersKeySeparator == "")) {
		return nil, errors.New("the separators must not be empty")
	}
	br := bufio.NewReaderSize(r, 1<<20)
	var (
		recs []Record
		errs []string
		bad  int
	)
	for line := 1; ; line++ {
		text, err := br.ReadBytes('\n')
		if len(text) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		text = bytes.TrimSuffix(text, []byte("\n"))
		rec, perr := f.parseLine(text)
		if perr != nil {
			bad++
			if len(errs) < maxLineErrors {
				errs = append(errs, fmt.Sprintf("line %d: %v", line, perr))
			}
			continue
		}
		rec.Line = line
		recs = append(recs, rec)
	}
	if bad > 0 {
		if bad > len(errs) {
			errs = append(errs, fmt.Sprintf("and %d more bad lines", bad-len(errs)))
		}
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	if len(recs) == 0 {
		return nil, errors.New("no record in the input")
	}
	return recs, nil
}

func (f *ConsoleFormat) parseLine(text []byte) (Record, error) {
	rec := Record{Topic: f.Topic, Partition: -1, Offset: -1}
	sep := []byte(f.KeySeparator)
	column := func(name string) ([]byte, error) {
		col, rest, ok := bytes.Cut(text, sep)
		if !ok {
			return nil, fmt.Errorf("no %s column: the line ends before the separator %q that follows it", name, f.KeySeparator)
		}
		text = rest
		return col, nil
	}
	if f.Timestamp {
		col, err := column("timestamp")
		if err != nil {
			return rec, err
		}
		if rec.Timestamp, err = consoleTimestamp(string(col)); err != nil {
			return rec, err
		}
	}
	if f.Partition {
		col, err := column("partition")
		if err != nil {
			return rec, err
		}
		n, err := prefixedInt(string(col), "Partition:")
		if err != nil || n > 1<<31-1 {
			return rec, fmt.Errorf("partition column %q: want Partition:N", col)
		}
		rec.Partition = int32(n)
	}
	if f.Offset {
		col, err := column("offset")
		if err != nil {
			return rec, err
		}
		if rec.Offset, err = prefixedInt(string(col), "Offset:"); err != nil {
			return rec, fmt.Errorf("offset column %q: want Offset:N", col)
		}
	}
	if f.Headers {
		col, err := column("headers")
		if err != nil {
			return rec, err
		}
		if rec.Headers, err = f.headers(string(col)); err != nil {
			return rec, err
		}
	}
	if f.Key {
		col, err := column("key")
		if err != nil {
			return rec, err
		}
		rec.Key = f.nullable(col)
	}
	rec.Value = f.nullable(text)
	return rec, nil
}

func (f *ConsoleFormat) nullable(b []byte) []byte {
	if string(b) == f.NullLiteral {
		return nil
	}
	return append([]byte{}, b...) // never nil: an empty value is not a tombstone
}

func (f *ConsoleFormat) headers(col string) ([]samples.Header, error) {
	if col == "NO_HEADERS" {
		return nil, nil
	}
	var hs []samples.Header
	for i, h := range strings.Split(col, f.HeadersSeparator) {
		name, value, ok := strings.Cut(h, f.HeadersKeySeparator)
		if !ok || name == "" {
			return nil, fmt.Errorf("header %d %q: want NAME%sVALUE (headers separated by %q), or NO_HEADERS", i+1, h, f.HeadersKeySeparator, f.HeadersSeparator)
		}
		hs = append(hs, samples.Header{Key: name, Value: f.nullable([]byte(value))})
	}
	return hs, nil
}

func consoleTimestamp(col string) (time.Time, error) {
	if col == "NO_TIMESTAMP" {
		return time.Time{}, nil
	}
	for _, prefix := range []string{"CreateTime:", "LogAppendTime:"} {
		if ms, err := prefixedInt(col, prefix); err == nil {
			return time.UnixMilli(ms).UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp column %q: want CreateTime:MILLIS, LogAppendTime:MILLIS or NO_TIMESTAMP (was the output written with print.timestamp=true, and with this key.separator?)", col)
}

func prefixedInt(col, prefix string) (int64, error) {
	s, ok := strings.CutPrefix(col, prefix)
	if !ok {
		return 0, errors.New("no prefix")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("not a number")
	}
	return n, nil
}
