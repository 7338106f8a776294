package e2e

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamreplay/streamreplay/internal/report"
	"github.com/streamreplay/streamreplay/internal/sandbox"
)

// TestCompareAPassingRunWithTheCappedPipeline runs the demo against the example pipeline
// and again against the pipeline capped at 300 records/s, then compares the two with
// `kubectl streamreplay compare`, as a user asks "did this release get slower".
func TestCompareAPassingRunWithTheCappedPipeline(t *testing.T) {
	const before, after = "compare-release-1", "compare-release-2"
	applySamples(t)
	mustKubectl(t, "apply", "--server-side", "-f", passingDemo(t, before))
	waitPhase(t, before, "Passed")
	mustKubectl(t, "apply", "--server-side", "-f", manifest(t, sandbox.SlowDemoManifest, "crm-cdc-demo-slow", after))
	waitPhase(t, after, "Failed")

	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "kubectl-streamreplay"), repoRoot+"/cmd/kubectl-streamreplay")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the plugin: %v\n%s", err, out)
	}
	var got report.Comparison
	out := runKubectlPlugin(t, bin, "streamreplay", "compare", before, after, "-n", sandbox.Namespace, "-o", "json")
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("compare -o json: %v\n%s", err, out)
	}
	rows := map[string]report.Row{}
	for _, r := range got.Rows {
		rows[r.Figure] = r
	}
	if r := rows["verdict"]; r.A != "Pass" || r.B != "Fail" {
		t.Errorf("verdict row %+v, want Pass then Fail", r)
	}
	if r := rows["threshold maxConsumerLag"]; !strings.HasPrefix(r.A, "pass: ") || !strings.HasPrefix(r.B, "fail: ") {
		t.Errorf("maxConsumerLag row %+v, want a pass then a fail", r)
	}
	// The capped pipeline falls behind: its lag is worse, by the figures each run measured.
	lag := rows["max consumer lag"]
	if lag.AValue == nil || lag.BValue == nil || *lag.BValue <= *lag.AValue || lag.Change != report.Worse {
		t.Errorf("max consumer lag row %+v, want B above A and marked Worse", lag)
	}
	for _, figure := range []string{"scheduled", "acknowledged"} {
		if r := rows[figure]; r.AValue == nil || r.BValue == nil {
			t.Errorf("row %q has no figure for both runs: %+v", figure, r)
		}
	}

	text := runKubectlPlugin(t, bin, "streamreplay", "compare", before, after, "-n", sandbox.Namespace)
	if !strings.Contains(text, before) || !strings.Contains(text, after) || !strings.Contains(text, "WORSE") {
		t.Errorf("the text comparison names neither run or marks nothing worse:\n%s", text)
	}
}
