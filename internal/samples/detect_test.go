package samples

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

var (
	kcatSample = lines(
		`{"topic":"dbserver1.crm.dbo.customers","partition":1,"offset":10,"tstype":"create","ts":1714564800123,"broker":0,"headers":["op","c"],"key":"{\"id\":1}","payload":"{\"n\":1}"}`,
		`{"topic":"dbserver1.crm.dbo.customers","partition":0,"offset":11,"tstype":"create","ts":1714564800456,"broker":0,"headers":null,"key":"{\"id\":2}","payload":null}`)
	jsonlSample = lines(`{"key":"a","value":{"n":1},"timestamp":"2024-05-01T12:00:00Z"}`, `{"keyBase64":"YQ==","value":"x"}`)
)

// TestDetectFormat: with Auto (or no format) each file is read in the format of its
// first record, plain or gzip, and the set's notes say which.
func TestDetectFormat(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		real Format
	}{
		{"kcat -J output", []byte(kcatSample), streamreplayv1alpha1.SampleFormatKcat},
		{"JSON Lines", []byte(jsonlSample), streamreplayv1alpha1.SampleFormatJSONLines},
		{"gzip kcat -J output", gz(t, []byte(kcatSample)), streamreplayv1alpha1.SampleFormatKcat},
		{"gzip JSON Lines after a comment and a blank line", gz(t, []byte("# recorded by hand\n\n"+jsonlSample)), streamreplayv1alpha1.SampleFormatJSONLines},
		{"fields both formats share", []byte(lines(`{"key":"a","topic":"t","partition":2}`, `{"key":"b","value":"v"}`)), streamreplayv1alpha1.SampleFormatJSONLines},
	} {
		for _, asked := range []Format{streamreplayv1alpha1.SampleFormatAuto, ""} {
			t.Run(tc.name+"/"+string(asked), func(t *testing.T) {
				want, err := Parse(strings.NewReader(string(tc.in)), tc.real, "s")
				if err != nil {
					t.Fatal(err)
				}
				got, err := Parse(strings.NewReader(string(tc.in)), asked, "s")
				if err != nil {
					t.Fatalf("Parse with format %q: %v", asked, err)
				}
				if diff := cmp.Diff(want.Records, got.Records); diff != "" {
					t.Errorf("records (-as %s +detected):\n%s", tc.real, diff)
				}
				if wantNote := "s: format " + string(tc.real) + " detected"; len(got.Notes) != 1 || got.Notes[0] != wantNote {
					t.Errorf("notes %q, want [%q]", got.Notes, wantNote)
				}
			})
		}
	}
}

// TestDetectFormatPerFile: a folder may hold files of both formats.
func TestDetectFormatPerFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.json"), []byte(kcatSample))
	writeFile(t, filepath.Join(dir, "b.jsonl.gz"), gz(t, []byte(jsonlSample)))
	set, err := Load(context.Background(), Source{Path: dir, Format: streamreplayv1alpha1.SampleFormatAuto})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(set.Records) != 4 || set.Records[0].Topic != "dbserver1.crm.dbo.customers" || string(set.Records[2].Key) != "a" {
		t.Errorf("records %+v", set.Records)
	}
	want := []string{"a.json: format Kcat detected", "b.jsonl.gz: format JSONLines detected"}
	if diff := cmp.Diff(want, set.Notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
}

// TestDetectFormatErrors: a file whose format cannot be told is refused with its name,
// the line and why.
func TestDetectFormatErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"not JSON", lines("# header", "", "id,name", "1,Ana"),
			[]string{"s.csv: line 3: cannot detect the sample format: the first record is not a JSON object", "JSON Lines or kcat -J output, plain or gzip"}},
		{"neither format", lines(`{"id":1,"name":"Ana"}`),
			[]string{"s.csv: line 1: cannot detect the sample format: the first record is neither JSON Lines (", `unknown field "id"`, "nor kcat -J output (", "set sampleSet.format"}},
		{"a field of each format", lines(`{"value":"x","payload":"y"}`),
			[]string{"s.csv: line 1: cannot detect the sample format", `unknown field "payload"`, `unknown field "value"`}},
		{"the other format on a later line", lines(`{"key":"a","value":"x"}`, `{"key":"b","payload":"y"}`),
			[]string{"s.csv", "line 2", `unknown field "payload"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.in), streamreplayv1alpha1.SampleFormatAuto, "s.csv")
			if err == nil {
				t.Fatal("Parse accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if _, err := Parse(strings.NewReader(jsonlSample), "XML", "s"); err == nil || !strings.Contains(err.Error(), `unknown sample format "XML" (want "Auto", "JSONLines" or "Kcat")`) {
		t.Errorf("Parse with format XML = %v", err)
	}
}
