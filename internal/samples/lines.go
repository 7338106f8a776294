package samples

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxLine is the longest line accepted. Debezium envelopes of wide tables
// reach tens of KB; 16 MiB leaves room for large documents while a file
// without newlines still fails fast instead of filling memory.
const maxLine = 16 << 20

const minReadBuf = 64 << 10

var errLineTooLong = fmt.Errorf("longer than the limit of %d MiB", maxLine>>20)

// sizeError is input over Source.MaxBytes.
type sizeError struct{ limit int64 }

func (e *sizeError) Error() string {
	return fmt.Sprintf("larger than the limit of %d bytes (MaxBytes)", e.limit)
}

// lineReader splits its input into lines. Unlike bufio.Scanner, which stops for
// good at a line over its limit, it skips such a line (errLineTooLong) and goes
// on, so that Parse names every bad line. Its buffer is reused: a line is valid
// until the next call.
type lineReader struct {
	r       io.Reader
	buf     []byte
	start   int // buf[start:end] is read but not yet returned
	end     int
	scanned int // bytes after start known to hold no newline
	err     error
	line    int   // number of the line last returned
	total   int64 // bytes read
	limit   int64 // on total
	limErr  error
}

// next returns the next line without its newline, errLineTooLong for a line
// over maxLine (skipped; lr.line is its number), io.EOF at the end, or the
// error that stopped reading.
func (lr *lineReader) next() ([]byte, error) {
	for {
		if i := bytes.IndexByte(lr.buf[lr.start+lr.scanned:lr.end], '\n'); i >= 0 {
			end := lr.start + lr.scanned + i
			line := lr.buf[lr.start:end]
			lr.start, lr.scanned = end+1, 0
			lr.line++
			return line, nil
		}
		lr.scanned = lr.end - lr.start
		if lr.err != nil {
			// A last line without a newline counts, but not one cut short by
			// a failed read: it would be reported as bad JSON.
			if errors.Is(lr.err, io.EOF) && lr.scanned > 0 {
				line := lr.buf[lr.start:lr.end]
				lr.start, lr.scanned = lr.end, 0
				lr.line++
				return line, nil
			}
			return nil, lr.err
		}
		if lr.scanned > maxLine {
			return nil, lr.skipLine()
		}
		lr.fill()
	}
}

// fill reads more input, first making room for it.
func (lr *lineReader) fill() {
	if lr.start > 0 {
		lr.end = copy(lr.buf, lr.buf[lr.start:lr.end])
		lr.start = 0
	}
	if lr.end == len(lr.buf) {
		n := min(max(2*len(lr.buf), minReadBuf), maxLine+1)
		buf := make([]byte, n)
		copy(buf, lr.buf[:lr.end])
		lr.buf = buf
	}
	n, err := lr.r.Read(lr.buf[lr.end:])
	lr.end += n
	lr.count(n, err)
}

func (lr *lineReader) count(n int, err error) {
	lr.total += int64(n)
	switch {
	case lr.total > lr.limit:
		lr.err = lr.limErr
	case err != nil:
		lr.err = err
	}
}

// skipLine drops the over-long line being read, up to its newline.
func (lr *lineReader) skipLine() error {
	lr.line++
	lr.start, lr.end, lr.scanned = 0, 0, 0
	for lr.err == nil {
		n, err := lr.r.Read(lr.buf)
		lr.count(n, err)
		if i := bytes.IndexByte(lr.buf[:n], '\n'); i >= 0 {
			lr.start, lr.end = i+1, n
			break
		}
	}
	return errLineTooLong
}
