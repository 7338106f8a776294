package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/streamreplay/streamreplay/internal/results"
)

// TestSummaryNeverRoundsUp: the status summary cuts figures instead of rounding them, so
// that a run never reads better than it went.
func TestSummaryNeverRoundsUp(t *testing.T) {
	for _, tc := range []struct {
		rate, ratio         float64
		wantRate, wantRatio string
	}{
		{rate: 99.96, ratio: 0.99996, wantRate: "99.9", wantRatio: "0.9999"},
		{rate: 100, ratio: 1, wantRate: "100.0", wantRatio: "1.0000"},
		{rate: 950, ratio: 0.95, wantRate: "950.0", wantRatio: "0.9500"},
		{rate: 0, ratio: 0, wantRate: "0.0", wantRatio: "0.0000"},
	} {
		got := summarize(&results.Document{AchievedRate: tc.rate, AchievedRateRatio: tc.ratio})
		if diff := cmp.Diff([]string{tc.wantRate, tc.wantRatio}, []string{got.AchievedRate, got.AchievedRateRatio}); diff != "" {
			t.Errorf("rate %v, ratio %v (-want +got):\n%s", tc.rate, tc.ratio, diff)
		}
	}
}
