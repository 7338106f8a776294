package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/streamreplay/streamreplay/internal/results"
)

func TestShareAddsUpToTotal(t *testing.T) {
	for _, tc := range []struct {
		total   int64
		workers int32
		want    []int64
	}{
		{total: 10, workers: 4, want: []int64{3, 3, 2, 2}},
		{total: 4, workers: 4, want: []int64{1, 1, 1, 1}},
		{total: 5000, workers: 3, want: []int64{1667, 1667, 1666}},
		{total: 0, workers: 2, want: []int64{0, 0}},
	} {
		got := make([]int64, tc.workers)
		for i := range tc.workers {
			got[i] = Share(tc.total, tc.workers, i)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Share(%d, %d, i) mismatch (-want +got):\n%s", tc.total, tc.workers, diff)
		}
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	want := &Plan{
		Role: results.RoleWorker, RunID: "uid-1", LoadTest: "ns/lt", Index: 1, Workers: 2,
		Scenario: Scenario{Type: "Stages", Stages: []Stage{{Duration: metav1.Duration{Duration: time.Minute}, TargetRate: 50}}},
		Duration: metav1.Duration{Duration: time.Minute},
		Samples:  Samples{Path: SamplesDir + "/samples", Format: "JSONLines", Loop: true},
		Kafka:    Kafka{BootstrapServers: []string{"k:9092"}, SASL: &SASL{Mechanism: "PLAIN", UsernameFile: "/u", PasswordFile: "/p"}},
		Target:   Target{Topic: "in", Partitioning: "Key", Acks: "All", Compression: "None"},
	}
	raw, err := want.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
}

func TestDecodeRejects(t *testing.T) {
	for name, tc := range map[string]struct{ raw, wantErr string }{
		"not json":      {raw: "{", wantErr: "is not a valid plan"},
		"bad role":      {raw: `{"role":"x","runID":"r","workers":1,"kafka":{"bootstrapServers":["k:1"]}}`, wantErr: `role "x"`},
		"no run id":     {raw: `{"role":"worker","workers":1,"kafka":{"bootstrapServers":["k:1"]}}`, wantErr: "runID is empty"},
		"no brokers":    {raw: `{"role":"worker","runID":"r","workers":1}`, wantErr: "bootstrapServers is empty"},
		"index too big": {raw: `{"role":"worker","runID":"r","index":2,"workers":2,"kafka":{"bootstrapServers":["k:1"]}}`, wantErr: "index 2 is out of range for 2 workers"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(tc.raw)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Decode(%q) error = %v, want it to contain %q", tc.raw, err, tc.wantErr)
			}
		})
	}
}
