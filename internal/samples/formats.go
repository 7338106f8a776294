package samples

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"time"
)

// fieldKey is the "key" field of records and of headers in both formats; fieldValue and
// fieldValueBase64 are fields of JSON Lines records and headers.
const (
	fieldKey         = "key"
	fieldValue       = "value"
	fieldValueBase64 = "valueBase64"
)

// Fields of a record line, as bits to catch duplicates and exclusive pairs.
const (
	fKey = 1 << iota
	fKeyBase64
	fValue
	fValueBase64
	fHeaders
	fTimestamp
	fTopic
	fPartition
	// kcat's offset, tstype and broker: not replayed, but still validated.
	fOffset
	fTsType
	fBroker
)

// unknownFieldError is a record field that the format does not have.
type unknownFieldError struct{ name string }

func (e *unknownFieldError) Error() string { return fmt.Sprintf("unknown field %q", e.name) }

// Fields that only one of the two formats has: a record with one of them was written for
// the other format.
var (
	kcatOnly      = map[string]bool{"payload": true, "offset": true, "tstype": true, "broker": true, "ts": true}
	jsonLinesOnly = map[string]bool{fieldValue: true, fieldValueBase64: true, "keyBase64": true, "timestamp": true}
)

// jsonLine decodes a JSON Lines record. Unknown and duplicate fields are
// errors: a typo must not replay wrong data silently.
func (p *parser) jsonLine(rec *Record) error {
	d := &p.dec
	var seen uint
	err := d.object(func(name []byte) error {
		var bit uint
		switch string(name) {
		case fieldKey:
			bit = fKey
		case "keyBase64":
			bit = fKeyBase64
		case fieldValue:
			bit = fValue
		case fieldValueBase64:
			bit = fValueBase64
		case "headers":
			bit = fHeaders
		case "timestamp":
			bit = fTimestamp
		case "topic":
			bit = fTopic
		case "partition":
			bit = fPartition
		default:
			return &unknownFieldError{name: string(name)}
		}
		if err := see(&seen, bit, name); err != nil {
			return err
		}
		var err error
		switch bit {
		case fKey:
			rec.Key, err = p.bytesValue()
		case fKeyBase64:
			rec.Key, err = p.base64Value()
		case fValue:
			rec.Value, err = p.bytesValue()
		case fValueBase64:
			rec.Value, err = p.base64Value()
		case fHeaders:
			rec.Headers, err = p.jsonHeaders()
		case fTimestamp:
			rec.Timestamp, err = p.timestamp()
		case fTopic:
			rec.Topic, err = p.topic()
		case fPartition:
			rec.Partition, err = p.partition()
		}
		if err != nil {
			return fmt.Errorf("%q: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return p.lineEnd()
}

// see records a field, failing on a second occurrence or on both fields of
// an exclusive pair.
func see(seen *uint, bit uint, name []byte) error {
	if *seen&bit != 0 {
		return fmt.Errorf("duplicate field %q", name)
	}
	*seen |= bit
	switch {
	case *seen&(fKey|fKeyBase64) == fKey|fKeyBase64:
		return errors.New(`"key" and "keyBase64" are both set; use one`)
	case *seen&(fValue|fValueBase64) == fValue|fValueBase64:
		return errors.New(`"value" and "valueBase64" are both set; use one`)
	}
	return nil
}

// lineEnd checks that nothing follows the record's object.
func (p *parser) lineEnd() error {
	d := &p.dec
	d.ws()
	if d.i < len(d.b) {
		return d.errorf("unexpected %s after the object", quoteByte(d.b[d.i]))
	}
	return nil
}

// kcatLine decodes a line of `kcat -C -J` output.
func (p *parser) kcatLine(rec *Record) error {
	d := &p.dec
	var seen uint
	err := d.object(func(name []byte) error {
		var bit uint
		switch string(name) {
		case "topic":
			bit = fTopic
		case "partition":
			bit = fPartition
		case "ts":
			bit = fTimestamp
		case "headers":
			bit = fHeaders
		case fieldKey:
			bit = fKey
		case "payload":
			bit = fValue
		case "offset":
			bit = fOffset
		case "tstype":
			bit = fTsType
		case "broker":
			bit = fBroker
		case "key_schema_id", "value_schema_id", "key_error", "payload_error":
			// kcat -s decoded the record (Avro): its JSON is not the bytes
			// that were on the topic.
			return fmt.Errorf("field %q: kcat decoded this record with -s; record it without -s so that its bytes are replayed as they were", name)
		default:
			return &unknownFieldError{name: string(name)}
		}
		if err := see(&seen, bit, name); err != nil {
			return err
		}
		var err error
		switch bit {
		case fTopic:
			rec.Topic, err = p.topic()
		case fPartition:
			rec.Partition, err = p.partition()
		case fTimestamp:
			rec.Timestamp, err = p.epochMillis()
		case fHeaders:
			rec.Headers, err = p.kcatHeaders()
		case fKey:
			rec.Key, err = p.stringBytes()
		case fValue:
			rec.Value, err = p.stringBytes()
		default:
			_, err = d.skipValue()
		}
		if err != nil {
			return fmt.Errorf("%q: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return p.lineEnd()
}

// bytesValue decodes a key or value: a string is its bytes, null is nil and
// any other JSON value is its compact encoding.
func (p *parser) bytesValue() ([]byte, error) {
	d := &p.dec
	switch d.peek() {
	case '"':
		s, e, esc, err := d.scanString()
		if err != nil {
			return nil, err
		}
		if !esc {
			return p.arena.copy(d.b[s:e]), nil
		}
		return p.arena.keep(appendUnescaped(p.arena.buf(e-s), d.b[s:e])), nil
	case 'n':
		return nil, d.literal("null")
	}
	start := d.i
	ws, err := d.skipValue()
	if err != nil {
		return nil, err
	}
	src := d.b[start:d.i]
	if !ws { // already compact, as recorders usually write it
		return p.arena.copy(src), nil
	}
	return p.arena.keep(appendCompact(p.arena.buf(len(src)), src)), nil
}

// stringBytes decodes a string (its bytes) or null (nil).
func (p *parser) stringBytes() ([]byte, error) {
	switch p.dec.peek() {
	case '"', 'n':
		return p.bytesValue()
	}
	return nil, p.dec.wrongType("a string or null")
}

// base64Value decodes a string of standard, padded base64, or null.
func (p *parser) base64Value() ([]byte, error) {
	s, null, err := p.dec.str()
	if err != nil || null {
		return nil, err
	}
	dst := p.arena.buf(base64.StdEncoding.DecodedLen(len(s)))
	dst = dst[:base64.StdEncoding.DecodedLen(len(s))]
	n, err := base64.StdEncoding.Decode(dst, s)
	if err != nil {
		return nil, fmt.Errorf("invalid base64: %w", err)
	}
	return p.arena.keep(dst[:n]), nil
}

func (p *parser) topic() (string, error) {
	s, null, err := p.dec.str()
	if err != nil || null {
		return "", err
	}
	return p.intern(s), nil
}

func (p *parser) partition() (int32, error) {
	n, null, err := p.dec.integer()
	switch {
	case err != nil:
		return 0, err
	case null:
		return -1, nil
	case n < 0:
		return 0, fmt.Errorf("%d is negative", n)
	case n > math.MaxInt32:
		return 0, fmt.Errorf("%d: %w", n, errRange)
	}
	return int32(n), nil
}

// timestamp decodes an RFC 3339 string or epoch milliseconds.
func (p *parser) timestamp() (time.Time, error) {
	d := &p.dec
	switch c := d.peek(); {
	case c == '"':
		s, _, err := d.str()
		if err != nil {
			return time.Time{}, err
		}
		t, err := time.Parse(time.RFC3339Nano, string(s))
		if err != nil {
			return time.Time{}, fmt.Errorf("not an RFC 3339 time: %w", err)
		}
		if t.Before(time.Unix(0, 0)) {
			// Kafka timestamps are epoch milliseconds, and negative ones
			// are refused by brokers.
			return time.Time{}, fmt.Errorf("%s is before 1970", s)
		}
		return t.UTC(), nil
	case c == '-' || isDigit(c):
		return p.epochMillis()
	case c == 'n':
		return time.Time{}, d.literal("null")
	}
	return time.Time{}, d.wrongType("an RFC 3339 string or epoch milliseconds")
}

func (p *parser) epochMillis() (time.Time, error) {
	ms, null, err := p.dec.integer()
	switch {
	case err != nil || null:
		return time.Time{}, err
	case ms < 0:
		return time.Time{}, fmt.Errorf("%d is negative", ms)
	}
	return time.UnixMilli(ms).UTC(), nil
}

// jsonHeaders decodes {"name": "value", ...} or
// [{"key": "name", "value": "..."} or {"key": "name", "valueBase64": "..."}, ...].
func (p *parser) jsonHeaders() ([]Header, error) {
	d := &p.dec
	hs := d.hdrs[:0]
	var err error
	switch d.peek() {
	case 'n':
		return nil, d.literal("null")
	case '{':
		err = d.object(func(name []byte) error {
			v, err := p.stringBytes()
			if err != nil {
				return fmt.Errorf("%q: %w", name, err)
			}
			hs = append(hs, Header{Key: p.intern(name), Value: v})
			return nil
		})
	case '[':
		err = d.array(func() error {
			h, err := p.jsonHeader()
			if err != nil {
				return fmt.Errorf("header %d: %w", len(hs)+1, err)
			}
			hs = append(hs, h)
			return nil
		})
	default:
		return nil, d.wrongType("an object or an array")
	}
	d.hdrs = hs[:0] // reuse what append grew
	if err != nil {
		return nil, err
	}
	return p.hdrs.keep(hs), nil
}

func (p *parser) jsonHeader() (Header, error) {
	const (
		hKey = 1 << iota
		hValue
		hValueBase64
	)
	d := &p.dec
	var h Header
	var seen uint
	err := d.object(func(name []byte) error {
		var bit uint
		switch string(name) {
		case fieldKey:
			bit = hKey
		case fieldValue:
			bit = hValue
		case fieldValueBase64:
			bit = hValueBase64
		default:
			return fmt.Errorf("unknown field %q", name)
		}
		if seen&bit != 0 {
			return fmt.Errorf("duplicate field %q", name)
		}
		seen |= bit
		if seen&(hValue|hValueBase64) == hValue|hValueBase64 {
			return errors.New(`"value" and "valueBase64" are both set; use one`)
		}
		var err error
		switch bit {
		case hKey:
			var s []byte
			var null bool
			s, null, err = d.str()
			if null {
				err = errors.New("a string expected, found null")
			}
			h.Key = p.intern(s)
		case hValue:
			h.Value, err = p.stringBytes()
		case hValueBase64:
			h.Value, err = p.base64Value()
		}
		if err != nil {
			return fmt.Errorf("%q: %w", name, err)
		}
		return nil
	})
	if err == nil && seen&hKey == 0 {
		err = errors.New(`"key" missing`)
	}
	return h, err
}

// kcatHeaders decodes kcat's ["name", "value", ...] (a value may be null),
// or the {"name": ["value", ...]} that kcat writes for its header-map option.
func (p *parser) kcatHeaders() ([]Header, error) {
	d := &p.dec
	hs := d.hdrs[:0]
	var err error
	switch d.peek() {
	case 'n':
		return nil, d.literal("null")
	case '[':
		n := 0
		var key string
		err = d.array(func() error {
			n++
			if n%2 == 1 {
				s, null, err := d.str()
				if err == nil && null {
					err = errors.New("a string expected, found null")
				}
				if err != nil {
					return fmt.Errorf("element %d (a name): %w", n, err)
				}
				key = p.intern(s)
				return nil
			}
			v, err := p.stringBytes()
			if err != nil {
				return fmt.Errorf("element %d (the value of %q): %w", n, key, err)
			}
			hs = append(hs, Header{Key: key, Value: v})
			return nil
		})
		if err == nil && n%2 == 1 {
			err = fmt.Errorf("header %q has no value: names and values must alternate", key)
		}
	case '{':
		err = d.object(func(name []byte) error {
			if d.peek() != '[' {
				return fmt.Errorf("%q: %w", name, d.wrongType("an array"))
			}
			key := p.intern(name)
			return d.array(func() error {
				v, err := p.stringBytes()
				if err != nil {
					return fmt.Errorf("%q: %w", key, err)
				}
				hs = append(hs, Header{Key: key, Value: v})
				return nil
			})
		})
	default:
		return nil, d.wrongType("an array")
	}
	d.hdrs = hs[:0]
	if err != nil {
		return nil, err
	}
	return p.hdrs.keep(hs), nil
}
