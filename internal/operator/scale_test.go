package operator

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultScale(t *testing.T) {
	type scale struct {
		Budget  time.Duration
		Workers int
	}
	for _, tc := range []struct {
		name    string
		in      Options
		want    scale
		wantErr string
	}{
		{name: "defaults", in: Options{SignalTimeout: 2 * time.Second}, want: scale{DefaultSignalBudget, DefaultMaxConcurrentReconciles}},
		{name: "budget follows a long timeout", in: Options{SignalTimeout: 10 * time.Second}, want: scale{10 * time.Second, DefaultMaxConcurrentReconciles}},
		{name: "given", in: Options{SignalTimeout: time.Second, SignalBudget: time.Second, MaxConcurrentReconciles: 1}, want: scale{time.Second, 1}},
		{name: "budget below timeout", in: Options{SignalTimeout: 2 * time.Second, SignalBudget: time.Second}, wantErr: "--signal-budget=1s is shorter than --signal-timeout=2s"},
		{name: "negative budget", in: Options{SignalBudget: -time.Second}, wantErr: "--signal-budget=-1s"},
		{name: "negative workers", in: Options{MaxConcurrentReconciles: -1}, wantErr: "--max-concurrent-reconciles=-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.in
			err := o.defaultScale()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, scale{o.SignalBudget, o.MaxConcurrentReconciles}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
