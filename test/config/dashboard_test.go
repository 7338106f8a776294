package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/yaml"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/observer"
	"github.com/streamreplay/streamreplay/internal/operator"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/internal/worker"
)

// The Grafana dashboard (config/grafana) must only query what the pods really export: every
// metric its PromQL names is looked up in the registries of a real worker and a real
// observer (and of the Go and process collectors podrun adds to both), and every label it
// filters or groups by must be on that metric, or be a target label Prometheus adds.

const (
	dashboardFile      = "streamreplay.json"
	dashboardConfigMap = "streamreplay-grafana-dashboard"
	// minSchemaVersion is the dashboard schema of Grafana 10.3 and 11 (39); older schemas
	// are migrated by Grafana on load, newer ones are not understood by older Grafanas.
	minSchemaVersion = 39
	datasourceUID    = "${datasource}"
)

// dashboardTargetLabels are the labels Prometheus adds to every worker and observer series:
// loadtest and component from config/prometheus/monitor.yaml's relabelings (checked by
// TestDashboardTargetLabelsComeFromThePodMonitor), namespace and pod from the Prometheus
// Operator's own relabelings of every PodMonitor target.
var dashboardTargetLabels = []string{"loadtest", "component", "namespace", "pod"}

// checkedMetric finds the metric names the test checks: the pods' own metrics and the Go and
// process collectors' (PromQL functions and keywords never start with these prefixes).
var checkedMetric = regexp.MustCompile(`\b(?:streamreplay|go|process)_[A-Za-z0-9_:]*`)

// exportedMetric is a metric family a pod serves on /metrics.
type exportedMetric struct {
	component string
	typ       dto.MetricType
	typeKnown bool // false for a vector that has no series yet (only described)
	labels    map[string]bool
}

// exportedMetrics builds a worker and an observer with their public constructors, on
// registries like the ones their sub-commands give podrun, and returns what they export by
// metric family name (for histograms, the base name, as Gather reports it).
func exportedMetrics(t *testing.T) map[string]*exportedMetric {
	t.Helper()
	kafka := plan.Kafka{BootstrapServers: []string{"127.0.0.1:9092"}}
	target := plan.Target{Topic: "orders", Partitioning: "key", Acks: "all", Compression: "none"}

	workerReg := prometheus.NewRegistry()
	if _, err := worker.New(&plan.Plan{
		Role: results.RoleWorker, RunID: "run", LoadTest: "dashboard", Workers: 1,
		Scenario: plan.Scenario{Type: "constant", TargetRate: 100},
		Samples:  plan.Samples{Path: "/nonexistent", Format: "jsonl"},
		Kafka:    kafka, Target: target,
	}, worker.Options{Registry: workerReg}); err != nil {
		t.Fatalf("worker.New: %v", err)
	}

	observerReg := prometheus.NewRegistry()
	if _, err := observer.New(observer.Options{
		Plan: &plan.Plan{
			Role: results.RoleObserver, RunID: "run", LoadTest: "dashboard", Workers: 1,
			Kafka: kafka, Target: target,
			DLQ: &plan.DLQ{Topic: "orders-dlq"},
			Pipeline: &plan.Pipeline{
				InputTopic: "orders", OutputTopic: "orders-enriched", ConsumerGroup: "enricher",
			},
		},
		Registry: observerReg,
	}); err != nil {
		t.Fatalf("observer.New: %v", err)
	}

	// The manager's LoadTest metrics (controller-runtime's registry), over one LoadTest not
	// started yet, so that every series has a child.
	managerReg := prometheus.NewRegistry()
	managerReg.MustRegister(controllers.NewLoadTestCollector(fake.NewClientBuilder().WithScheme(operator.NewScheme()).
		WithObjects(&streamreplayv1alpha1.LoadTest{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "dashboard"}}).Build(), logr.Discard()))

	// What podrun adds to the registry it serves (internal/podrun, Options.Registry).
	podReg := prometheus.NewRegistry()
	podReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	metrics := map[string]*exportedMetric{}
	for _, r := range []struct {
		component string
		reg       *prometheus.Registry
	}{{"worker", workerReg}, {"observer", observerReg}, {"manager", managerReg}, {"pod", podReg}} {
		families, err := r.reg.Gather()
		if err != nil {
			t.Fatalf("gathering the %s's metrics: %v", r.component, err)
		}
		if len(families) == 0 {
			t.Fatalf("the %s's registry gathered no metrics", r.component)
		}
		for _, mf := range families {
			m := &exportedMetric{component: r.component, typ: mf.GetType(), typeKnown: true, labels: map[string]bool{}}
			for _, metric := range mf.GetMetric() {
				for _, lp := range metric.GetLabel() {
					m.labels[lp.GetName()] = true
				}
			}
			metrics[mf.GetName()] = m
		}
		// A labelled vector has no series, so Gather does not report it, until its first
		// child exists (records_failed_total before a failure, dlq_records_total before a dead
		// letter): its name and label names come from its description.
		described := describedMetrics(t, r.reg)
		for name, labels := range described {
			m, ok := metrics[name]
			if !ok {
				m = &exportedMetric{component: r.component, labels: map[string]bool{}}
				metrics[name] = m
			}
			for _, l := range labels {
				m.labels[l] = true
			}
		}
	}

	// The test is only worth something if the constructors really registered the metrics:
	// every family the worker and observer define (a labelled vector without series only
	// through its description), and the Go and process collectors'.
	for name, want := range map[string]dto.MetricType{
		"streamreplay_worker_records_sent_total":           dto.MetricType_COUNTER,
		"streamreplay_worker_records_acked_total":          dto.MetricType_COUNTER,
		"streamreplay_worker_bytes_sent_total":             dto.MetricType_COUNTER,
		"streamreplay_worker_ack_latency_seconds":          dto.MetricType_HISTOGRAM,
		"streamreplay_worker_behind_schedule_seconds":      dto.MetricType_GAUGE,
		"streamreplay_worker_target_rate":                  dto.MetricType_GAUGE,
		"streamreplay_worker_records_scheduled_total":      dto.MetricType_COUNTER,
		"streamreplay_observer_dlq_other_records_total":    dto.MetricType_COUNTER,
		"streamreplay_observer_output_records_total":       dto.MetricType_COUNTER,
		"streamreplay_observer_output_duplicates_total":    dto.MetricType_COUNTER,
		"streamreplay_observer_end_to_end_latency_seconds": dto.MetricType_HISTOGRAM,
		"streamreplay_observer_consumer_lag_records":       dto.MetricType_GAUGE,
		"process_cpu_seconds_total":                        dto.MetricType_COUNTER,
		"process_resident_memory_bytes":                    dto.MetricType_GAUGE,
		"go_goroutines":                                    dto.MetricType_GAUGE,
		controllers.MetricLoadTestStatus:                   dto.MetricType_GAUGE,
		controllers.MetricLoadTestStartDeadline:            dto.MetricType_GAUGE,
	} {
		if m, ok := metrics[name]; !ok {
			t.Errorf("the worker, observer and pod registries do not export %s: the catalogue is incomplete", name)
		} else if !m.typeKnown || m.typ != want {
			t.Errorf("%s is gathered as a %v (gathered: %t), want a %v", name, m.typ, m.typeKnown, want)
		}
	}
	for _, name := range []string{"streamreplay_worker_records_failed_total", "streamreplay_observer_dlq_records_total"} {
		if m := metrics[name]; m == nil || !m.labels["class"] {
			t.Errorf("the catalogue has no %s with a class label", name)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return metrics
}

// descPattern reads prometheus.Desc.String(); the test fails if that format changes.
var descPattern = regexp.MustCompile(`^Desc\{fqName: "([^"]*)", .*constLabels: \{([^}]*)\}, variableLabels: \{([^}]*)\}\}$`)

// describedMetrics is what a registry's collectors describe: label names by metric name.
func describedMetrics(t *testing.T, reg *prometheus.Registry) map[string][]string {
	t.Helper()
	ch := make(chan *prometheus.Desc)
	go func() {
		reg.Describe(ch)
		close(ch)
	}()
	out := map[string][]string{}
	for d := range ch {
		m := descPattern.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read the metric description %s (has prometheus.Desc.String changed?)", d)
		}
		var labels []string
		for _, pair := range strings.Split(m[2], ",") {
			if name, _, ok := strings.Cut(pair, "="); ok {
				labels = append(labels, name)
			}
		}
		for _, l := range strings.Split(m[3], ",") {
			if l = strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"); l != "" {
				labels = append(labels, l)
			}
		}
		out[m[1]] = append(out[m[1]], labels...)
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// dashboardQuery is one PromQL expression of the dashboard and where it is.
type dashboardQuery struct {
	where  string
	expr   string
	legend string
	panel  bool // a panel's query (filtered by the loadtest variable), not a variable's
}

type dashboardPanel struct {
	ID         int               `json:"id"`
	Type       string            `json:"type"`
	Title      string            `json:"title"`
	Datasource json.RawMessage   `json:"datasource"`
	GridPos    map[string]int    `json:"gridPos"`
	Targets    []dashboardTarget `json:"targets"`
	Panels     []dashboardPanel  `json:"panels"` // a collapsed row's panels
}

type dashboardTarget struct {
	RefID        string          `json:"refId"`
	Expr         string          `json:"expr"`
	LegendFormat string          `json:"legendFormat"`
	Datasource   json.RawMessage `json:"datasource"`
}

type dashboardVariable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"` // a string, or the Prometheus editor's {"query": ...}
	Definition string          `json:"definition"`
	Datasource json.RawMessage `json:"datasource"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
}

type dashboard struct {
	UID           string           `json:"uid"`
	Title         string           `json:"title"`
	SchemaVersion int              `json:"schemaVersion"`
	Panels        []dashboardPanel `json:"panels"`
	Templating    struct {
		List []dashboardVariable `json:"list"`
	} `json:"templating"`
}

// readDashboard reads config/grafana/streamreplay.json.
func readDashboard(t *testing.T) (dashboard, []byte) {
	t.Helper()
	data, err := os.ReadFile(repoPath("config", "grafana", dashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data) {
		t.Fatalf("%s is not valid JSON", dashboardFile)
	}
	var d dashboard
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("decoding %s: %v", dashboardFile, err)
	}
	return d, data
}

// allPanels flattens the panels, a collapsed row's panels included.
func allPanels(panels []dashboardPanel) []dashboardPanel {
	var out []dashboardPanel
	for _, p := range panels {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// variableQuery is a query variable's query text.
func variableQuery(t *testing.T, v dashboardVariable) string {
	t.Helper()
	if len(v.Query) == 0 {
		return v.Definition
	}
	var s string
	if err := json.Unmarshal(v.Query, &s); err == nil {
		return s
	}
	var q struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(v.Query, &q); err != nil {
		t.Fatalf("variable %s: the query is neither a string nor an object with a query: %s", v.Name, v.Query)
	}
	return q.Query
}

// dashboardQueries are all the PromQL expressions of the dashboard: panel targets (in
// rows too) and query variables.
func dashboardQueries(t *testing.T, d dashboard) []dashboardQuery {
	t.Helper()
	var out []dashboardQuery
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			out = append(out, dashboardQuery{
				where: fmt.Sprintf("panel %q query %s", p.Title, tg.RefID),
				expr:  tg.Expr, legend: tg.LegendFormat, panel: true,
			})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		out = append(out, dashboardQuery{where: fmt.Sprintf("variable %s", v.Name), expr: variableQuery(t, v)})
	}
	return out
}

// PromQL, read just well enough for this dashboard's queries: selectors with their matchers,
// grouping clauses with the aggregation they belong to, and the metric names.
var (
	promSelector    = regexp.MustCompile(`([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^{}]*)\}`)
	promMatcher     = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`" + `)`)
	promGrouping    = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)`)
	promAggregation = regexp.MustCompile(`\b(?:sum|avg|min|max|count|group|stddev|stdvar|topk|bottomk|quantile|count_values|limitk|limit_ratio)\s*$`)
	promLabelName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	labelValuesCall = regexp.MustCompile(`^\s*label_values\(\s*(.*?)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$`)
	legendLabel     = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)
)

// metricRef is a metric named in an expression.
type metricRef struct {
	name     string // as written
	base     string // histogram and summary suffixes stripped
	bucket   bool   // a histogram's _bucket series, which have the le label
	from, to int    // its place in the expression
}

// promSelectorInfo is a selector's label matchers.
type promSelectorInfo struct {
	metric   string // "" for a selector without a metric name
	matchers map[string]string
	from, to int
}

// promGroupingInfo is a by/without/on/ignoring/group_* clause and the part of the
// expression whose series it groups.
type promGroupingInfo struct {
	keyword      string
	labels       []string
	scopeFrom    int
	scopeTo      int
	clauseFrom   int
	clauseLength int
}

// parsedQuery is what the test reads from one expression.
type parsedQuery struct {
	metrics   []metricRef
	selectors []promSelectorInfo
	groupings []promGroupingInfo
	problems  []string
}

// blankStrings replaces the contents of string literals by spaces, so that nothing in a
// label value is read as a metric or a label; positions are kept.
func blankStrings(expr string) string {
	b := []byte(expr)
	var quote byte
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case quote == 0 && (c == '"' || c == '\'' || c == '`'):
			quote = c
		case quote != 0 && c == '\\' && quote != '`' && i+1 < len(b):
			b[i], b[i+1] = ' ', ' '
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			b[i] = ' '
		}
	}
	return string(b)
}

// closingParen is the index of the parenthesis closing the one at open, or -1.
func closingParen(s string, open int) int {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// openingParen is the index of the parenthesis opening the one that closes at end, or -1.
func openingParen(s string, end int) int {
	depth := 0
	for i := end; i >= 0; i-- {
		switch s[i] {
		case ')':
			depth++
		case '(':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// parsePromQL reads the metrics, selectors and grouping clauses of an expression.
func parsePromQL(expr string, metrics map[string]*exportedMetric) parsedQuery {
	var q parsedQuery
	if strings.Count(expr, "(") != strings.Count(expr, ")") {
		q.problems = append(q.problems, "unbalanced parentheses")
		return q
	}
	skeleton := blankStrings(expr)
	masked := []byte(skeleton)

	for _, m := range promSelector.FindAllStringSubmatchIndex(skeleton, -1) {
		sel := promSelectorInfo{matchers: map[string]string{}, from: m[0], to: m[1]}
		if m[2] >= 0 {
			sel.metric = skeleton[m[2]:m[3]]
		}
		body := expr[m[4]:m[5]]
		for _, mm := range promMatcher.FindAllStringSubmatch(body, -1) {
			sel.matchers[mm[1]] = mm[2]
		}
		// Whatever is left once the matchers are removed must be separators only.
		if rest := strings.Trim(promMatcher.ReplaceAllString(body, ""), " ,\n\t"); rest != "" {
			q.problems = append(q.problems, fmt.Sprintf("cannot read the matchers {%s} (left over: %q)", body, rest))
		}
		if sel.metric == "" {
			q.problems = append(q.problems, fmt.Sprintf("the selector {%s} names no metric; name it so that the test can check it", body))
		}
		q.selectors = append(q.selectors, sel)
		for i := m[4]; i < m[5]; i++ {
			masked[i] = ' '
		}
	}

	for _, m := range promGrouping.FindAllStringSubmatchIndex(skeleton, -1) {
		g := promGroupingInfo{keyword: skeleton[m[2]:m[3]], clauseFrom: m[0], clauseLength: m[1] - m[0], scopeFrom: 0, scopeTo: len(expr)}
		for _, l := range strings.Split(skeleton[m[4]:m[5]], ",") {
			if l = strings.TrimSpace(l); l != "" {
				if !promLabelName.MatchString(l) {
					q.problems = append(q.problems, fmt.Sprintf("%q in %s (...) is not a label name", l, g.keyword))
				}
				g.labels = append(g.labels, l)
			}
		}
		if g.keyword == "by" || g.keyword == "without" {
			before, after := skeleton[:m[0]], strings.TrimLeft(skeleton[m[1]:], " \t\n")
			switch {
			case promAggregation.MatchString(before) && strings.HasPrefix(after, "("):
				// sum by (labels) (argument)
				open := m[1] + strings.Index(skeleton[m[1]:], "(")
				g.scopeFrom, g.scopeTo = open, closingParen(skeleton, open)+1
			case strings.HasSuffix(strings.TrimRight(before, " \t\n"), ")"):
				// sum (argument) by (labels)
				end := len(strings.TrimRight(before, " \t\n")) - 1
				open := openingParen(skeleton, end)
				if open < 0 || !promAggregation.MatchString(skeleton[:open]) {
					q.problems = append(q.problems, fmt.Sprintf("%s (...) follows no aggregation", g.keyword))
				}
				g.scopeFrom, g.scopeTo = open, end+1
			default:
				q.problems = append(q.problems, fmt.Sprintf("%s (...) belongs to no aggregation", g.keyword))
			}
		}
		q.groupings = append(q.groupings, g)
		for i := m[4]; i < m[5]; i++ {
			masked[i] = ' '
		}
	}

	for _, m := range checkedMetric.FindAllStringIndex(string(masked), -1) {
		name := string(masked[m[0]:m[1]])
		ref := metricRef{name: name, base: name, from: m[0], to: m[1]}
		if _, ok := metrics[name]; !ok {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				base, ok := strings.CutSuffix(name, suffix)
				if !ok {
					continue
				}
				if e := metrics[base]; e != nil && e.typeKnown &&
					(e.typ == dto.MetricType_HISTOGRAM || e.typ == dto.MetricType_GAUGE_HISTOGRAM ||
						e.typ == dto.MetricType_SUMMARY && suffix != "_bucket") {
					ref.base, ref.bucket = base, suffix == "_bucket"
				}
			}
		}
		q.metrics = append(q.metrics, ref)
	}
	return q
}

// labelsOf are the labels a metric's series have in Prometheus.
func labelsOf(ref metricRef, metrics map[string]*exportedMetric) map[string]bool {
	labels := map[string]bool{}
	if e := metrics[ref.base]; e != nil {
		for l := range e.labels {
			labels[l] = true
		}
	}
	if ref.bucket {
		labels["le"] = true
	}
	if strings.HasPrefix(ref.base, "streamreplay_") || strings.HasPrefix(ref.base, "go_") || strings.HasPrefix(ref.base, "process_") {
		for _, l := range dashboardTargetLabels {
			labels[l] = true
		}
	}
	return labels
}

// checkQuery gives what is wrong with an expression: metrics nothing exports, and labels
// the metrics do not have.
func checkQuery(expr string, metrics map[string]*exportedMetric) (parsedQuery, []string) {
	if m := labelValuesCall.FindStringSubmatch(expr); m != nil {
		q, problems := checkQuery(m[1], metrics)
		for _, ref := range q.metrics {
			if !labelsOf(ref, metrics)[m[2]] {
				problems = append(problems, fmt.Sprintf("label_values reads the label %s, which %s does not have", m[2], ref.name))
			}
		}
		return q, problems
	}
	q := parsePromQL(expr, metrics)
	problems := slices.Clone(q.problems)
	if len(q.metrics) == 0 {
		problems = append(problems, "names no streamreplay, go or process metric")
	}
	for _, ref := range q.metrics {
		if _, ok := metrics[ref.base]; !ok {
			problems = append(problems, fmt.Sprintf("the metric %s is not exported by the worker, the observer or their pods", ref.name))
		}
	}
	for _, sel := range q.selectors {
		for _, ref := range q.metrics {
			if ref.from < sel.from || ref.to > sel.to {
				continue
			}
			labels := labelsOf(ref, metrics)
			for l := range sel.matchers {
				if !labels[l] {
					problems = append(problems, fmt.Sprintf("%s{%s=...}: %s has no label %s", ref.name, l, ref.name, l))
				}
			}
		}
	}
	for _, g := range q.groupings {
		for _, ref := range q.metrics {
			if ref.from < g.scopeFrom || ref.to > g.scopeTo {
				continue
			}
			labels := labelsOf(ref, metrics)
			for _, l := range g.labels {
				if !labels[l] {
					problems = append(problems, fmt.Sprintf("%s (%s): %s has no label %s", g.keyword, strings.Join(g.labels, ", "), ref.name, l))
				}
			}
		}
	}
	return q, problems
}

// resultLabels are the labels an expression's result series can have: the outermost
// aggregation's by labels, or the labels common to its metrics without aggregation.
func resultLabels(q parsedQuery, metrics map[string]*exportedMetric) map[string]bool {
	out := map[string]bool{}
	for _, g := range q.groupings {
		if g.keyword == "by" {
			for _, l := range g.labels {
				out[l] = true
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	for i, ref := range q.metrics {
		labels := labelsOf(ref, metrics)
		for l := range labels {
			if i == 0 {
				out[l] = true
			}
		}
		for l := range out {
			if !labels[l] {
				delete(out, l)
			}
		}
	}
	return out
}

func TestDashboardIsValidAndComplete(t *testing.T) {
	d, _ := readDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("the dashboard needs a uid and a title (uid %q, title %q)", d.UID, d.Title)
	}
	if d.SchemaVersion < minSchemaVersion {
		t.Errorf("schemaVersion %d, want %d or more (current Grafana)", d.SchemaVersion, minSchemaVersion)
	}

	vars := map[string]dashboardVariable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if ds, ok := vars["datasource"]; !ok || ds.Type != "datasource" || variableQuery(t, ds) != "prometheus" {
		t.Errorf("the dashboard needs a variable datasource of type datasource and query prometheus, got %+v", ds)
	}
	lt, ok := vars["loadtest"]
	switch {
	case !ok:
		t.Error("the dashboard has no loadtest variable")
	case lt.Type != "query" || !strings.HasPrefix(strings.TrimSpace(variableQuery(t, lt)), "label_values(streamreplay_worker_") ||
		!strings.HasSuffix(strings.TrimSpace(variableQuery(t, lt)), ", loadtest)"):
		t.Errorf("the loadtest variable must list label_values(streamreplay_worker_..., loadtest), got %s %q", lt.Type, variableQuery(t, lt))
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			checkDatasource(t, "variable "+v.Name, v.Datasource)
		}
	}

	panels := allPanels(d.Panels)
	if len(panels) == 0 {
		t.Fatal("the dashboard has no panels")
	}
	ids := map[int]string{}
	for i, p := range panels {
		where := fmt.Sprintf("panel %d (%q)", i, p.Title)
		if strings.TrimSpace(p.Title) == "" {
			t.Errorf("%s has no title", where)
		}
		if p.ID == 0 {
			t.Errorf("%s has no id", where)
		} else if other, dup := ids[p.ID]; dup {
			t.Errorf("%s has the id %d of %s", where, p.ID, other)
		}
		ids[p.ID] = where
		if _, ok := p.GridPos["w"]; !ok {
			t.Errorf("%s has no gridPos", where)
		}
		if p.Type == "row" {
			continue
		}
		checkDatasource(t, where, p.Datasource)
		if len(p.Targets) == 0 {
			t.Errorf("%s has no queries", where)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("%s query %s has no expression", where, tg.RefID)
			}
			if len(tg.Datasource) > 0 {
				checkDatasource(t, where+" query "+tg.RefID, tg.Datasource)
			}
		}
	}

	// The panels the issue asks for, found by what they query.
	var exprs []string
	for _, q := range dashboardQueries(t, d) {
		if q.panel {
			exprs = append(exprs, q.expr)
		}
	}
	for what, needles := range map[string][]string{
		"offered vs target rate": {"rate(streamreplay_worker_records_sent_total", "rate(streamreplay_worker_records_acked_total", "streamreplay_worker_target_rate"},
		"ack latency p50":        {"histogram_quantile(0.5, sum by (loadtest, le) (rate(streamreplay_worker_ack_latency_seconds_bucket"},
		"ack latency p99":        {"histogram_quantile(0.99, sum by (loadtest, le) (rate(streamreplay_worker_ack_latency_seconds_bucket"},
		"ack latency p99.9":      {"histogram_quantile(0.999, sum by (loadtest, le) (rate(streamreplay_worker_ack_latency_seconds_bucket"},
		"failures by class":      {"sum by (loadtest, class) (rate(streamreplay_worker_records_failed_total"},
		"behind schedule":        {"streamreplay_worker_behind_schedule_seconds"},
		"DLQ by class":           {"sum by (loadtest, class) (rate(streamreplay_observer_dlq_records_total"},
		"consumer lag":           {"streamreplay_observer_consumer_lag_records"},
		"end-to-end latency":     {"histogram_quantile(0.99, sum by (loadtest, le) (rate(streamreplay_observer_end_to_end_latency_seconds_bucket"},
		"delivered records":      {"rate(streamreplay_observer_output_records_total"},
		"phases and verdicts":    {"count by (phase) (streamreplay_loadtest_status", "max by (namespace, loadtest, phase, verdict) (streamreplay_loadtest_status"},
	} {
		for _, needle := range needles {
			if !slices.ContainsFunc(exprs, func(e string) bool { return strings.Contains(e, needle) }) {
				t.Errorf("no panel shows %s: no query contains %q", what, needle)
			}
		}
	}
}

// checkDatasource wants the Prometheus data source chosen by the datasource variable.
func checkDatasource(t *testing.T, where string, raw json.RawMessage) {
	t.Helper()
	var ds struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	if len(raw) == 0 || string(raw) == "null" {
		t.Errorf("%s has no datasource", where)
		return
	}
	if err := json.Unmarshal(raw, &ds); err != nil || ds.Type != "prometheus" || ds.UID != datasourceUID {
		t.Errorf(`%s: datasource %s, want {"type": "prometheus", "uid": %q}`, where, raw, datasourceUID)
	}
}

func TestDashboardQueriesUseExportedMetrics(t *testing.T) {
	metrics := exportedMetrics(t)
	d, _ := readDashboard(t)
	queries := dashboardQueries(t, d)
	if len(queries) == 0 {
		t.Fatal("the dashboard has no queries")
	}
	used := map[string]bool{}
	for _, dq := range queries {
		q, problems := checkQuery(dq.expr, metrics)
		for _, ref := range q.metrics {
			used[ref.base] = true
		}
		if dq.panel {
			// Every panel shows the chosen LoadTests only.
			for _, ref := range q.metrics {
				if !filteredByLoadTest(ref, q.selectors) {
					problems = append(problems, fmt.Sprintf("%s is not filtered by {loadtest=~\"$loadtest\"}", ref.name))
				}
			}
			labels := resultLabels(q, metrics)
			for _, m := range legendLabel.FindAllStringSubmatch(dq.legend, -1) {
				if !labels[m[1]] {
					problems = append(problems, fmt.Sprintf("the legend %q shows %s, which the result series do not have (they have %v)", dq.legend, m[1], sortedKeys(labels)))
				}
			}
		}
		for _, p := range problems {
			t.Errorf("%s: %s\n\t%s", dq.where, p, dq.expr)
		}
	}

	// Every metric of the worker, the observer and the manager is on the dashboard (but the
	// start deadline, which is for alerts).
	for name, m := range metrics {
		if m.component != "pod" && name != controllers.MetricLoadTestStartDeadline && !used[name] {
			t.Errorf("the %s exports %s, which no panel shows", m.component, name)
		}
	}
	t.Logf("%d queries checked against %d exported metrics; streamreplay metrics used: %v", len(queries), len(metrics),
		slices.DeleteFunc(sortedKeys(used), func(s string) bool { return !strings.HasPrefix(s, "streamreplay_") }))
}

// filteredByLoadTest tells whether a metric's selector matches the loadtest variable.
func filteredByLoadTest(ref metricRef, selectors []promSelectorInfo) bool {
	for _, sel := range selectors {
		if ref.from >= sel.from && ref.to <= sel.to {
			v, ok := sel.matchers["loadtest"]
			return ok && strings.Contains(v, "$loadtest")
		}
	}
	return false
}

// TestDashboardQueryCheckCatchesMistakes feeds the checker wrong queries, so that a check
// that passes everything cannot go unnoticed.
func TestDashboardQueryCheckCatchesMistakes(t *testing.T) {
	metrics := exportedMetrics(t)
	sel := `{namespace=~"$namespace", loadtest=~"$loadtest"}`
	for _, c := range []struct {
		expr, want string
	}{
		{`sum(rate(streamreplay_worker_records_sent_total` + sel + `[5m]))`, ""},
		{`histogram_quantile(0.99, sum by (loadtest, le) (rate(streamreplay_worker_ack_latency_seconds_bucket` + sel + `[5m])))`, ""},
		{`sum(rate(streamreplay_worker_ack_latency_seconds_sum[5m])) / sum(rate(streamreplay_worker_ack_latency_seconds_count[5m]))`, ""},
		{`label_values(streamreplay_worker_target_rate{namespace=~"$namespace"}, loadtest)`, ""},
		{`sum(rate(streamreplay_worker_records_sent[5m]))`, "streamreplay_worker_records_sent is not exported"},
		{`sum(rate(streamreplay_worker_records_sent_total_bucket[5m]))`, "is not exported"},
		{`sum(streamreplay_worker_target_rate_count)`, "is not exported"},
		{`histogram_quantile(0.5, sum by (le) (rate(streamreplay_observer_e2e_latency_seconds_bucket[5m])))`, "streamreplay_observer_e2e_latency_seconds_bucket is not exported"},
		{`sum by (reason) (rate(streamreplay_worker_records_failed_total[5m]))`, "has no label reason"},
		{`sum(rate(streamreplay_observer_dlq_records_total[5m])) by (topic)`, "has no label topic"},
		{`sum by (loadtest, le) (rate(streamreplay_worker_records_acked_total[5m]))`, "has no label le"},
		{`streamreplay_worker_target_rate{partition="0"}`, "has no label partition"},
		{`streamreplay_observer_consumer_lag_records{group="x", loadtest=~"$loadtest"}`, "has no label group"},
		{`{__name__="streamreplay_worker_target_rate"}`, "names no metric"},
		{`label_values(streamreplay_worker_target_rate, topic)`, "does not have"},
		{`sum(up)`, "names no streamreplay"},
	} {
		_, problems := checkQuery(c.expr, metrics)
		got := strings.Join(problems, "; ")
		switch {
		case c.want == "" && got != "":
			t.Errorf("%s: unexpected problems: %s", c.expr, got)
		case c.want != "" && !strings.Contains(got, c.want):
			t.Errorf("%s: problems %q, want one containing %q", c.expr, got, c.want)
		}
	}
}

// TestDashboardTargetLabelsComeFromThePodMonitor checks that the PodMonitor turns the pod
// labels the controller sets into the loadtest and component labels the dashboard uses.
func TestDashboardTargetLabelsComeFromThePodMonitor(t *testing.T) {
	data, err := os.ReadFile(repoPath("config", "prometheus", "monitor.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeObjects(data)
	if err != nil {
		t.Fatalf("decoding monitor.yaml: %v", err)
	}
	var podMonitor map[string]any
	for _, o := range objs {
		if o.GetKind() == "PodMonitor" {
			podMonitor = o.Object
		}
	}
	if podMonitor == nil {
		t.Fatal("config/prometheus/monitor.yaml has no PodMonitor")
	}
	raw, err := json.Marshal(podMonitor)
	if err != nil {
		t.Fatal(err)
	}
	var pm struct {
		Spec struct {
			PodMetricsEndpoints []struct {
				Port        string `json:"port"`
				Relabelings []struct {
					SourceLabels []string `json:"sourceLabels"`
					TargetLabel  string   `json:"targetLabel"`
					Action       string   `json:"action"`
				} `json:"relabelings"`
			} `json:"podMetricsEndpoints"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &pm); err != nil {
		t.Fatal(err)
	}
	if len(pm.Spec.PodMetricsEndpoints) == 0 {
		t.Fatal("the PodMonitor has no podMetricsEndpoints")
	}
	// Prometheus's Kubernetes discovery names pod labels __meta_kubernetes_pod_label_<name>,
	// with every character not valid in a label name turned into _.
	sanitize := regexp.MustCompile(`[^A-Za-z0-9_]`)
	want := map[string]string{
		"loadtest":  "__meta_kubernetes_pod_label_" + sanitize.ReplaceAllString(controllers.LabelLoadTest, "_"),
		"component": "__meta_kubernetes_pod_label_" + sanitize.ReplaceAllString(controllers.LabelComponent, "_"),
	}
	for _, ep := range pm.Spec.PodMetricsEndpoints {
		for target, source := range want {
			found := false
			for _, r := range ep.Relabelings {
				if r.TargetLabel == target && slices.Equal(r.SourceLabels, []string{source}) && (r.Action == "" || r.Action == "replace") {
					found = true
				}
			}
			if !found {
				t.Errorf("the PodMonitor's endpoint %s does not relabel %s into %s", ep.Port, source, target)
			}
		}
	}
}

// TestDashboardConfigMap renders config/grafana: one ConfigMap for Grafana's dashboard
// sidecar, holding the dashboard file as it is.
func TestDashboardConfigMap(t *testing.T) {
	_, file := readDashboard(t)
	objs := kustomize(t, repoPath("config", "grafana"))
	if len(objs) != 1 || objs[0].GetKind() != "ConfigMap" || objs[0].GetName() != dashboardConfigMap {
		var got []string
		for _, o := range objs {
			got = append(got, describe(o))
		}
		t.Fatalf("config/grafana renders %v, want the ConfigMap %s only", got, dashboardConfigMap)
	}
	cm := objs[0]
	if got := cm.GetLabels()["grafana_dashboard"]; got != "1" {
		t.Errorf("the ConfigMap's grafana_dashboard label is %q, want \"1\" (the sidecar's default)", got)
	}
	data, _, err := unstructured.NestedString(cm.Object, "data", dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if data != string(file) {
		t.Errorf("the ConfigMap's %s differs from config/grafana/%s", dashboardFile, dashboardFile)
	}
}
