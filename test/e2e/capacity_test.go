package e2e

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/capacity"
	"github.com/streamreplay/streamreplay/internal/sandbox"
)

// capacitySearch applies the manifest, waits for the search's verdict and checks that
// status, probes.json and the verdict agree: the figure is what capacity.Next makes of
// the probes stored, cut to an integer. It returns the capacity, the factor and the probes.
func capacitySearch(t *testing.T, path, name, phase string, begin time.Time) (int64, streamreplayv1alpha1.LimitingFactor, []capacity.Record) {
	t.Helper()
	mustKubectl(t, "apply", "--server-side", "-f", path)
	waitPhase(t, name, phase)
	t.Logf("the search took %s", time.Since(begin).Round(time.Second))

	raw := mustKubectl(t, "get", "configmap", name+"-results", "-o", `jsonpath={.data.probes\.json}`)
	records, err := capacity.DecodeRecords(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		t.Logf("probe %d: %s", r.Probe, r.AsProbe())
	}
	got, err := strconv.ParseInt(jsonpath(t, name, "{.status.capacity}"), 10, 64)
	if err != nil {
		t.Fatalf("status.capacity: %v", err)
	}
	factor := streamreplayv1alpha1.LimitingFactor(jsonpath(t, name, "{.status.limitingFactor}"))

	var c struct{ start, max int64 }
	c.start, _ = strconv.ParseInt(jsonpath(t, name, "{.spec.capacity.startRate}"), 10, 64)
	c.max, _ = strconv.ParseInt(jsonpath(t, name, "{.spec.capacity.maxRate}"), 10, 64)
	precision, _ := strconv.ParseFloat(jsonpath(t, name, "{.spec.capacity.precision}"), 64)
	hold, _ := time.ParseDuration(jsonpath(t, name, "{.spec.capacity.probeDuration}"))
	drain, _ := time.ParseDuration(jsonpath(t, name, "{.spec.capacity.drainTimeout}"))
	b := capacity.Bounds{StartRate: float64(c.start), MaxRate: float64(c.max), Precision: precision, Hold: hold, Drain: drain,
		MinRate: max(1, float64(c.start)/1024)}
	_, res := capacity.Next(b, capacity.Probes(records))
	if !res.Done {
		t.Fatalf("probes.json holds %d probes and the search is not done by them", len(records))
	}
	if want := int64(math.Floor(res.Capacity)); got != want || factor != res.Factor {
		t.Errorf("status says %d/s limited by %s; the probes stored say %d/s limited by %s", got, factor, want, res.Factor)
	}
	message := jsonpath(t, name, "{.status.message}")
	if !strings.Contains(message, "limited by "+string(factor)) {
		t.Errorf("the verdict's message does not name the limit %s: %q", factor, message)
	}
	table := mustKubectl(t, "get", "loadtests", name)
	if !strings.Contains(table, "CAPACITY") || !strings.Contains(table, strconv.FormatInt(got, 10)) {
		t.Errorf("kubectl get loadtests does not show the capacity %d:\n%s", got, table)
	}
	return got, factor, records
}

// Against the pipeline capped at 300 records/s, the search reports 285 to 315, limited
// by the pipeline, and passes minCapacity 250.
func TestCapacitySearchFindsTheCappedPipeline(t *testing.T) {
	const name = "crm-cdc-capacity"
	applySamples(t)
	got, factor, records := capacitySearch(t, filepath.Join(repoRoot, sandbox.CapacityManifest), name, "Passed", time.Now())
	if got < 285 || got > 315 || factor != streamreplayv1alpha1.LimitingPipeline {
		t.Errorf("capacity %d/s limited by %s; want 285 to 315, limited by Pipeline (the pipeline takes %d/s)", got, factor, sandbox.SlowPipelineRate)
	}
	if !strings.Contains(jsonpath(t, name, "{.status.message}"), "minCapacity: measured") {
		t.Errorf("the verdict does not name minCapacity: %q", jsonpath(t, name, "{.status.message}"))
	}
	for _, r := range records {
		if r.Sustained && r.SentRate > 330 {
			t.Errorf("probe %d at %d/s held against a pipeline capped at 300/s", r.Probe, r.SentRate)
		}
	}
}

// Against the example pipeline without a cap, the search reports a figure and what
// limited it on this machine: whichever it is, status and probes.json agree, and a
// Generator limit is never reported as the pipeline's.
func TestCapacitySearchOnTheUncappedPipeline(t *testing.T) {
	const name = "crm-cdc-capacity-fast"
	applySamples(t)
	data, err := os.ReadFile(filepath.Join(repoRoot, sandbox.CapacityManifest))
	if err != nil {
		t.Fatal(err)
	}
	spec := strings.NewReplacer("name: crm-cdc-capacity\n", "name: "+name+"\n",
		"crm.cdc.slow", "crm.cdc", "crm-enricher-slow", "crm-enricher", "minCapacity: 250", "minCapacity: 1").Replace(string(data))
	path := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(path, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	mustKubectl(t, "apply", "--server-side", "-f", path)
	// Passed or Failed (a Generator limit below minCapacity fails): wait for either.
	var phase string
	if err := wait.PollUntilContextTimeout(context.Background(), time.Second, 4*time.Minute, true, func(context.Context) (bool, error) {
		phase = jsonpath(t, name, "{.status.phase}")
		return phase == "Passed" || phase == "Failed" || phase == "Error" || phase == "Aborted", nil
	}); err != nil {
		t.Fatalf("LoadTest %s did not finish: phase %q, message %q", name, phase, jsonpath(t, name, "{.status.message}"))
	}
	got, factor, records := capacitySearch(t, path, name, phase, begin)
	t.Logf("uncapped pipeline: %d/s limited by %s after %d probes (%s)", got, factor, len(records), phase)
	switch factor {
	case streamreplayv1alpha1.LimitingMaxRate:
		if last := records[len(records)-1]; !last.Sustained || last.SentRate != 3200 || got > 3200 || got <= 0 {
			t.Errorf("limited by MaxRate at %d/s, yet the last probe %+v is not a sustained one at maxRate 3200/s", got, last)
		}
	case streamreplayv1alpha1.LimitingPipeline, streamreplayv1alpha1.LimitingBroker, streamreplayv1alpha1.LimitingGenerator:
		if got <= 0 || got > 3200 {
			t.Errorf("capacity %d/s outside (0, 3200]", got)
		}
	default:
		t.Errorf("limitingFactor %q is not one of Pipeline, Broker, Generator, MaxRate", factor)
	}
	if factor == streamreplayv1alpha1.LimitingGenerator && !strings.Contains(jsonpath(t, name, "{.status.message}"), "add workers") {
		t.Errorf("a Generator limit must say to add workers: %q", jsonpath(t, name, "{.status.message}"))
	}
}
