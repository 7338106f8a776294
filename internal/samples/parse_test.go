package samples

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

func TestParseJSONLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Record
	}{{
		name: "string key and value",
		in:   lines(`{"key":"k1","value":"hello"}`),
		want: []Record{rec("s.jsonl:1", func(r *Record) { r.Key, r.Value = []byte("k1"), []byte("hello") })},
	}, {
		name: "JSON values are compacted, strings inside kept",
		in:   lines(`{"key": {"id": 1} , "value": {"a": [1, 2.5e3, true, null], "b": "x, y: z", "c": {}}}`),
		want: []Record{rec("s.jsonl:1", func(r *Record) {
			r.Key, r.Value = []byte(`{"id":1}`), []byte(`{"a":[1,2.5e3,true,null],"b":"x, y: z","c":{}}`)
		})},
	}, {
		name: "numbers, booleans and arrays are their JSON text",
		in:   lines(`{"key":42,"value":[true, -0.5]}`, `{"key":false,"value":1E+2}`),
		want: []Record{
			rec("s.jsonl:1", func(r *Record) { r.Key, r.Value = []byte("42"), []byte("[true,-0.5]") }),
			rec("s.jsonl:2", func(r *Record) { r.Key, r.Value = []byte("false"), []byte("1E+2") }),
		},
	}, {
		name: "escapes decoded",
		in:   lines(`{"key":"a\"b\\c\/d\u00e9\ud83d\ude00\n\t","value":"\ud800x\u0000"}`),
		want: []Record{rec("s.jsonl:1", func(r *Record) {
			r.Key, r.Value = []byte("a\"b\\c/dé😀\n\t"), []byte("\uFFFDx\x00")
		})},
	}, {
		name: "tombstones: null or absent value; no key",
		in:   lines(`{"key":"k","value":null}`, `{"key":"k"}`, `{"key":null,"value":"v"}`, `{"value":"v"}`),
		want: []Record{
			rec("s.jsonl:1", func(r *Record) { r.Key = []byte("k") }),
			rec("s.jsonl:2", func(r *Record) { r.Key = []byte("k") }),
			rec("s.jsonl:3", func(r *Record) { r.Value = []byte("v") }),
			rec("s.jsonl:4", func(r *Record) { r.Value = []byte("v") }),
		},
	}, {
		name: "empty strings are empty, not null",
		in:   lines(`{"key":"","value":""}`),
		want: []Record{rec("s.jsonl:1", func(r *Record) { r.Key, r.Value = []byte{}, []byte{} })},
	}, {
		name: "binary key and value in base64",
		in:   lines(`{"keyBase64":"AAH/","valueBase64":"3q2+7w=="}`, `{"keyBase64":"","valueBase64":null}`),
		want: []Record{
			rec("s.jsonl:1", func(r *Record) { r.Key, r.Value = []byte{0, 1, 0xff}, []byte{0xde, 0xad, 0xbe, 0xef} }),
			rec("s.jsonl:2", func(r *Record) { r.Key = []byte{} }),
		},
	}, {
		name: "headers as an object, in order, duplicates and null kept",
		in:   lines(`{"value":"v","headers":{"h1":"a","h2":null,"h1":"b","h3":""}}`),
		want: []Record{rec("s.jsonl:1", func(r *Record) {
			r.Value = []byte("v")
			r.Headers = []Header{{"h1", []byte("a")}, {"h2", nil}, {"h1", []byte("b")}, {"h3", []byte{}}}
		})},
	}, {
		name: "headers as an array, with base64",
		in:   lines(`{"value":"v","headers":[{"key":"h1","value":"a"},{"valueBase64":"AP8=","key":"bin"},{"key":"n","value":null},{"key":"e"}]}`),
		want: []Record{rec("s.jsonl:1", func(r *Record) {
			r.Value = []byte("v")
			r.Headers = []Header{{"h1", []byte("a")}, {"bin", []byte{0, 0xff}}, {"n", nil}, {"e", nil}}
		})},
	}, {
		name: "empty and null headers",
		in:   lines(`{"value":"v","headers":{}}`, `{"value":"v","headers":[]}`, `{"value":"v","headers":null}`),
		want: []Record{
			rec("s.jsonl:1", func(r *Record) { r.Value = []byte("v") }),
			rec("s.jsonl:2", func(r *Record) { r.Value = []byte("v") }),
			rec("s.jsonl:3", func(r *Record) { r.Value = []byte("v") }),
		},
	}, {
		name: "timestamps: RFC 3339, epoch milliseconds, null",
		in: lines(`{"value":"v","timestamp":"2024-05-01T12:00:00.123+02:00"}`, `{"value":"v","timestamp":1714564800123}`,
			`{"value":"v","timestamp":"2024-05-01T10:00:00Z"}`, `{"value":"v","timestamp":null}`, `{"value":"v","timestamp":0}`),
		want: []Record{
			rec("s.jsonl:1", func(r *Record) { r.Value, r.Timestamp = []byte("v"), ms(1714557600123) }),
			rec("s.jsonl:2", func(r *Record) { r.Value, r.Timestamp = []byte("v"), ms(1714564800123) }),
			rec("s.jsonl:3", func(r *Record) { r.Value, r.Timestamp = []byte("v"), ms(1714557600000) }),
			rec("s.jsonl:4", func(r *Record) { r.Value = []byte("v") }),
			rec("s.jsonl:5", func(r *Record) { r.Value, r.Timestamp = []byte("v"), ms(0) }),
		},
	}, {
		name: "topic and partition",
		in:   lines(`{"topic":"orders","partition":3,"value":"v"}`, `{"topic":null,"partition":null,"value":"v"}`, `{"partition":0,"value":"v"}`),
		want: []Record{
			rec("s.jsonl:1", func(r *Record) { r.Topic, r.Partition, r.Value = "orders", 3, []byte("v") }),
			rec("s.jsonl:2", func(r *Record) { r.Value = []byte("v") }),
			rec("s.jsonl:3", func(r *Record) { r.Partition, r.Value = 0, []byte("v") }),
		},
	}, {
		name: "blank lines, comments, CRLF, BOM, spaces and a last line without newline",
		in:   "\uFEFF{\"value\":\"a\"}\r\n\n   \n# a comment\n  # another\r\n \t{ \"value\" : \"b\" } \r\n{\"value\":\"c\"}",
		want: []Record{
			rec("s.jsonl:1", func(r *Record) { r.Value = []byte("a") }),
			rec("s.jsonl:6", func(r *Record) { r.Value = []byte("b") }),
			rec("s.jsonl:7", func(r *Record) { r.Value = []byte("c") }),
		},
	}, {
		name: "escaped field names",
		in:   lines(`{"k\u0065y":"x","\u0076alue":"y"}`),
		want: []Record{rec("s.jsonl:1", func(r *Record) { r.Key, r.Value = []byte("x"), []byte("y") })},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Parse(strings.NewReader(tt.in), streamreplayv1alpha1.SampleFormatJSONLines, "s.jsonl")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, set.Records); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if set.Bytes != int64(len(tt.in)) {
				t.Errorf("Bytes = %d, want %d", set.Bytes, len(tt.in))
			}
		})
	}
}

func TestParseKcat(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Record
	}{{
		name: "all fields",
		in: lines(`{"topic":"orders","partition":2,"offset":17,"tstype":"create","ts":1714564800123,"broker":1,` +
			`"headers":["h1","v1","h2",null,"h1",""],"key":"k","payload":"{\"a\":1, \"b\": [2]}"}`),
		want: []Record{rec("k.json:1", func(r *Record) {
			r.Topic, r.Partition, r.Timestamp = "orders", 2, ms(1714564800123)
			r.Headers = []Header{{"h1", []byte("v1")}, {"h2", nil}, {"h1", []byte{}}}
			r.Key, r.Value = []byte("k"), []byte(`{"a":1, "b": [2]}`) // a string payload is kept as is
		})},
	}, {
		name: "tombstone without key, no headers, no timestamp (older kcat)",
		in:   lines(`{"topic":"t","partition":0,"offset":1,"key":null,"payload":null}`),
		want: []Record{rec("k.json:1", func(r *Record) { r.Topic, r.Partition = "t", 0 })},
	}, {
		name: "binary bytes as kcat writes them: raw, control characters escaped",
		in:   lines("{\"topic\":\"t\",\"partition\":1,\"offset\":2,\"tstype\":\"logappend\",\"ts\":5,\"broker\":-1,\"key\":\"\xff\xfe\",\"payload\":\"a\\u0000\xc3\\u001f\"}"),
		want: []Record{rec("k.json:1", func(r *Record) {
			r.Topic, r.Partition, r.Timestamp = "t", 1, ms(5)
			r.Key, r.Value = []byte{0xff, 0xfe}, []byte{'a', 0, 0xc3, 0x1f}
		})},
	}, {
		name: "headers as a map of arrays",
		in:   lines(`{"topic":"t","partition":0,"offset":0,"headers":{"h":["1",null],"g":[]},"key":"k","payload":"v"}`),
		want: []Record{rec("k.json:1", func(r *Record) {
			r.Topic, r.Partition = "t", 0
			r.Headers = []Header{{"h", []byte("1")}, {"h", nil}}
			r.Key, r.Value = []byte("k"), []byte("v")
		})},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Parse(strings.NewReader(tt.in), streamreplayv1alpha1.SampleFormatKcat, "k.json")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, set.Records); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

// The generated samples, through both formats and gzip, give the same records.
func TestParseGeneratedBothFormatsAndGzip(t *testing.T) {
	jl, kc := debeziumJSONLines(200<<10), debeziumKcat(200<<10)
	for _, tc := range []struct {
		name   string
		in     []byte
		format Format
	}{
		{"jsonl", jl, streamreplayv1alpha1.SampleFormatJSONLines},
		{"jsonl.gz", gz(t, jl), streamreplayv1alpha1.SampleFormatJSONLines},
		{"kcat", kc, streamreplayv1alpha1.SampleFormatKcat},
		{"kcat.gz", gz(t, kc), streamreplayv1alpha1.SampleFormatKcat},
		{"two gzip members", append(gz(t, jl[:len(jl)/2]), gz(t, jl[len(jl)/2:])...), streamreplayv1alpha1.SampleFormatJSONLines},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, err := Parse(bytes.NewReader(tc.in), tc.format, tc.name)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			plain := jl
			if tc.format == streamreplayv1alpha1.SampleFormatKcat {
				plain = kc
			}
			if set.Bytes != int64(len(plain)) {
				t.Errorf("Bytes = %d, want the uncompressed %d", set.Bytes, len(plain))
			}
			n := bytes.Count(plain, []byte("\n"))
			if len(set.Records) != n {
				t.Fatalf("got %d records, want %d", len(set.Records), n)
			}
			for i, r := range set.Records {
				if want := fmt.Sprintf("%s:%d", tc.name, i+1); r.Source.String() != want {
					t.Fatalf("record %d: Source %q, want %q", i, r.Source, want)
				}
				var env struct{ Op string }
				if err := json.Unmarshal(r.Value, &env); err != nil || env.Op == "" {
					t.Fatalf("record %d: value is not the envelope (%v): %.80s", i, err, r.Value)
				}
				if want := fmt.Sprintf(`{"customer_id":%d}`, i+1); string(r.Key) != want {
					t.Fatalf("record %d: key %s, want %s", i, r.Key, want)
				}
				if len(r.Headers) != 1 || r.Headers[0].Key != "traceparent" || r.Timestamp.IsZero() {
					t.Fatalf("record %d: headers %v, timestamp %v", i, r.Headers, r.Timestamp)
				}
				if cap(r.Value) != len(r.Value) || cap(r.Key) != len(r.Key) {
					t.Fatalf("record %d: capacity beyond length would let appends overwrite the next record", i)
				}
			}
		})
	}
}

// A Debezium envelope with insignificant whitespace is kept equal to its
// compact form: only the whitespace outside strings goes.
func TestParseDebeziumValueKept(t *testing.T) {
	env := `{ "before" : null, "after": {"id": 7, "name": "Ana  Silva", "notes": "a: b, {c} [d] \"e\" \\ \u00e9 \u2028", "price": 12.50, "tags": ["x", "y" ], "deleted": false},` +
		"\t" + `"source": {"connector": "sqlserver", "ts_ms": 1714564800000, "change_lsn": "00000027:00000758:0003"}, "op": "u", "ts_ms": 1714564800100 }`
	var want bytes.Buffer
	if err := json.Compact(&want, []byte(env)); err != nil {
		t.Fatal(err)
	}
	compact := want.String()
	for _, value := range []string{env, compact} {
		in := `{"key":{"id":7},"value":` + value + "}\n"
		set, err := Parse(strings.NewReader(in), streamreplayv1alpha1.SampleFormatJSONLines, "d.jsonl")
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if got := string(set.Records[0].Value); got != compact {
			t.Errorf("value:\n got %s\nwant %s", got, compact)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		in     string
		want   []string // substrings of the error
	}{
		{"invalid JSON on line 3", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"value":"a"}`, ``, `{"key":"a",}`), []string{`e.jsonl: line 3: invalid JSON at column 12: unexpected '}', a string expected`}},
		{"unterminated", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"key":"a`), []string{"line 1: ", `"key": invalid JSON at column 10: unterminated string`}},
		{"control character in string", streamreplayv1alpha1.SampleFormatJSONLines, "{\"key\":\"a\tb\"}\n", []string{"control character 0x09"}},
		{"bad escape", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"key":"a\x"}`), []string{`invalid escape "\\x"`}},
		{"bad literal", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"key":nul}`), []string{"invalid literal, null expected"}},
		{"bad number", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"key":01}`), []string{`unexpected '1', ',' or '}' expected`}},
		{"unknown field", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"key":"k","vaule":"x"}`), []string{`line 1: unknown field "vaule"`}},
		{"unknown field differs in case", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"Value":"x"}`), []string{`unknown field "Value"`}},
		{"duplicate field", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"value":"x","value":"y"}`), []string{`duplicate field "value"`}},
		{"key and keyBase64", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"key":"k","keyBase64":"aw=="}`), []string{`line 1: "key" and "keyBase64" are both set`}},
		{"value and valueBase64", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"valueBase64":null,"value":"v"}`), []string{`"value" and "valueBase64" are both set`}},
		{"bad base64", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"valueBase64":"3q2+7w="}`), []string{`e.jsonl: line 1: "valueBase64": invalid base64: illegal base64 data at input byte`}},
		{"base64 not a string", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"keyBase64":12}`), []string{`"keyBase64": a string expected, found a number`}},
		{"bad timestamp", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"timestamp":"2024-05-01 12:00:00"}`), []string{`"timestamp": not an RFC 3339 time`}},
		{"fractional timestamp", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"timestamp":1714564800.5}`), []string{`"timestamp": an integer expected, found 1714564800.5`}},
		{"timestamp before 1970", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"timestamp":"1969-12-31T23:59:59Z"}`), []string{`"timestamp": 1969-12-31T23:59:59Z is before 1970`}},
		{"negative timestamp", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"timestamp":-5}`), []string{`"timestamp": -5 is negative`}},
		{"timestamp of another type", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"timestamp":{}}`), []string{`"timestamp": an RFC 3339 string or epoch milliseconds expected, found an object`}},
		{"negative partition", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"partition":-1}`), []string{`"partition": -1 is negative`}},
		{"partition out of range", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"partition":2147483648}`), []string{`"partition": 2147483648: out of range`}},
		{"huge partition", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"partition":99999999999999999999}`), []string{`out of range`}},
		{"partition as a string", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"partition":"1"}`), []string{`"partition": an integer expected, found a string`}},
		{"topic not a string", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"topic":1}`), []string{`"topic": a string expected, found a number`}},
		{"an array is not an object", streamreplayv1alpha1.SampleFormatJSONLines, lines(`[1,2]`), []string{"line 1: an object expected, found an array"}},
		{"a string is not an object", streamreplayv1alpha1.SampleFormatJSONLines, lines(`"x"`), []string{"line 1: an object expected, found a string"}},
		{"not JSON", streamreplayv1alpha1.SampleFormatJSONLines, lines(`key=value`), []string{"line 1: invalid JSON at column 1: unexpected 'k', a value expected"}},
		{"data after the object", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"value":"x"} {}`), []string{`invalid JSON at column 15: unexpected '{' after the object`}},
		{"headers of another type", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"headers":"h"}`), []string{`"headers": an object or an array expected, found a string`}},
		{"header value not a string", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"headers":{"h":1}}`), []string{`"headers": "h": a string or null expected, found a number`}},
		{"header without key", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"headers":[{"key":"a","value":"1"},{"value":"x"}]}`), []string{`"headers": header 2: "key" missing`}},
		{"header with unknown field", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"headers":[{"key":"a","val":"1"}]}`), []string{`"headers": header 1: unknown field "val"`}},
		{"header with both values", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"headers":[{"key":"a","value":"1","valueBase64":"MQ=="}]}`), []string{`"value" and "valueBase64" are both set`}},
		{"header with bad base64", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"headers":[{"key":"a","valueBase64":"%"}]}`), []string{`"valueBase64": invalid base64`}},
		{"kcat: payload decoded by -s", streamreplayv1alpha1.SampleFormatKcat, lines(`{"topic":"t","partition":0,"offset":0,"key":null,"payload":{"a":1},"value_schema_id":3}`), []string{`"payload": a string or null expected, found an object`}},
		{"kcat: schema id", streamreplayv1alpha1.SampleFormatKcat, lines(`{"topic":"t","partition":0,"key_schema_id":3,"key":"k"}`), []string{`field "key_schema_id": kcat decoded this record with -s`}},
		{"kcat: unknown field", streamreplayv1alpha1.SampleFormatKcat, lines(`{"topic":"t","partition":0,"payload":"x"}`, `{"topic":"t","partition":0,"vaule":"x"}`), []string{`line 2: unknown field "vaule"`}},
		{"kcat: a JSON Lines field after kcat records", streamreplayv1alpha1.SampleFormatKcat, lines(`{"topic":"t","partition":0,"payload":"x"}`, `{"topic":"t","partition":0,"value":"x"}`),
			[]string{`e.jsonl looks like JSON Lines, not kcat -J output (it has the field "value"): set sampleSet.format: JSONLines`, `line 2: unknown field "value"`}},
		{"kcat output read as JSON Lines, first line broken", streamreplayv1alpha1.SampleFormatJSONLines, lines(`{"topic":"t","partition":0,"offset":1,"payload":}`, `{"topic":"t","partition":0,"offset":2,"payload":"x"}`),
			[]string{`e.jsonl looks like kcat -J output, not JSON Lines (it has the field "offset"): set sampleSet.format: Kcat`, `line 2: unknown field "offset"`}},
		{"kcat: headers odd", streamreplayv1alpha1.SampleFormatKcat, lines(`{"topic":"t","headers":["a","1","b"]}`), []string{`"headers": header "b" has no value`}},
		{"kcat: header name null", streamreplayv1alpha1.SampleFormatKcat, lines(`{"topic":"t","headers":[null,"1"]}`), []string{`"headers": element 1 (a name): a string expected, found null`}},
		{"kcat: fractional ts", streamreplayv1alpha1.SampleFormatKcat, lines(`{"topic":"t","ts":1.5}`), []string{`"ts": an integer expected`}},
		{"kcat: bad offset", streamreplayv1alpha1.SampleFormatKcat, lines(`{"topic":"t","offset":1x}`), []string{`line 1: invalid JSON at column 24: unexpected 'x', ',' or '}' expected`}},
		{"empty file", streamreplayv1alpha1.SampleFormatJSONLines, "", []string{"e.jsonl: no records"}},
		{"only comments and blank lines", streamreplayv1alpha1.SampleFormatJSONLines, "# nothing\n\n  \n", []string{"e.jsonl: no records"}},
		{"unknown format", Format("CSV"), lines(`{}`), []string{`unknown sample format "CSV"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Parse(strings.NewReader(tt.in), tt.format, "e.jsonl")
			if err == nil {
				t.Fatalf("Parse succeeded with %d records, want an error", len(set.Records))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n  %v\ndoes not contain\n  %s", err, w)
				}
			}
		})
	}
}

func TestParseReportsEveryBadLine(t *testing.T) {
	var in strings.Builder
	var bad []int
	for n := 1; n <= 60; n++ {
		if n%2 == 0 && len(bad) < 25 {
			bad = append(bad, n)
			fmt.Fprintf(&in, "{\"value\":\"x\",\"oops\":%d}\n", n)
		} else {
			in.WriteString(`{"value":"ok"}` + "\n")
		}
	}
	_, err := Parse(strings.NewReader(in.String()), streamreplayv1alpha1.SampleFormatJSONLines, "m.jsonl")
	if err == nil {
		t.Fatal("Parse succeeded, want an error")
	}
	got := strings.Split(err.Error(), "\n")
	var want []string
	for _, n := range bad[:20] {
		want = append(want, fmt.Sprintf(`m.jsonl: line %d: unknown field "oops"`, n))
	}
	want = append(want, "and 5 more bad lines")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("error lines (-want +got):\n%s", diff)
	}
}

func TestParseLongLines(t *testing.T) {
	// A line of exactly the limit, one over it, and lines around them.
	value := func(lineLen int) string {
		const frame = `{"value":""}`
		return `{"value":"` + strings.Repeat("x", lineLen-len(frame)) + `"}`
	}
	atLimit, overLimit := value(maxLine), value(maxLine+1)
	big := value(3 << 20) // the buffer grows from minReadBuf several times

	set, err := Parse(strings.NewReader(lines(big, atLimit, `{"value":"after"}`)), streamreplayv1alpha1.SampleFormatJSONLines, "l.jsonl")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(set.Records) != 3 || len(set.Records[1].Value) != maxLine-12 || string(set.Records[2].Value) != "after" {
		t.Errorf("got %d records, want 3 with the long values whole", len(set.Records))
	}

	_, err = Parse(strings.NewReader(lines(`{"value":"a"}`, overLimit, `{"bad":1}`, `{"value":"b"}`)), streamreplayv1alpha1.SampleFormatJSONLines, "l.jsonl")
	want := "l.jsonl: line 2: longer than the limit of 16 MiB\n" + `l.jsonl: line 3: unknown field "bad"`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}

	// Over the limit at the end of the file, without a newline.
	_, err = Parse(strings.NewReader(`{"value":"a"}`+"\n"+overLimit), streamreplayv1alpha1.SampleFormatJSONLines, "l.jsonl")
	if want := "l.jsonl: line 2: longer than the limit"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v, want %s...", err, want)
	}
}

func TestParseGzipErrors(t *testing.T) {
	plain := debeziumJSONLines(100 << 10)
	zipped := gz(t, plain)

	_, err := Parse(bytes.NewReader(zipped[:len(zipped)/2]), streamreplayv1alpha1.SampleFormatJSONLines, "t.jsonl.gz")
	if err == nil || !strings.Contains(err.Error(), "t.jsonl.gz: gzip: unexpected EOF") {
		t.Errorf("truncated gzip: error %v, want t.jsonl.gz: gzip: unexpected EOF", err)
	}
	// Only the magic bytes: not a valid gzip header.
	_, err = Parse(bytes.NewReader(zipped[:4]), streamreplayv1alpha1.SampleFormatJSONLines, "h.gz")
	if err == nil || !strings.Contains(err.Error(), "h.gz: gzip:") {
		t.Errorf("bad gzip header: error %v, want h.gz: gzip: ...", err)
	}
	// The magic bytes decide, not the name.
	set, err := Parse(bytes.NewReader(plain), streamreplayv1alpha1.SampleFormatJSONLines, "named.gz")
	if err != nil || len(set.Records) == 0 {
		t.Errorf("plain data named .gz: %v", err)
	}
	// Bad lines inside gzip are reported like any others.
	_, err = Parse(bytes.NewReader(gz(t, []byte(lines(`{"value":"a"}`, `{"value":1x}`)))), streamreplayv1alpha1.SampleFormatJSONLines, "b.gz")
	if err == nil || !strings.Contains(err.Error(), "b.gz: line 2: ") {
		t.Errorf("bad line in gzip: error %v, want b.gz: line 2: ...", err)
	}
}

func TestParseTimestampKeepsInstant(t *testing.T) {
	set, err := Parse(strings.NewReader(lines(`{"timestamp":"2024-05-01T12:00:00.123456789-07:00"}`)), streamreplayv1alpha1.SampleFormatJSONLines, "t")
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2024, 5, 1, 19, 0, 0, 123456789, time.UTC)
	if got := set.Records[0].Timestamp; !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("timestamp %v, want %v in UTC", got, want)
	}
}

// TestParseDetectsTheOtherFormat: a file whose first record is refused for a field that
// only the other format has, and is valid in that format, is read in it, with a note;
// the records are the same as when the right format is asked.
func TestParseDetectsTheOtherFormat(t *testing.T) {
	kcat := lines(
		`{"topic":"dbserver1.crm.dbo.customers","partition":1,"offset":10,"tstype":"create","ts":1714564800123,"broker":0,"headers":["op","c"],"key":"{\"id\":1}","payload":"{\"n\":1}"}`,
		`{"topic":"dbserver1.crm.dbo.customers","partition":0,"offset":11,"tstype":"create","ts":1714564800456,"broker":0,"headers":null,"key":"{\"id\":2}","payload":null}`)
	jsonl := lines(`{"key":"a","value":{"n":1},"timestamp":"2024-05-01T12:00:00Z"}`, `{"keyBase64":"YQ==","value":"x"}`)
	for _, tc := range []struct {
		name        string
		in          string
		asked, real Format
	}{
		{"kcat -J output read as JSON Lines", kcat, streamreplayv1alpha1.SampleFormatJSONLines, streamreplayv1alpha1.SampleFormatKcat},
		{"JSON Lines read as kcat", jsonl, streamreplayv1alpha1.SampleFormatKcat, streamreplayv1alpha1.SampleFormatJSONLines},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := Parse(strings.NewReader(tc.in), tc.real, "s.json")
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(strings.NewReader(tc.in), tc.asked, "s.json")
			if err != nil {
				t.Fatalf("Parse as %s: %v", tc.asked, err)
			}
			if diff := cmp.Diff(want.Records, got.Records); diff != "" {
				t.Errorf("records (-as %s +detected)\n%s", tc.real, diff)
			}
			wantNote := fmt.Sprintf("s.json: read as %s: its records are of that format, not %s", tc.real, tc.asked)
			if len(got.Notes) != 1 || got.Notes[0] != wantNote {
				t.Errorf("notes %q, want [%q]", got.Notes, wantNote)
			}
			if len(want.Notes) != 0 {
				t.Errorf("notes %q when the format was right", want.Notes)
			}
		})
	}
}
