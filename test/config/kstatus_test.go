package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// kstatusResult is the part of kstatus' result that Flux reports.
type kstatusResult struct {
	Status  status.Status
	Message string
}

func computeKstatus(t *testing.T, obj *unstructured.Unstructured) kstatusResult {
	t.Helper()
	res, err := status.Compute(obj)
	if err != nil {
		t.Fatalf("kstatus of %s: %v", describe(obj), err)
	}
	return kstatusResult{Status: res.Status, Message: res.Message}
}

// TestKstatusOfFixtures computes kstatus for the Argo CD fixtures, which hold the status the
// controller writes in each phase (controllers/status.go: Reconciling=True while the run goes
// on; Ready=True on Passed; Ready=False and Stalled=True on Failed, Error and Aborted; every
// condition and status.observedGeneration at the LoadTest's generation).
// TestKstatusOfControllerRuns checks the same on LoadTests the real controller drove.
func TestKstatusOfFixtures(t *testing.T) {
	const notObserved = "LoadTest generation is 2, but latest observed generation is 1"
	cases := []struct {
		file string
		want kstatusResult
	}{
		// Known gap, not the controller's doing: before the operator's first status write
		// the object has no status.observedGeneration and no conditions, and kstatus calls
		// such an object Current. docs/gitops.md says how Flux users close the gap.
		{"no-status.yaml", kstatusResult{status.CurrentStatus, "Resource is current"}},
		{"pending.yaml", kstatusResult{status.InProgressStatus, "accepted; creating the pods"}},
		{"starting.yaml", kstatusResult{status.InProgressStatus, "created 5 pods and ConfigMap crm-cdc-peak-results; waiting for the pods to be Ready"}},
		{"running.yaml", kstatusResult{status.InProgressStatus, "all 5 pods Ready; starting at 2026-11-25T10:00:07Z"}},
		{"draining.yaml", kstatusResult{status.InProgressStatus, "the workers finished; the observer drains the DLQ and the output topic"}},
		{"passed.yaml", kstatusResult{status.CurrentStatus, "Resource is Ready"}},
		{"failed.yaml", kstatusResult{status.FailedStatus, "thresholds not met: maxDLQRecords: measured 17, limit 0; maxP99Latency: measured 1.9s, limit 250ms"}},
		{"error.yaml", kstatusResult{status.FailedStatus, "pod crm-cdc-peak-worker-2 failed: exit code 1: connecting to kafka-0.kafka:9092: dial tcp: lookup kafka-0.kafka: no such host"}},
		{"aborted.yaml", kstatusResult{status.FailedStatus, "stopped on request; the results are partial"}},
		{"generation-not-observed.yaml", kstatusResult{status.InProgressStatus, notObserved}},
		{"passed-generation-not-observed.yaml", kstatusResult{status.InProgressStatus, notObserved}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			obj := readObject(t, repoPath("config", "argocd", "testdata", tc.file))
			if diff := cmp.Diff(tc.want, computeKstatus(t, obj)); diff != "" {
				t.Errorf("kstatus (-want +got):\n%s", diff)
			}
		})
	}

	// Every fixture is covered here too.
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.file] = true
	}
	for _, file := range fixtureFiles(t) {
		if !covered[file] {
			t.Errorf("fixture %s has no kstatus expectation", file)
		}
	}
}
