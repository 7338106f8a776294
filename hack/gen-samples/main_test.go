package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// records returns the uncompressed sample set of a generated manifest.
func records(t *testing.T, manifest string) []byte {
	t.Helper()
	b, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	_, b64, ok := strings.Cut(string(b), "\n  "+dataKey+": ")
	if !ok {
		t.Fatalf("%s: no %s", manifest, dataKey)
	}
	gz, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func summary(t *testing.T, path string) Summary {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	s.GzipBytes, s.ManifestBytes = 0, 0 // compress/flate may change between Go releases
	return s
}

// TestCommittedSamplesAreUpToDate regenerates the shipped sample set with the
// default flags: the records and the summary must be those committed.
func TestCommittedSamplesAreUpToDate(t *testing.T) {
	dir := t.TempDir()
	o := options{out: dir, seed: 1, records: 5000, malformed: 0.01, date: "2026-03-03"}
	var stdout bytes.Buffer
	if err := run(&o, "go run ./hack/gen-samples -out config/samples", &stdout); err != nil {
		t.Fatal(err)
	}
	committed := filepath.Join("..", "..", "config", "samples")
	if !bytes.Equal(records(t, filepath.Join(dir, manifestName)), records(t, filepath.Join(committed, manifestName))) {
		t.Error("the committed sample set differs from the generator's: run go run ./hack/gen-samples -out config/samples")
	}
	got, want := summary(t, filepath.Join(dir, summaryName)), summary(t, filepath.Join(committed, summaryName))
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if !bytes.Equal(gb, wb) {
		t.Errorf("summary differs:\ngenerated %s\ncommitted %s", gb, wb)
	}
	if !strings.Contains(stdout.String(), "malformed by kind: invalid_json 10 missing_payload 10") {
		t.Errorf("printed summary:\n%s", stdout.String())
	}
}

// TestTopicsFlag: -topics names each record's Debezium topic.
func TestTopicsFlag(t *testing.T) {
	dir := t.TempDir()
	o := options{out: dir, seed: 7, records: 300, malformed: 0.02, date: "2026-03-03", topics: true}
	if err := run(&o, "test", io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(records(t, filepath.Join(dir, manifestName)))), "\n")
	if s := summary(t, filepath.Join(dir, summaryName)); len(lines) != 306 || s.Records != 306 || s.Malformed != 6 || !s.TopicPerRecord {
		t.Fatalf("%d lines, summary %+v; want 300 well-formed and 6 malformed records", len(lines), s)
	}
	for _, l := range lines {
		var rec struct{ Topic string }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		switch rec.Topic {
		case "dbserver1.dbo.customers", "dbserver1.dbo.vehicles", "dbserver1.dbo.service_appointments":
		default:
			t.Fatalf("topic %q in %.100s", rec.Topic, l)
		}
	}
}

func TestVINCheckDigit(t *testing.T) {
	// A VIN from the check-digit examples of 49 CFR 565.
	if got := vinCheckDigit([]byte("1M8GDM9AXKP042788")); got != 'X' {
		t.Errorf("check digit %c, want X", got)
	}
}
