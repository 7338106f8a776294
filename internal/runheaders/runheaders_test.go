package runheaders

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// read sets the headers, given as key, value pairs, in order.
func read(kv ...string) Fields {
	var f Fields
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], []byte(kv[i+1]))
	}
	return f
}

func TestFieldsMeta(t *testing.T) {
	at := time.Unix(0, 1764064800123456789)
	for name, tc := range map[string]struct {
		headers []string
		want    Meta
		wantOK  bool
	}{
		"all": {
			headers: []string{RunID, "uid-1", Worker, "3", Sequence, "42", Intended, string(AppendInt(nil, at.UnixNano()))},
			want:    Meta{RunID: "uid-1", Worker: 3, Sequence: 42, Intended: at}, wantOK: true,
		},
		"no run id":           {headers: []string{Worker, "3"}, wantOK: false},
		"empty run id":        {headers: []string{RunID, ""}, wantOK: false},
		"malformed rest":      {headers: []string{RunID, "uid-1", Worker, "x", Sequence, "-", Intended, "soon"}, want: Meta{RunID: "uid-1"}, wantOK: true},
		"overflow":            {headers: []string{RunID, "uid-1", Intended, "99999999999999999999"}, want: Meta{RunID: "uid-1"}, wantOK: true},
		"run id alone counts": {headers: []string{RunID, "uid-2"}, want: Meta{RunID: "uid-2"}, wantOK: true},
		"last repeated wins": {
			headers: []string{RunID, "other", Sequence, "1", RunID, "uid-3", Sequence, "2"},
			want:    Meta{RunID: "uid-3", Sequence: 2}, wantOK: true,
		},
		"last malformed wins": {headers: []string{RunID, "uid-4", Sequence, "7", Sequence, "x"}, want: Meta{RunID: "uid-4"}, wantOK: true},
		"signed": {
			headers: []string{RunID, "uid-5", Worker, "+4", Sequence, "-9223372036854775808"},
			want:    Meta{RunID: "uid-5", Worker: 4, Sequence: -9223372036854775808}, wantOK: true,
		},
		"similar key ignored": {headers: []string{RunID + "x", "uid-6"}, wantOK: false},
	} {
		t.Run(name, func(t *testing.T) {
			got, ok := read(tc.headers...).Meta()
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Meta mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseDecimalAgreesWithStrconv: the header numbers read as strconv.ParseInt reads them.
func TestParseDecimalAgreesWithStrconv(t *testing.T) {
	for _, s := range []string{
		"0", "7", "+7", "-7", "-0", "", "+", "-", "1x", " 1", "1 ", "0x10", "007", "00000000000000000000", "-000000000000000000001",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"99999999999999999999", "18446744073709551616", "1764064800123456789",
	} {
		want, err := strconv.ParseInt(s, 10, 64)
		got, ok := parseDecimal([]byte(s))
		if ok != (err == nil) || (ok && got != want) {
			t.Errorf("parseDecimal(%q) = %d, %v; strconv.ParseInt says %d, %v", s, got, ok, want, err)
		}
	}
}

// FuzzParseDecimal: the same, for any input.
func FuzzParseDecimal(f *testing.F) {
	f.Add("9223372036854775807")
	f.Add("-12")
	f.Fuzz(func(t *testing.T, s string) {
		want, err := strconv.ParseInt(s, 10, 64)
		got, ok := parseDecimal([]byte(s))
		if ok != (err == nil) || (ok && got != want) {
			t.Errorf("parseDecimal(%q) = %d, %v; strconv.ParseInt says %d, %v", s, got, ok, want, err)
		}
	})
}
