package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// segment is one step of a path: an object member, an array index, or every element.
type segment struct {
	name     string
	index    int
	isIndex  bool
	wildcard bool
}

func (s segment) String() string {
	switch {
	case s.wildcard:
		return "[*]"
	case s.isIndex:
		return "[" + strconv.Itoa(s.index) + "]"
	case isPlainName(s.name):
		return "." + s.name
	default:
		q, _ := json.Marshal(s.name)
		return "[" + string(q) + "]"
	}
}

func isPlainName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case c == '_', c == '-', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		default:
			return false
		}
	}
	return true
}

// parsePath reads a JSON path of the subset `$`, `.name`, `["name"]`, `[N]` and `[*]`:
// `$` alone is the whole key or value, as bytes (JSON or not).
func parsePath(p string) ([]segment, error) {
	if !strings.HasPrefix(p, "$") {
		return nil, fmt.Errorf("path %q must start with $ (the whole key or value), such as $.after.email", p)
	}
	var segs []segment
	rest := p[1:]
	for rest != "" {
		switch rest[0] {
		case '.':
			end := strings.IndexAny(rest[1:], ".[")
			if end < 0 {
				end = len(rest) - 1
			}
			name := rest[1 : 1+end]
			if name == "" {
				return nil, fmt.Errorf("path %q: empty member name after a dot", p)
			}
			segs = append(segs, segment{name: name})
			rest = rest[1+end:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if rest[1:2] == `"` {
				// A quoted name may hold ] or dots: find the end of the JSON string.
				end = closingQuote(rest)
			}
			if end < 0 {
				return nil, fmt.Errorf("path %q: unclosed [", p)
			}
			inner := rest[1:end]
			switch {
			case inner == "*":
				segs = append(segs, segment{wildcard: true})
			case strings.HasPrefix(inner, `"`):
				var name string
				if err := json.Unmarshal([]byte(inner), &name); err != nil {
					return nil, fmt.Errorf("path %q: %s is not a JSON string", p, inner)
				}
				segs = append(segs, segment{name: name})
			default:
				n, err := strconv.Atoi(inner)
				if err != nil || n < 0 {
					return nil, fmt.Errorf("path %q: [%s] is neither an index, [*] nor a quoted name", p, inner)
				}
				segs = append(segs, segment{index: n, isIndex: true})
			}
			rest = rest[end+1:]
		default:
			return nil, fmt.Errorf("path %q: unexpected %q after %s", p, rest[0], p[:len(p)-len(rest)])
		}
	}
	return segs, nil
}

// closingQuote returns the index of the ] after a quoted name that starts at s[1], or -1.
func closingQuote(s string) int {
	for i := 2; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			if i+1 < len(s) && s[i+1] == ']' {
				return i + 1
			}
			return -1
		}
	}
	return -1
}

// edit is what a rule does to a value it reaches: a replacement, or drop.
type edit func(raw []byte) (replacement []byte, drop bool)

// walk applies e to every value the path reaches in the JSON document raw, which must be
// valid JSON; it returns the new document and how many values it changed. A member that is
// missing or null on the way reaches nothing; another type where the path needs an object
// or array is an error, since the data is not what the rule was written for. Only the
// containers on the path are rebuilt: the rest keeps its bytes, and members their order.
func walk(raw []byte, segs []segment, at string, e edit) ([]byte, int, error) {
	t := bytes.TrimSpace(raw)
	if bytes.Equal(t, []byte("null")) {
		return raw, 0, nil
	}
	seg := segs[0]
	here := at + seg.String()
	object := !seg.isIndex && !seg.wildcard
	switch {
	case object && (len(t) == 0 || t[0] != '{'):
		return nil, 0, fmt.Errorf("%s: %s is %s, not an object", here, at, kind(t))
	case !object && (len(t) == 0 || t[0] != '['):
		return nil, 0, fmt.Errorf("%s: %s is %s, not an array", here, at, kind(t))
	}
	elems := elements(t)
	n := 0
	kept := elems[:0]
	for i, el := range elems {
		var next string
		switch {
		case object && !el.named(seg.name):
			kept = append(kept, el)
			continue
		case object:
			next = here
		case !seg.wildcard && i != seg.index:
			kept = append(kept, el)
			continue
		default:
			next = at + "[" + strconv.Itoa(i) + "]"
		}
		v, k, drop, err := step(el.value, segs[1:], next, e)
		if err != nil {
			return nil, 0, err
		}
		n += k
		if !drop {
			el.value = v
			kept = append(kept, el)
		}
	}
	if n == 0 {
		return raw, 0, nil
	}
	out := make([]byte, 0, len(t))
	out = append(out, t[0])
	for i, el := range kept {
		if i > 0 {
			out = append(out, ',')
		}
		if object {
			out = append(out, el.name...)
			out = append(out, ':')
		}
		out = append(out, el.value...)
	}
	return append(out, t[len(t)-1]), n, nil
}

// step applies e at the end of the path, or walks further.
func step(value []byte, rest []segment, at string, e edit) ([]byte, int, bool, error) {
	if len(rest) == 0 {
		v, drop := e(value)
		return v, 1, drop, nil
	}
	v, n, err := walk(value, rest, at, e)
	return v, n, false, err
}

// element is an object's member (its name as written, quotes included) or an array's element.
type element struct {
	name  []byte
	value []byte
}

// named says whether the member's name is s.
func (el element) named(s string) bool {
	raw := el.name[1 : len(el.name)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == s
	}
	var name string
	return json.Unmarshal(el.name, &name) == nil && name == s
}

// elements lists the members of an object or the elements of an array, in their order,
// by scanning: the document was checked to be valid JSON first.
func elements(c []byte) []element {
	object := c[0] == '{'
	var out []element
	i := skipSpace(c, 1)
	for i < len(c)-1 {
		var el element
		if object {
			end := skipString(c, i)
			el.name = c[i:end]
			i = skipSpace(c, skipSpace(c, end)+1) // the colon
		}
		end := skipValue(c, i)
		el.value = c[i:end]
		out = append(out, el)
		i = skipSpace(c, end)
		if i < len(c) && c[i] == ',' {
			i = skipSpace(c, i+1)
		}
	}
	return out
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}

// jsonString encodes s as a JSON string without encoding/json's HTML escapes.
func jsonString(s string) []byte {
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		plain = s[i] >= 0x20 && s[i] != '"' && s[i] != '\\' && s[i] < 0x80
	}
	if plain {
		return append(append(append(make([]byte, 0, len(s)+2), '"'), s...), '"')
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimRight(b.Bytes(), "\n")
}

func kind(t []byte) string {
	if len(t) == 0 {
		return "empty"
	}
	switch t[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}
