package record

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamreplay/streamreplay/internal/samples"
)

func TestImportConsole(t *testing.T) {
	f := DefaultConsoleFormat()
	f.Topic = "orders"
	in := "CreateTime:1796025601000\ttrace:t1,auth:Bearer x\tcust-1\t{\"a\":\"x\\ty\"}\twith a tab\n" +
		"LogAppendTime:1796025602000\tNO_HEADERS\tnull\tplain\n" +
		"NO_TIMESTAMP\tempty:\tcust-2\tnull\n"
	recs, err := ImportConsole(strings.NewReader(in), f)
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{Topic: "orders", Partition: -1, Offset: -1, Line: 1, Timestamp: time.UnixMilli(1796025601000).UTC(), Key: []byte("cust-1"),
			Value: []byte("{\"a\":\"x\\ty\"}\twith a tab"), Headers: []samples.Header{{Key: "trace", Value: []byte("t1")}, {Key: "auth", Value: []byte("Bearer x")}}},
		{Topic: "orders", Partition: -1, Offset: -1, Line: 2, Timestamp: time.UnixMilli(1796025602000).UTC(), Value: []byte("plain")},
		{Topic: "orders", Partition: -1, Offset: -1, Line: 3, Key: []byte("cust-2"), Headers: []samples.Header{{Key: "empty", Value: []byte{}}}},
	}
	if d := cmp.Diff(want, recs); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestImportConsoleOtherColumnsAndSeparators(t *testing.T) {
	f := ConsoleFormat{Partition: true, Offset: true, Key: true, KeySeparator: "|", NullLiteral: "<nil>"}
	recs, err := ImportConsole(strings.NewReader("Partition:2|Offset:17|k|<nil>\n"), f)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]Record{{Partition: 2, Offset: 17, Line: 1, Key: []byte("k")}}, recs); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestImportConsoleErrorsNameTheLines(t *testing.T) {
	in := "CreateTime:1\tNO_HEADERS\tk\tv\n" +
		"1796025601000\tNO_HEADERS\tk\tv\n" + // no CreateTime: prefix
		"CreateTime:1\tbroken\tk\tv\n" + // header without a separator
		"CreateTime:1\tNO_HEADERS\tk\n" // the key without its separator: no value
	_, err := ImportConsole(strings.NewReader(in), DefaultConsoleFormat())
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`line 2: timestamp column "1796025601000": want CreateTime:MILLIS`,
		`line 3: header 1 "broken": want NAME:VALUE`,
		`line 4: no key column`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v\ndoes not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "line 1") {
		t.Errorf("line 1 is good: %v", err)
	}
	var many strings.Builder
	for range 25 {
		many.WriteString("bad\n")
	}
	_, err = ImportConsole(strings.NewReader(many.String()), DefaultConsoleFormat())
	if err == nil || !strings.Contains(err.Error(), "line 20:") || strings.Contains(err.Error(), "line 21:") || !strings.Contains(err.Error(), "and 5 more bad lines") {
		t.Errorf("25 bad lines: %v", err)
	}
	if _, err := ImportConsole(strings.NewReader(""), DefaultConsoleFormat()); err == nil || !strings.Contains(err.Error(), "no record") {
		t.Errorf("empty input: %v", err)
	}
}
