package controllers_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/test/fakepods"
)

// TestLoadTestMetrics reads the manager's metrics registry (what its /metrics serves) while
// a LoadTest goes through Starting and ends Failed: one status series with the current phase
// and verdict, and the start deadline only while the run has not started.
func TestLoadTestMetrics(t *testing.T) {
	h := newHarness(t)
	lt := newLoadTest("metrics-run", 2)
	h.create(lt)
	starting := h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseStarting)

	// Defaults: podsReady 5m; newLoadTest sets start to 2s.
	deadline := starting.CreationTimestamp.Add(5*time.Minute + 2*time.Second)
	expectMetrics(t, fmt.Sprintf(`
# HELP streamreplay_loadtest_start_deadline_timestamp_seconds While a LoadTest is Pending or Starting: when the operator must have started it or ended it in Error (creation + timeouts.podsReady + timeouts.start), Unix seconds.
# TYPE streamreplay_loadtest_start_deadline_timestamp_seconds gauge
streamreplay_loadtest_start_deadline_timestamp_seconds{loadtest="metrics-run",namespace="%[1]s",phase="Starting"} %[2]s
# HELP streamreplay_loadtest_status 1 for each LoadTest, labelled with its phase and its verdict (empty until it finishes).
# TYPE streamreplay_loadtest_status gauge
streamreplay_loadtest_status{loadtest="metrics-run",namespace="%[1]s",phase="Starting",verdict=""} 1
`, h.namespace, strconv.FormatFloat(float64(deadline.Unix()), 'f', -1, 64)))

	h.readyAll(lt.Name, 3)
	running := h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseRunning)
	h.finishRun(running, fakepods.Worker{Scheduled: 5000, Acked: 5000, Latencies: []time.Duration{400 * time.Millisecond}}, 17)
	h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseFailed)
	expectMetrics(t, fmt.Sprintf(`
# HELP streamreplay_loadtest_status 1 for each LoadTest, labelled with its phase and its verdict (empty until it finishes).
# TYPE streamreplay_loadtest_status gauge
streamreplay_loadtest_status{loadtest="metrics-run",namespace="%s",phase="Failed",verdict="Fail"} 1
`, h.namespace))
}

// expect waits until the manager's registry serves exactly want for the LoadTest metrics
// (the cache may lag the API server by a moment).
func expectMetrics(t *testing.T, want string) {
	t.Helper()
	fakepods.Eventually(t, "the LoadTest metrics", 10*time.Second, func() error {
		return testutil.GatherAndCompare(metrics.Registry, strings.NewReader(want),
			controllers.MetricLoadTestStatus, controllers.MetricLoadTestStartDeadline)
	})

}
