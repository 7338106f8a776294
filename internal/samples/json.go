package samples

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// decoder is a small JSON scanner for one line. It is purpose-built rather
// than encoding/json because a sample line is scanned once to validate it and
// find a value's end, and its key and value are then copied (or unescaped)
// straight into the parser's arena: no reflection, no map[string]any, no
// intermediate copies. Strings keep invalid UTF-8 bytes as they are, because
// kcat writes binary keys and payloads into its JSON strings unchanged.
type decoder struct {
	b       []byte
	i       int
	scratch []byte   // unescaped names and strings that are not kept
	stack   []byte   // containers open while skipping a value
	hdrs    []Header // headers of the line being read
}

func (d *decoder) reset(b []byte) {
	d.b = b
	d.i = 0
}

// syntaxError is invalid JSON; col counts bytes from 1.
type syntaxError struct {
	col int
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at column %d: %s", e.col, e.msg)
}

func (d *decoder) errorf(format string, args ...any) error {
	return &syntaxError{col: d.i + 1, msg: fmt.Sprintf(format, args...)}
}

// unexpected reports the byte at d.i where want was expected.
func (d *decoder) unexpected(want string) error {
	if d.i >= len(d.b) {
		return d.errorf("unexpected end of line, %s expected", want)
	}
	return d.errorf("unexpected %s, %s expected", quoteByte(d.b[d.i]), want)
}

// quoteByte shows a byte as '{', or as "\xff" when it is not printable ASCII.
func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return "'" + string(rune(c)) + "'"
	}
	return fmt.Sprintf("%q", []byte{c})
}

// strSafe marks the bytes that need no attention inside a JSON string.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// ws skips whitespace and says whether there was any.
func (d *decoder) ws() bool {
	start := d.i
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return d.i > start
		}
	}
	return d.i > start
}

func (d *decoder) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// expect skips whitespace and consumes c.
func (d *decoder) expect(c byte) error {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return nil
	}
	return d.unexpected(quoteByte(c))
}

// scanString validates the string starting at d.i (a '"') and moves past it.
// b[s:e] is its raw content; esc says whether it holds escapes.
func (d *decoder) scanString() (s, e int, esc bool, err error) {
	b := d.b
	i := d.i + 1
	for {
		i = skipSafe(b, i)
		if i >= len(b) {
			d.i = i
			return 0, 0, false, d.errorf("unterminated string")
		}
		switch c := b[i]; c {
		case '"':
			s, e = d.i+1, i
			d.i = i + 1
			return s, e, esc, nil
		case '\\':
			esc = true
			if i+1 >= len(b) {
				d.i = i + 1
				return 0, 0, false, d.errorf("unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex4(b[i+2:i+6]) {
					d.i = i
					return 0, 0, false, d.errorf(`invalid \u escape in string`)
				}
				i += 6
			default:
				d.i = i
				return 0, 0, false, d.errorf("invalid escape %q in string", b[i:i+2])
			}
		default:
			d.i = i
			return 0, 0, false, d.errorf("control character %#02x in string", c)
		}
	}
}

// skipSafe returns the index of the first byte from i on that is '"', '\\'
// or a control character, or len(b). It tests eight bytes at a time: string
// scanning is most of the parsing time.
func skipSafe(b []byte, i int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for ; i+8 <= len(b); i += 8 {
		v := binary.LittleEndian.Uint64(b[i:])
		q := v ^ (ones * '"')
		bs := v ^ (ones * '\\')
		// A byte's high bit is set where it is zero (in q, bs) or below 0x20
		// (in v). Borrows can only mark bytes above a true match, and only
		// the lowest match is used.
		m := ((q - ones) &^ q) | ((bs - ones) &^ bs) | ((v - ones*0x20) &^ v)
		if m &= highs; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for i < len(b) && strSafe[b[i]] {
		i++
	}
	return i
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if unhex(c) < 0 {
			return false
		}
	}
	return true
}

func unhex(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

func hex4(b []byte) rune {
	return unhex(b[0])<<12 | unhex(b[1])<<8 | unhex(b[2])<<4 | unhex(b[3])
}

// appendUnescaped appends the string content src, already validated by
// scanString, with its escapes decoded. The result is never longer than src.
// A lone surrogate becomes U+FFFD, as encoding/json does.
func appendUnescaped(dst, src []byte) []byte {
	for len(src) > 0 {
		j := bytes.IndexByte(src, '\\')
		if j < 0 {
			dst = append(dst, src...)
			break
		}
		dst = append(dst, src[:j]...)
		c := src[j+1]
		src = src[j+2:]
		switch c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(src)
			src = src[4:]
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if len(src) >= 6 && src[0] == '\\' && src[1] == 'u' {
					r2 = utf16.DecodeRune(r, hex4(src[2:]))
				}
				if r2 != utf8.RuneError {
					src = src[6:]
				}
				r = r2
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
	}
	return dst
}

// str reads a string or null. The bytes are only valid until the next call:
// they point into the line or into d.scratch.
func (d *decoder) str() (b []byte, null bool, err error) {
	switch d.peek() {
	case '"':
		s, e, esc, err := d.scanString()
		if err != nil {
			return nil, false, err
		}
		if !esc {
			return d.b[s:e], false, nil
		}
		d.scratch = appendUnescaped(d.scratch[:0], d.b[s:e])
		return d.scratch, false, nil
	case 'n':
		return nil, true, d.literal("null")
	}
	return nil, false, d.wrongType("a string")
}

// wrongType reports a valid value of the wrong JSON type, or invalid JSON.
func (d *decoder) wrongType(want string) error {
	start := d.i
	if _, err := d.skipValue(); err != nil {
		return err
	}
	return fmt.Errorf("%s expected, found %s", want, kind(d.b[start]))
}

func kind(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func (d *decoder) literal(lit string) error {
	if end := d.i + len(lit); end <= len(d.b) && string(d.b[d.i:end]) == lit {
		d.i = end
		return nil
	}
	return d.errorf("invalid literal, %s expected", lit)
}

// scanNumber validates a JSON number at d.i and moves past it; isInt says it
// has neither fraction nor exponent.
func (d *decoder) scanNumber() (isInt bool, err error) {
	b, i := d.b, d.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		d.i = i
		return false, d.unexpected("a digit")
	}
	isInt = true
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		if i >= len(b) || !isDigit(b[i]) {
			d.i = i
			return false, d.unexpected("a digit")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			d.i = i
			return false, d.unexpected("a digit")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	d.i = i
	return isInt, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

var errRange = errors.New("out of range")

// integer reads an integer or null.
func (d *decoder) integer() (n int64, null bool, err error) {
	c := d.peek()
	if c == 'n' {
		return 0, true, d.literal("null")
	}
	if c != '-' && !isDigit(c) {
		return 0, false, d.wrongType("an integer")
	}
	start := d.i
	isInt, err := d.scanNumber()
	if err != nil {
		return 0, false, err
	}
	if !isInt {
		return 0, false, fmt.Errorf("an integer expected, found %s", d.b[start:d.i])
	}
	digits, neg := d.b[start:d.i], false
	if digits[0] == '-' {
		digits, neg = digits[1:], true
	}
	var u uint64
	for _, c := range digits {
		if u > (1<<63)/10 {
			return 0, false, fmt.Errorf("%s: %w", d.b[start:d.i], errRange)
		}
		u = u*10 + uint64(c-'0')
	}
	if u > 1<<63 || (!neg && u == 1<<63) {
		return 0, false, fmt.Errorf("%s: %w", d.b[start:d.i], errRange)
	}
	if neg {
		return -int64(u), false, nil
	}
	return int64(u), false, nil
}

// skipValue validates the value at d.i and moves past it. ws says whether it
// holds whitespace, that is, whether it is not already compact. It keeps its
// own stack rather than recursing, so deep nesting cannot exhaust the
// goroutine stack.
func (d *decoder) skipValue() (ws bool, err error) {
	d.stack = d.stack[:0]
	b := d.b
	for {
		// A value.
		if d.i >= len(b) {
			return ws, d.unexpected("a value")
		}
		switch c := b[d.i]; {
		case c == '{':
			d.i++
			ws = d.ws() || ws
			if d.peek() == '}' {
				d.i++
				break
			}
			d.stack = append(d.stack, '{')
			if err := d.memberName(&ws); err != nil {
				return ws, err
			}
			continue
		case c == '[':
			d.i++
			ws = d.ws() || ws
			if d.peek() == ']' {
				d.i++
				break
			}
			d.stack = append(d.stack, '[')
			continue
		case c == '"':
			if _, _, _, err := d.scanString(); err != nil {
				return ws, err
			}
		case c == 't':
			err = d.literal("true")
		case c == 'f':
			err = d.literal("false")
		case c == 'n':
			err = d.literal("null")
		case c == '-' || isDigit(c):
			_, err = d.scanNumber()
		default:
			return ws, d.unexpected("a value")
		}
		if err != nil {
			return ws, err
		}
		// After a value: close containers, or go on to the next element.
	next:
		for {
			if len(d.stack) == 0 {
				return ws, nil
			}
			ws = d.ws() || ws
			top := d.stack[len(d.stack)-1]
			switch c := d.peek(); {
			case c == ',':
				d.i++
				ws = d.ws() || ws
				if top == '{' {
					if err := d.memberName(&ws); err != nil {
						return ws, err
					}
				}
				break next
			case c == '}' && top == '{', c == ']' && top == '[':
				d.i++
				d.stack = d.stack[:len(d.stack)-1]
			case top == '{':
				return ws, d.unexpected(`',' or '}'`)
			default:
				return ws, d.unexpected(`',' or ']'`)
			}
		}
	}
}

// memberName reads `"name":` and the whitespace after it.
func (d *decoder) memberName(ws *bool) error {
	if d.peek() != '"' {
		return d.unexpected("a string")
	}
	if _, _, _, err := d.scanString(); err != nil {
		return err
	}
	*ws = d.ws() || *ws
	if d.peek() != ':' {
		return d.unexpected("':'")
	}
	d.i++
	*ws = d.ws() || *ws
	return nil
}

// appendCompact appends src, a valid JSON value, without its insignificant
// whitespace; like json.Compact, it changes nothing else.
func appendCompact(dst, src []byte) []byte {
	inStr := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		if inStr {
			dst = append(dst, c)
			switch c {
			case '\\':
				i++
				dst = append(dst, src[i])
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			inStr = true
		}
		dst = append(dst, c)
	}
	return dst
}

// object iterates over the members of the object at d.i. fn gets each
// member's name (valid only during the call) with d.i at its value, and must
// consume the value.
func (d *decoder) object(fn func(name []byte) error) error {
	d.ws()
	if d.peek() != '{' {
		if d.i >= len(d.b) {
			return d.unexpected("'{'")
		}
		return d.wrongType("an object")
	}
	d.i++
	d.ws()
	if d.peek() == '}' {
		d.i++
		return nil
	}
	var nameBuf []byte
	for {
		if d.peek() != '"' {
			return d.unexpected("a string")
		}
		s, e, esc, err := d.scanString()
		if err != nil {
			return err
		}
		name := d.b[s:e]
		if esc {
			// Not d.scratch: fn may use it for the value.
			nameBuf = appendUnescaped(nameBuf[:0], name)
			name = nameBuf
		}
		if err := d.expect(':'); err != nil {
			return err
		}
		d.ws()
		if err := fn(name); err != nil {
			return err
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
			d.ws()
		case '}':
			d.i++
			return nil
		default:
			return d.unexpected(`',' or '}'`)
		}
	}
}

// array iterates over the elements of the array at d.i (already known to be
// '['); fn must consume each element.
func (d *decoder) array(fn func() error) error {
	d.i++
	d.ws()
	if d.peek() == ']' {
		d.i++
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
			d.ws()
		case ']':
			d.i++
			return nil
		default:
			return d.unexpected(`',' or ']'`)
		}
	}
}
