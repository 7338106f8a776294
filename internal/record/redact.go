package record

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/streamreplay/streamreplay/internal/samples"
)

// Action is what a rule does to the field it names.
type Action string

const (
	// ActionDrop removes the field (the member from its object, the element from its array).
	ActionDrop Action = "drop"
	// ActionMask replaces the field with a fixed string, "****" unless the rule says.
	ActionMask Action = "mask"
	// ActionHash replaces the field with the HMAC-SHA256 of its content under the salt, as
	// 32 hex digits: the same input gives the same output, so one customer keeps one key.
	ActionHash Action = "hash"
)

// NonJSON says what to do with a record whose key or value a rule needs as JSON but is not.
type NonJSON string

const (
	// NonJSONFail stops the recording with an error naming the rule and the record: a
	// record that the rules cannot redact is never written.
	NonJSONFail NonJSON = "fail"
	// NonJSONDropRecord leaves such records out of the set and counts them.
	NonJSONDropRecord NonJSON = "drop-record"
)

// DefaultMask replaces masked fields.
const DefaultMask = "****"

// MinSaltBytes is the shortest salt accepted: with a short one, hashed identifiers could be
// found again by trying every likely value.
const MinSaltBytes = 16

// Rules are the redaction rules, from a YAML file and flags.
type Rules struct {
	// Key and Value rules apply to the record's key and value.
	Key   []FieldRule `json:"key,omitempty"`
	Value []FieldRule `json:"value,omitempty"`
	// DropHeaders are header names removed from every record (compared without case).
	DropHeaders []string `json:"dropHeaders,omitempty"`
	// NonJSON: fail (the default) or drop-record.
	NonJSON NonJSON `json:"nonJSON,omitempty"`
}

// FieldRule is one field to drop, mask or hash.
type FieldRule struct {
	// Path is a JSON path: `$` is the whole key or value (as bytes, JSON or not),
	// `$.after.email`, `$.items[*].card`, `$["odd.name"]`, `$.lines[0]`.
	Path   string `json:"path"`
	Action Action `json:"action"`
	// Mask is the replacement of a masked field (default "****").
	Mask string `json:"mask,omitempty"`

	source string // "rules.yaml value rule 2" or "flag --hash value:$.id", for messages
}

// ReadRules parses a rules file; unknown fields are errors, so a typo cannot leave a field
// unredacted.
func ReadRules(data []byte, name string) (Rules, error) {
	var r Rules
	if err := yaml.UnmarshalStrict(data, &r); err != nil {
		return Rules{}, fmt.Errorf("redaction rules %s: %w", name, err)
	}
	for i := range r.Key {
		r.Key[i].source = fmt.Sprintf("%s key rule %d", name, i+1)
	}
	for i := range r.Value {
		r.Value[i].source = fmt.Sprintf("%s value rule %d", name, i+1)
	}
	return r, nil
}

// AddFlag adds a rule given as a flag --drop, --mask or --hash with KEY-OR-VALUE:PATH,
// such as value:$.after.email.
func (r *Rules) AddFlag(action Action, arg string) error {
	where, path, ok := strings.Cut(arg, ":")
	rule := FieldRule{Path: path, Action: action, source: fmt.Sprintf("flag --%s %s", action, arg)}
	switch {
	case !ok:
		return fmt.Errorf("--%s %q: want key:PATH or value:PATH, such as value:$.after.email", action, arg)
	case where == "key":
		r.Key = append(r.Key, rule)
	case where == "value":
		r.Value = append(r.Value, rule)
	default:
		return fmt.Errorf("--%s %q: %q is neither key nor value", action, arg, where)
	}
	return nil
}

type compiled struct {
	FieldRule
	inKey bool
	segs  []segment
	edit  edit
	hits  int
}

func (c *compiled) String() string {
	return fmt.Sprintf("%s (%s %s)", c.source, c.Action, c.Path)
}

// Redactor applies rules to records. It is not safe for concurrent use.
type Redactor struct {
	rules       []*compiled
	dropHeaders map[string]bool
	nonJSON     NonJSON

	// HeadersDropped and RecordsDropped count what was removed.
	HeadersDropped int
	RecordsDropped int
}

// NewRedactor checks the rules; salt is needed by hash rules only.
func NewRedactor(r Rules, salt []byte) (*Redactor, error) {
	red := &Redactor{dropHeaders: map[string]bool{}, nonJSON: r.NonJSON}
	switch r.NonJSON {
	case "":
		red.nonJSON = NonJSONFail
	case NonJSONFail, NonJSONDropRecord:
	default:
		return nil, fmt.Errorf("redaction rules: nonJSON %q: want %s or %s", r.NonJSON, NonJSONFail, NonJSONDropRecord)
	}
	for _, h := range r.DropHeaders {
		if h == "" {
			return nil, errors.New("redaction rules: an empty header name in dropHeaders")
		}
		red.dropHeaders[strings.ToLower(h)] = true
	}
	add := func(rules []FieldRule, inKey bool) error {
		for i, fr := range rules {
			c := &compiled{FieldRule: fr, inKey: inKey}
			if c.source == "" {
				c.source = fmt.Sprintf("value rule %d", i+1)
				if inKey {
					c.source = fmt.Sprintf("key rule %d", i+1)
				}
			}
			segs, err := parsePath(fr.Path)
			if err != nil {
				return fmt.Errorf("%s: %w", c.source, err)
			}
			c.segs = segs
			switch fr.Action {
			case ActionDrop:
				if len(segs) == 0 {
					return fmt.Errorf("%s: drop needs a field: dropping the whole key or value would change the record (a value dropped is a tombstone); use mask or hash on $", c.source)
				}
				c.edit = func([]byte) ([]byte, bool) { return nil, true }
			case ActionMask:
				mask := fr.Mask
				if mask == "" {
					mask = DefaultMask
				}
				c.edit = func([]byte) ([]byte, bool) { return jsonString(mask), false }
				if len(segs) == 0 {
					c.edit = func([]byte) ([]byte, bool) { return []byte(mask), false }
				}
			case ActionHash:
				if len(salt) < MinSaltBytes {
					return fmt.Errorf("%s: hashing needs a salt of at least %d bytes (from --salt-file or $%s), %d given", c.source, MinSaltBytes, SaltEnv, len(salt))
				}
				c.edit = func(raw []byte) ([]byte, bool) { return jsonString(hashHex(salt, jsonContent(raw))), false }
				if len(segs) == 0 {
					c.edit = func(raw []byte) ([]byte, bool) { return []byte(hashHex(salt, raw)), false }
				}
			default:
				return fmt.Errorf("%s: action %q: want %s, %s or %s", c.source, fr.Action, ActionDrop, ActionMask, ActionHash)
			}
			if fr.Mask != "" && fr.Action != ActionMask {
				return fmt.Errorf("%s: mask is only for action %s", c.source, ActionMask)
			}
			red.rules = append(red.rules, c)
		}
		return nil
	}
	if err := add(r.Key, true); err != nil {
		return nil, err
	}
	if err := add(r.Value, false); err != nil {
		return nil, err
	}
	// Rules on a whole key or value ($) go last: a field rule needs the JSON they replace.
	sort.SliceStable(red.rules, func(i, j int) bool { return len(red.rules[i].segs) > 0 && len(red.rules[j].segs) == 0 })
	return red, nil
}

// SaltEnv is the environment variable that may hold the hashing salt.
const SaltEnv = "STREAMREPLAY_RECORD_SALT"

// hashHex is the first 128 bits of HMAC-SHA256(salt, b) in hex.
func hashHex(salt, b []byte) string {
	m := hmac.New(sha256.New, salt)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// jsonContent is what a hash covers: a string's text (so "42" and the key 42 hash alike
// wherever they appear), or any other value's compact JSON.
func jsonContent(raw []byte) []byte {
	t := bytes.TrimSpace(raw)
	if len(t) > 1 && t[0] == '"' && bytes.IndexByte(t, '\\') < 0 {
		return t[1 : len(t)-1]
	}
	if len(t) > 0 && t[0] == '"' {
		var s string
		if json.Unmarshal(t, &s) == nil {
			return []byte(s)
		}
	}
	var b bytes.Buffer
	if json.Compact(&b, t) == nil {
		return b.Bytes()
	}
	return t
}

// RuleError is a rule that cannot be applied to a record.
type RuleError struct {
	Rule   string
	Record string // "partition 2 offset 17" or "line 12"
	Err    error
}

func (e *RuleError) Error() string { return fmt.Sprintf("%s: %s: %v", e.Rule, e.Record, e.Err) }
func (e *RuleError) Unwrap() error { return e.Err }

// Where names a record for messages.
func Where(r *Record) string {
	if r.Line > 0 {
		return fmt.Sprintf("line %d", r.Line)
	}
	return fmt.Sprintf("partition %d offset %d", r.Partition, r.Offset)
}

// Apply redacts rec in place; it returns false when the record is to be left out (a
// non-JSON record under nonJSON drop-record).
func (red *Redactor) Apply(rec *Record) (bool, error) {
	if len(red.dropHeaders) > 0 && len(rec.Headers) > 0 {
		kept := make([]samples.Header, 0, len(rec.Headers))
		for _, h := range rec.Headers {
			if red.dropHeaders[strings.ToLower(h.Key)] {
				red.HeadersDropped++
				continue
			}
			kept = append(kept, h)
		}
		rec.Headers = kept
	}
	key, value := rec.Key, rec.Value
	// Whether the key and value were checked to be JSON: once each, since the rules'
	// edits keep a document valid.
	var keyJSON, valueJSON bool
	for _, c := range red.rules {
		target, checked := &value, &valueJSON
		what := "value"
		if c.inKey {
			target, checked, what = &key, &keyJSON, "key"
		}
		if *target == nil { // no key, or a tombstone: nothing to redact
			continue
		}
		if len(c.segs) == 0 {
			*target, _ = c.edit(*target)
			c.hits++
			continue
		}
		if !*checked && !json.Valid(*target) {
			if red.nonJSON == NonJSONDropRecord {
				red.RecordsDropped++
				return false, nil
			}
			return false, &RuleError{Rule: c.String(), Record: Where(rec),
				Err: fmt.Errorf("the %s is not JSON (%d bytes), so the rule cannot apply; fix the rule, or set nonJSON: %s to leave such records out", what, len(*target), NonJSONDropRecord)}
		}
		*checked = true
		out, n, err := walk(*target, c.segs, "$", c.edit)
		if err != nil {
			return false, &RuleError{Rule: c.String(), Record: Where(rec), Err: fmt.Errorf("in the %s: %w", what, err)}
		}
		*target = out
		c.hits += n
	}
	rec.Key, rec.Value = key, value
	return true, nil
}

// Unmatched lists the rules that changed no record: most likely a wrong path, which
// would leave the data it meant unredacted.
func (red *Redactor) Unmatched() []string {
	var out []string
	for _, c := range red.rules {
		if c.hits == 0 {
			out = append(out, c.String())
		}
	}
	return out
}
