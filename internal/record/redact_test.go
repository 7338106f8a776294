package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/samples"
)

func TestRules(t *testing.T) {
	h := func(s string) string { return hashHex(salt, []byte(s)) }
	cases := []struct {
		name      string
		rule      FieldRule
		in, want  string
		wantError string
	}{
		{name: "drop a member, order kept", rule: FieldRule{Path: "$.b", Action: ActionDrop}, in: `{"c":1,"b":2,"a":3}`, want: `{"c":1,"a":3}`},
		{name: "mask nested", rule: FieldRule{Path: "$.a.b", Action: ActionMask}, in: `{"a":{"b":"x","c":"<y>"}}`, want: `{"a":{"b":"****","c":"<y>"}}`},
		{name: "custom mask", rule: FieldRule{Path: "$.a", Action: ActionMask, Mask: "REDACTED"}, in: `{"a":5}`, want: `{"a":"REDACTED"}`},
		{name: "hash a string by its text", rule: FieldRule{Path: "$.id", Action: ActionHash}, in: `{"id":"c-1"}`, want: `{"id":"` + h("c-1") + `"}`},
		{name: "hash a number alike", rule: FieldRule{Path: "$.id", Action: ActionHash}, in: `{"id":42}`, want: `{"id":"` + h("42") + `"}`},
		{name: "every element", rule: FieldRule{Path: "$.items[*].card", Action: ActionMask}, in: `{"items":[{"card":"1"},{"x":1},{"card":"2"}]}`, want: `{"items":[{"card":"****"},{"x":1},{"card":"****"}]}`},
		{name: "one element", rule: FieldRule{Path: "$.l[1]", Action: ActionDrop}, in: `{"l":[1,2,3]}`, want: `{"l":[1,3]}`},
		{name: "quoted name", rule: FieldRule{Path: `$["a.b"]`, Action: ActionDrop}, in: `{"a.b":1,"a":{"b":2}}`, want: `{"a":{"b":2}}`},
		{name: "missing: unchanged", rule: FieldRule{Path: "$.x.y", Action: ActionDrop}, in: `{ "a" : 1 }`, want: `{ "a" : 1 }`},
		{name: "null on the way: unchanged", rule: FieldRule{Path: "$.before.email", Action: ActionHash}, in: `{"before":null}`, want: `{"before":null}`},
		{name: "spaces kept outside the path", rule: FieldRule{Path: "$.a.b", Action: ActionMask}, in: `{ "a" : { "b" : "x" } , "c" : [ 1 , {"d": 2} ] }`, want: `{"a":{"b":"****"},"c":[ 1 , {"d": 2} ]}`},
		{name: "escaped name", rule: FieldRule{Path: "$.email", Action: ActionMask}, in: `{"e\u006dail":"x","email2":"y"}`, want: `{"e\u006dail":"****","email2":"y"}`},
		{name: "brackets and quotes in strings", rule: FieldRule{Path: "$.t", Action: ActionDrop}, in: `{"s":"}\"{]","t":[1,"]"],"u":true}`, want: `{"s":"}\"{]","u":true}`},
		{name: "last element of an array", rule: FieldRule{Path: "$[2]", Action: ActionHash}, in: `[1,2,"c-1"]`, want: `[1,2,"` + h("c-1") + `"]`},
		{name: "whole value as bytes", rule: FieldRule{Path: "$", Action: ActionHash}, in: `not json`, want: h("not json")},
		{name: "wrong type on the way", rule: FieldRule{Path: "$.a.b", Action: ActionDrop}, in: `{"a":"x"}`, wantError: `value rule 1 (drop $.a.b): partition 0 offset 7: in the value: $.a.b: $.a is a string, not an object`},
		{name: "not JSON", rule: FieldRule{Path: "$.a", Action: ActionDrop}, in: `{"a":`, wantError: "value rule 1 (drop $.a): partition 0 offset 7: the value is not JSON (5 bytes)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			red, err := NewRedactor(Rules{Value: []FieldRule{c.rule}}, salt)
			if err != nil {
				t.Fatal(err)
			}
			rec := Record{Partition: 0, Offset: 7, Value: []byte(c.in)}
			_, err = red.Apply(&rec)
			if c.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantError) {
					t.Fatalf("error %v, want %q", err, c.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.want, string(rec.Value)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestHashIsConsistentAndSalted(t *testing.T) {
	a, b := hashHex(salt, []byte("c-1")), hashHex(salt, []byte("c-1"))
	if a != b || len(a) != 32 {
		t.Fatalf("%s, %s", a, b)
	}
	if hashHex([]byte("another-salt-of-16-bytes"), []byte("c-1")) == a || hashHex(salt, []byte("c-2")) == a {
		t.Error("the hash does not depend on the salt and the input")
	}
}

func TestRuleErrors(t *testing.T) {
	cases := []struct {
		rules Rules
		salt  []byte
		want  string
	}{
		{Rules{Value: []FieldRule{{Path: "$.a", Action: ActionHash}}}, []byte("short"), "value rule 1: hashing needs a salt of at least 16 bytes"},
		{Rules{Key: []FieldRule{{Path: "$", Action: ActionDrop}}}, salt, "key rule 1: drop needs a field"},
		{Rules{Value: []FieldRule{{Path: "a.b", Action: ActionDrop}}}, salt, `path "a.b" must start with $`},
		{Rules{Value: []FieldRule{{Path: "$.a[x]", Action: ActionDrop}}}, salt, `[x] is neither an index`},
		{Rules{Value: []FieldRule{{Path: "$.a", Action: "erase"}}}, salt, `action "erase"`},
		{Rules{NonJSON: "ignore"}, salt, `nonJSON "ignore"`},
	}
	for _, c := range cases {
		_, err := NewRedactor(c.rules, c.salt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.rules, err, c.want)
		}
	}
	if _, err := ReadRules([]byte("value:\n- path: $.a\n  acton: drop\n"), "rules.yaml"); err == nil || !strings.Contains(err.Error(), "rules.yaml") || !strings.Contains(err.Error(), "acton") {
		t.Errorf("a typo in the rules file: %v", err)
	}
	r, err := ReadRules([]byte("value:\n- {path: $.a, action: drop}\n- {path: $.b, action: mask}\n"), "rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	red, _ := NewRedactor(r, nil)
	rec := Record{Offset: 3, Value: []byte(`{"a":{"b":1},"b":"x"}`)}
	if _, err := red.Apply(&rec); err != nil {
		t.Fatal(err)
	}
	red.rules[0].hits = 0
	if d := cmp.Diff([]string{"rules.yaml value rule 1 (drop $.a)"}, red.Unmatched()); d != "" {
		t.Errorf("unmatched (-want +got):\n%s", d)
	}
}

func TestFieldRulesApplyBeforeWholeKeyRules(t *testing.T) {
	var r Rules
	for _, f := range []struct {
		a   Action
		arg string
	}{{ActionHash, "key:$"}, {ActionMask, "key:$.name"}} {
		if err := r.AddFlag(f.a, f.arg); err != nil {
			t.Fatal(err)
		}
	}
	red, err := NewRedactor(r, salt)
	if err != nil {
		t.Fatal(err)
	}
	rec := Record{Key: []byte(`{"name":"bob"}`)}
	if _, err := red.Apply(&rec); err != nil {
		t.Fatal(err)
	}
	if want := hashHex(salt, []byte(`{"name":"****"}`)); string(rec.Key) != want {
		t.Errorf("key %s, want %s", rec.Key, want)
	}
	if err := r.AddFlag(ActionDrop, "body:$.x"); err == nil || !strings.Contains(err.Error(), `"body" is neither key nor value`) {
		t.Errorf("error %v", err)
	}
}

// Binary keys and values, nulls and escapes come back from the project's loader as written.
func TestKcatOutputLoadsBackExactly(t *testing.T) {
	ts := time.UnixMilli(1796025601123).UTC()
	recs := []Record{
		{Topic: "t", Partition: 1, Offset: 5, Timestamp: ts, Key: []byte{0, 1, 0xff, 0xfe, '"', '\\'}, Value: []byte("line1\nline2\t\x7f\u00e9"),
			Headers: []samples.Header{{Key: "h", Value: []byte("v")}, {Key: "n", Value: nil}}},
		{Topic: "t", Partition: -1, Offset: -1, Key: nil, Value: nil},
		{Topic: "t", Partition: 0, Offset: 1, Key: []byte{}, Value: []byte{}},
	}
	gz, err := Gzip(recs)
	if err != nil {
		t.Fatal(err)
	}
	set, err := samples.Parse(bytes.NewReader(gz), streamreplayv1alpha1.SampleFormatKcat, "x")
	if err != nil {
		t.Fatal(err)
	}
	var got []Record
	for _, r := range set.Records {
		got = append(got, Record{Topic: r.Topic, Partition: r.Partition, Timestamp: r.Timestamp, Key: r.Key, Value: r.Value, Headers: r.Headers})
	}
	want := []Record{
		{Topic: "t", Partition: 1, Timestamp: ts, Key: recs[0].Key, Value: recs[0].Value, Headers: recs[0].Headers},
		{Topic: "t", Partition: -1},
		{Topic: "t", Partition: 0, Key: []byte{}, Value: []byte{}},
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) && (a == nil) == (b == nil) })); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestConfigMapManifest(t *testing.T) {
	gz, err := Gzip([]Record{{Topic: "t", Partition: 0, Offset: 0, Key: []byte("k"), Value: []byte("v")}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteConfigMap(&out, "recorded", "ns", DefaultConfigMapKey, gz); err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(out.Bytes(), &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Name != "recorded" || cm.Namespace != "ns" || cm.Kind != "ConfigMap" {
		t.Errorf("%+v", cm.ObjectMeta)
	}
	set, err := samples.Parse(bytes.NewReader(cm.BinaryData[DefaultConfigMapKey]), streamreplayv1alpha1.SampleFormatKcat, "cm")
	if err != nil || len(set.Records) != 1 || string(set.Records[0].Value) != "v" {
		t.Fatalf("%v %+v", err, set)
	}

	big := make([]byte, MaxConfigMapBytes-len(DefaultConfigMapKey)+1)
	err = WriteConfigMap(&out, "recorded", "", DefaultConfigMapKey, big)
	var tooBig *TooBigError
	if !errors.As(err, &tooBig) {
		t.Fatalf("error %v, want TooBigError", err)
	}
	for _, want := range []string{"1048557 bytes", "over the 1 MiB", "spec.sampleSet.url", "persistentVolumeClaim", "docs/plugin.md#record"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if err := WriteConfigMap(&out, "recorded", "", DefaultConfigMapKey, big[:len(big)-1]); err != nil {
		t.Errorf("exactly 1 MiB with the key: %v", err)
	}
}

func TestMergeKeepsEachPartitionsOrder(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	p0 := []Record{{Partition: 0, Offset: 0, Timestamp: at(5)}, {Partition: 0, Offset: 1, Timestamp: at(1)}}
	p1 := []Record{{Partition: 1, Offset: 0, Timestamp: at(3)}, {Partition: 1, Offset: 1, Timestamp: at(4)}}
	var got []string
	for _, r := range Merge([][]Record{p0, p1}) {
		got = append(got, Where(&r))
	}
	want := []string{"partition 1 offset 0", "partition 1 offset 1", "partition 0 offset 0", "partition 0 offset 1"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// FuzzWalk checks the scanner against encoding/json: dropping $.a from any valid JSON
// object gives what deleting "a" from its decoded map gives, and valid JSON.
func FuzzWalk(f *testing.F) {
	for _, seed := range []string{`{"a":1}`, `{ "b" : [1, {"a": 2}], "a" : {"x": "}\"]"} }`, `{"\u0061":3,"a":4}`, `{}`, `{"a":null,"c":"\\"}`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var m map[string]any
		if json.Unmarshal([]byte(doc), &m) != nil || m == nil {
			return
		}
		out, _, err := walk([]byte(doc), []segment{{name: "a"}}, "$", func([]byte) ([]byte, bool) { return nil, true })
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s -> invalid %s: %v", doc, out, err)
		}
		delete(m, "a")
		if d := cmp.Diff(m, got); d != "" {
			t.Errorf("%s -> %s (-want +got):\n%s", doc, out, d)
		}
	})
}
