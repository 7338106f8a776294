package runheaders

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func lookupIn(h map[string]string) Lookup {
	return func(k string) ([]byte, bool) {
		v, ok := h[k]
		return []byte(v), ok
	}
}

func TestParse(t *testing.T) {
	at := time.Unix(0, 1764064800123456789)
	for name, tc := range map[string]struct {
		headers map[string]string
		want    Meta
		wantOK  bool
	}{
		"all": {
			headers: map[string]string{RunID: "uid-1", Worker: "3", Sequence: "42", Intended: string(AppendInt(nil, at.UnixNano()))},
			want:    Meta{RunID: "uid-1", Worker: 3, Sequence: 42, Intended: at}, wantOK: true,
		},
		"no run id":           {headers: map[string]string{Worker: "3"}, wantOK: false},
		"empty run id":        {headers: map[string]string{RunID: ""}, wantOK: false},
		"malformed rest":      {headers: map[string]string{RunID: "uid-1", Worker: "x", Sequence: "-", Intended: "soon"}, want: Meta{RunID: "uid-1"}, wantOK: true},
		"run id alone counts": {headers: map[string]string{RunID: "uid-2"}, want: Meta{RunID: "uid-2"}, wantOK: true},
	} {
		t.Run(name, func(t *testing.T) {
			got, ok := Parse(lookupIn(tc.headers))
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
