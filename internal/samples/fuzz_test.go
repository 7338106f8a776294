package samples

import (
	"bytes"
	"encoding/json"
	"testing"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

func FuzzParseJSONLines(f *testing.F) {
	for _, s := range []string{
		lines(`{"key":"k1","value":"hello"}`),
		lines(`{"key": {"id": 1} , "value": {"a": [1, 2.5e3, true, null], "b": "x, y: z"}}`),
		lines(`{"key":"a\"b\\c\/d\u00e9\ud83d\ude00\n","value":"\ud800x"}`),
		lines(`{"keyBase64":"AAH/","valueBase64":"3q2+7w=="}`),
		lines(`{"value":"v","headers":{"h1":"a","h2":null}}`, `# comment`, ``),
		lines(`{"value":"v","headers":[{"key":"h1","value":"a"},{"key":"bin","valueBase64":"AP8="}]}`),
		lines(`{"value":"v","timestamp":"2024-05-01T12:00:00.123+02:00","topic":"t","partition":3}`),
		lines(`{"value":"v","timestamp":1714564800123}`),
		"\uFEFF{\"value\":\"a\"}\r\n{\"value\":[[[{}]]]}",
		lines(`{"key":"a",}`, `[1]`, `{"partition":-1}`),
	} {
		f.Add([]byte(s))
	}
	f.Add(debeziumJSONLines(2000))
	f.Add(gz(f, []byte(lines(`{"value":"z"}`))))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, data, streamreplayv1alpha1.SampleFormatJSONLines)
	})
}

func FuzzParseKcat(f *testing.F) {
	for _, s := range []string{
		lines(`{"topic":"orders","partition":2,"offset":17,"tstype":"create","ts":1714564800123,"broker":1,"headers":["h1","v1","h2",null],"key":"k","payload":"{\"a\":1}"}`),
		lines(`{"topic":"t","partition":0,"offset":1,"key":null,"payload":null}`),
		lines(`{"topic":"t","partition":0,"offset":0,"headers":{"h":["1",null]},"key":"k","payload":"v"}`),
		"{\"topic\":\"t\",\"partition\":1,\"key\":\"\xff\",\"payload\":\"a\\u0000\"}\n",
	} {
		f.Add([]byte(s))
	}
	f.Add(debeziumKcat(2000))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, data, streamreplayv1alpha1.SampleFormatKcat)
	})
}

// checkParse parses data (it must not panic) and, on success, checks that
// every record names a line that is valid JSON.
func checkParse(t *testing.T, data []byte, format Format) {
	set, err := Parse(bytes.NewReader(data), format, "f")
	if err != nil {
		if set != nil {
			t.Fatalf("Parse returned a set and the error %v", err)
		}
		return
	}
	if len(set.Records) == 0 {
		t.Fatal("Parse succeeded without records")
	}
	plain := !bytes.HasPrefix(data, gzipMagic)
	ls := bytes.Split(data, []byte("\n"))
	last := 0
	for _, r := range set.Records {
		n := r.Source.Line
		if r.Source.File != "f" || n <= last {
			t.Fatalf("record Source %q does not name a line after line %d", r.Source, last)
		}
		last = n
		if cap(r.Key) != len(r.Key) || cap(r.Value) != len(r.Value) {
			t.Fatalf("line %d: key or value with spare capacity", n)
		}
		if !plain {
			continue
		}
		if n > len(ls) {
			t.Fatalf("record Source %q: the input has %d lines", r.Source, len(ls))
		}
		line := trimBOM(ls[n-1])
		if !json.Valid(line) {
			t.Fatalf("line %d accepted but not valid JSON: %q", n, line)
		}
		if r.Value != nil && format == streamreplayv1alpha1.SampleFormatJSONLines && bytes.Contains(line, []byte(`"value"`)) {
			// A JSON (non-string) value comes back compact, as json.Compact has it.
			var v struct{ Value json.RawMessage }
			if json.Unmarshal(line, &v) == nil && len(v.Value) > 0 && v.Value[0] != '"' && v.Value[0] != 'n' {
				var want bytes.Buffer
				if err := json.Compact(&want, v.Value); err == nil && !bytes.Equal(want.Bytes(), r.Value) {
					t.Fatalf("line %d: value %q, want %q", n, r.Value, want.Bytes())
				}
			}
		}
	}
}
