package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// The PrometheusRule of config/prometheus must only query what streamreplay exports (the
// dashboard's checker, over the metrics of a real worker, observer and manager collector),
// its annotations must only show labels its expressions keep, and its phases must be
// phases of the API. Its objects carry kube-prometheus-stack's release label, which an
// overlay can change.

const defaultRelease = "kube-prometheus-stack"

type alertRule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// annotationLabel is a {{ $labels.name }} reference of an alert's annotation.
var annotationLabel = regexp.MustCompile(`\{\{\s*\$labels\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// phaseMatcher is a phase="X" or phase=~"X|Y" matcher.
var phaseMatcher = regexp.MustCompile(`\bphase\s*=~?\s*"([^"]*)"`)

var apiPhases = []streamreplayv1alpha1.Phase{
	streamreplayv1alpha1.PhasePending, streamreplayv1alpha1.PhaseStarting, streamreplayv1alpha1.PhaseRunning,
	streamreplayv1alpha1.PhaseDraining, streamreplayv1alpha1.PhasePassed, streamreplayv1alpha1.PhaseFailed,
	streamreplayv1alpha1.PhaseError, streamreplayv1alpha1.PhaseAborted,
}

// alertRules renders config/prometheus and returns its alerting rules.
func alertRules(t *testing.T) []alertRule {
	t.Helper()
	var rules []alertRule
	for _, o := range kustomize(t, repoPath("config", "prometheus")) {
		if got := o.GetLabels()["release"]; got != defaultRelease {
			t.Errorf("%s has the release label %q, want %q (kube-prometheus-stack's selectors)", describe(o), got, defaultRelease)
		}
		if o.GetKind() != "PrometheusRule" {
			continue
		}
		raw, err := json.Marshal(o.Object["spec"])
		if err != nil {
			t.Fatal(err)
		}
		var spec struct {
			Groups []struct {
				Name  string      `json:"name"`
				Rules []alertRule `json:"rules"`
			} `json:"groups"`
		}
		if err := json.Unmarshal(raw, &spec); err != nil {
			t.Fatalf("decoding %s: %v", describe(o), err)
		}
		for _, g := range spec.Groups {
			rules = append(rules, g.Rules...)
		}
	}
	if len(rules) == 0 {
		t.Fatal("config/prometheus renders no PrometheusRule with rules")
	}
	return rules
}

func TestAlertsQueryExportedMetrics(t *testing.T) {
	metrics := exportedMetrics(t)
	rules := alertRules(t)
	byName := map[string]alertRule{}
	for _, r := range rules {
		where := "alert " + r.Alert
		if r.Alert == "" {
			t.Errorf("a rule with expression %q has no alert name", r.Expr)
			continue
		}
		byName[r.Alert] = r
		if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("%s needs a severity label, a summary and a description", where)
		}
		q, problems := checkQuery(r.Expr, metrics)
		shown := resultLabels(q, metrics)
		for _, a := range []string{r.Annotations["summary"], r.Annotations["description"]} {
			for _, m := range annotationLabel.FindAllStringSubmatch(a, -1) {
				if !shown[m[1]] {
					problems = append(problems, "the annotations show $labels."+m[1]+", which the expression's result does not have (it has "+strings.Join(sortedKeys(shown), ", ")+")")
				}
			}
		}
		for _, m := range phaseMatcher.FindAllStringSubmatch(r.Expr, -1) {
			for _, p := range strings.Split(m[1], "|") {
				if !slices.Contains(apiPhases, streamreplayv1alpha1.Phase(p)) {
					problems = append(problems, "phase "+p+" is not a phase of the API")
				}
			}
		}
		for _, p := range problems {
			t.Errorf("%s: %s\n\t%s", where, p, r.Expr)
		}
	}
	// The alerts the project promises (docs/design.md), found by what they query.
	for name, needle := range map[string]string{
		"StreamreplayLoadTestFailed":        `streamreplay_loadtest_status{phase="Failed"}`,
		"StreamreplayLoadTestErrored":       `streamreplay_loadtest_status{phase="Error"}`,
		"StreamreplayLoadTestStuckStarting": "time() - max by (namespace, loadtest, phase) (streamreplay_loadtest_start_deadline_timestamp_seconds)",
		"StreamreplayWorkersBehindSchedule": "streamreplay_worker_behind_schedule_seconds",
	} {
		if r, ok := byName[name]; !ok || !strings.Contains(r.Expr, needle) {
			t.Errorf("no alert %s querying %s (got %q)", name, needle, r.Expr)
		}
	}
}

// TestAlertCheckCatchesMistakes: the checks above reject a wrong metric, label or phase.
func TestAlertCheckCatchesMistakes(t *testing.T) {
	metrics := exportedMetrics(t)
	for _, c := range []struct{ expr, want string }{
		{`max by (namespace, loadtest) (streamreplay_loadtest_status{phase="Failed"}) > 0`, ""},
		{`max by (namespace, name) (streamreplay_loadtest_status) > 0`, "has no label name"},
		{`streamreplay_loadtest_phase{phase="Failed"} > 0`, "is not exported"},
		{`max by (namespace, loadtest) (streamreplay_loadtest_status{result="Fail"}) > 0`, "has no label result"},
	} {
		_, problems := checkQuery(c.expr, metrics)
		got := strings.Join(problems, "; ")
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s: problems %q, want %q", c.expr, got, c.want)
		}
	}
	if m := phaseMatcher.FindStringSubmatch(`x{phase=~"Failed|Errored"}`); m == nil || slices.Contains(apiPhases, "Errored") {
		t.Errorf("the phase check does not see phase=~\"Failed|Errored\": %v", m)
	}
}

// TestManagerMonitorHonorsLabels: the manager's LoadTest metrics keep the LoadTest's
// namespace label; without honorLabels, Prometheus would overwrite it with the manager's.
func TestManagerMonitorHonorsLabels(t *testing.T) {
	for _, o := range kustomize(t, repoPath("config", "prometheus")) {
		if o.GetKind() != "ServiceMonitor" {
			continue
		}
		endpoints, _ := o.Object["spec"].(map[string]any)["endpoints"].([]any)
		if len(endpoints) == 0 {
			t.Fatalf("%s has no endpoints", describe(o))
		}
		for i, e := range endpoints {
			if honor, _ := e.(map[string]any)["honorLabels"].(bool); !honor {
				t.Errorf("%s endpoint %d: honorLabels is not true, so the LoadTest metrics' namespace label becomes exported_namespace", describe(o), i)
			}
		}
		return
	}
	t.Fatal("config/prometheus has no ServiceMonitor for the manager")
}

// TestReleaseLabelOverlay: an overlay sets another release label on every object.
func TestReleaseLabelOverlay(t *testing.T) {
	dir := t.TempDir()
	base, err := filepath.Abs(repoPath("config", "prometheus"))
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(dir, base)
	if err != nil {
		t.Fatal(err)
	}
	overlay := "resources:\n- " + rel + "\nlabels:\n- pairs:\n    release: monitoring\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(overlay), 0o600); err != nil {
		t.Fatal(err)
	}
	objs := kustomize(t, dir)
	kinds := map[string]bool{}
	for _, o := range objs {
		kinds[o.GetKind()] = true
		if got := o.GetLabels()["release"]; got != "monitoring" {
			t.Errorf("%s has release %q in the overlay, want monitoring", describe(o), got)
		}
	}
	for _, k := range []string{"ServiceMonitor", "PodMonitor", "PrometheusRule"} {
		if !kinds[k] {
			t.Errorf("the overlay renders no %s", k)
		}
	}
}
