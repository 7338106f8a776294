package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamreplay/streamreplay/internal/sandbox"
)

// earlyStopManifest writes a copy of a shipped manifest renamed to name, with
// spec.earlyStop and the edits given (old, new pairs).
func earlyStopManifest(t *testing.T, shipped, from, name string, edits ...string) string {
	t.Helper()
	return editedManifest(t, shipped, from, name, append(edits, "  thresholds:\n", "  earlyStop:\n    window: 10s\n  thresholds:\n")...)
}

// TestEarlyStopOnTheCappedPipeline: 1,000 records/s for 5 minutes into the pipeline
// capped at 300 records/s, with maxConsumerLag the only pipeline threshold. The lag
// passes its limit within seconds and keeps growing; the run ends Failed within 15 s of
// the breach the observer recorded (status: the EarlyStopped condition's "+Ns" from the
// start time), naming maxConsumerLag, instead of running 5 minutes.
func TestEarlyStopOnTheCappedPipeline(t *testing.T) {
	const name = "crm-cdc-early-stop"
	applySamples(t)
	path := earlyStopManifest(t, sandbox.SlowDemoManifest, "crm-cdc-demo-slow", name,
		"duration: 20s\n", "duration: 5m\n",
		"    maxDLQRecords: 500\n", "",
		"    maxEndToEndP99Latency: 2s\n", "")
	mustKubectl(t, "apply", "--server-side", "-f", path)
	waitPhase(t, name, "Failed")

	reason := jsonpath(t, name, `{.status.conditions[?(@.type=="EarlyStopped")].reason}`)
	condMessage := jsonpath(t, name, `{.status.conditions[?(@.type=="EarlyStopped")].message}`)
	if reason != "MaxConsumerLag" {
		t.Fatalf("EarlyStopped reason %q (message %q), want MaxConsumerLag", reason, condMessage)
	}
	m := regexp.MustCompile(`^stopped early at \+(\d+)s on maxConsumerLag: lag \d+ > 5000 for \d+s and growing`).FindStringSubmatch(condMessage)
	if m == nil {
		t.Fatalf("EarlyStopped message %q does not say when and on which threshold", condMessage)
	}
	at, _ := strconv.Atoi(m[1])
	start, err := time.Parse(time.RFC3339Nano, jsonpath(t, name, "{.status.startTime}"))
	if err != nil {
		t.Fatal(err)
	}
	completed, err := time.Parse(time.RFC3339, jsonpath(t, name, "{.status.completionTime}"))
	if err != nil {
		t.Fatal(err)
	}
	// The breach's "+Ns" is rounded to the second and completionTime cut to it: allow 1s.
	breach := start.Add(time.Duration(at) * time.Second)
	if took := completed.Sub(breach); took > 16*time.Second {
		t.Errorf("ended %s after the breach at +%ds, want within 15s", took, at)
	}
	t.Logf("breach at +%ds; ended Failed %s after the breach, %s after the start of a 5m run (both to the second)",
		at, completed.Sub(breach).Round(time.Second), completed.Sub(start).Round(time.Second))
	message := jsonpath(t, name, "{.status.message}")
	for _, want := range []string{"stopped early at +" + m[1] + "s on maxConsumerLag", "maxConsumerLag: measured"} {
		if !strings.Contains(message, want) {
			t.Errorf("message %q does not contain %q", message, want)
		}
	}
	if got := jsonpath(t, name, "{.status.verdict}"); got != "Fail" {
		t.Errorf("verdict %q, want Fail", got)
	}
	summary := mustKubectl(t, "get", "configmap", name+"-results", "-o", `jsonpath={.data.summary\.txt}`)
	if !strings.Contains(summary, "stopped early at +"+m[1]+"s on maxConsumerLag") {
		t.Errorf("summary.txt does not say it stopped early:\n%s", summary)
	}
	events := mustKubectl(t, "get", "events", "--field-selector", "involvedObject.name="+name, "-o", "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}")
	if !strings.Contains(events, "EarlyStopped: The run stopped early at +"+m[1]+"s on maxConsumerLag") {
		t.Errorf("no EarlyStopped event naming the moment and the threshold:\n%s", events)
	}
}

// TestEarlyStopKeepsAHealthyRunPassing: the demo against the pipeline that keeps up, with
// spec.earlyStop: it is never stopped and passes.
func TestEarlyStopKeepsAHealthyRunPassing(t *testing.T) {
	const name = "crm-cdc-early-stop-healthy"
	applySamples(t)
	mustKubectl(t, "apply", "--server-side", "-f", earlyStopManifest(t, sandbox.DemoManifest, "crm-cdc-demo", name, relaxedAckLatency...))
	waitPhase(t, name, "Passed")
	if c := jsonpath(t, name, `{.status.conditions[?(@.type=="EarlyStopped")]}`); c != "" {
		t.Errorf("EarlyStopped condition %s on a healthy run", c)
	}
	if got := jsonpath(t, name, "{.status.verdict}"); got != "Pass" {
		t.Errorf("verdict %q, want Pass", got)
	}
}
