package report

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/results"
)

// failedRun is a run that failed two of its three thresholds, with every section filled.
func failedRun() Run {
	lt := &streamreplayv1alpha1.LoadTest{ObjectMeta: metav1.ObjectMeta{Name: "crm-cdc-peak", Namespace: "perf"}}
	lt.Status = streamreplayv1alpha1.LoadTestStatus{
		Phase: streamreplayv1alpha1.PhaseFailed, Verdict: streamreplayv1alpha1.VerdictFail,
		Message: "failed: maxP99Latency <script>alert(1)</script>",
		Thresholds: []streamreplayv1alpha1.ThresholdCheck{
			{Name: "minAchievedRateRatio", Measured: "0.9", Limit: "0.95"},
			{Name: "maxP99Latency", Measured: "400ms", Limit: "250ms"},
			{Name: "maxDLQRecords", Measured: "0", Limit: "0", Passed: true},
		},
	}
	doc := &results.Document{
		Workers: []results.WorkerSummary{
			{Pod: "crm-cdc-peak-worker-0", Index: 0, Scheduled: 500, Sent: 500, Acked: 450, Failed: 50, P99: 400 * time.Millisecond},
			{Pod: "crm-cdc-peak-worker-1", Index: 1, Scheduled: 500, Sent: 500, Acked: 450, Failed: 50, SamplesExhausted: true, Samples: 420},
		},
		Totals:            results.Totals{Scheduled: 1000, Sent: 1000, Acked: 900, Failed: 100, Bytes: 123456},
		Window:            results.Window{Seconds: 10},
		AchievedRate:      90,
		ScheduledRate:     100,
		AchievedRateRatio: 0.9,
		ErrorRatio:        0.1,
		Errors:            map[string]int64{"Timeout": 60, "MessageTooLarge": 40},
		Latency:           &results.Percentiles{Count: 900, P50: 50 * time.Millisecond, P90: 100 * time.Millisecond, P95: 200 * time.Millisecond, P99: 400 * time.Millisecond, P999: 600 * time.Millisecond, Max: 800 * time.Millisecond},
		DLQ:               &results.DLQResult{Records: 7, Classes: []results.DLQClass{{Name: "SchemaError", Count: 7, Examples: []results.DLQExample{{Topic: "crm.dlq", Partition: 2, Offset: 41, Message: "bad field"}}}}},
		Lag:               &results.LagResult{Max: 5400, Final: 12, Samples: 20},
		EndToEnd:          &results.EndToEndSummary{Delivered: 880, Loss: 13, Latency: &results.Percentiles{Count: 880, P50: time.Second, P90: time.Second, P95: time.Second, P99: 2 * time.Second, P999: 2 * time.Second, Max: 3 * time.Second}},
	}
	return Run{LoadTest: lt, Document: doc}
}

func render(t *testing.T, r Run) (string, *html.Node) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r, time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("the report does not parse as HTML: %v", err)
	}
	return buf.String(), doc
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	return n.Type == html.ElementNode && strings.Contains(" "+attr(n, "class")+" ", " "+class+" ")
}

// find returns the nodes under n (n included) for which match is true, in document order.
func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	if match(n) {
		out = append(out, n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		out = append(out, find(c, match)...)
	}
	return out
}

func byID(t *testing.T, n *html.Node, id string) *html.Node {
	t.Helper()
	got := find(n, func(n *html.Node) bool { return n.Type == html.ElementNode && attr(n, "id") == id })
	if len(got) != 1 {
		t.Fatalf("%d elements with id %q, want 1", len(got), id)
	}
	return got[0]
}

func text(n *html.Node) string {
	var parts []string
	for _, t := range find(n, func(n *html.Node) bool { return n.Type == html.TextNode }) {
		parts = append(parts, t.Data)
	}
	return strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
}

func rowTexts(n *html.Node, class string) []string {
	var out []string
	for _, tr := range find(n, func(n *html.Node) bool { return hasClass(n, class) }) {
		out = append(out, text(tr))
	}
	return out
}

func TestReportThresholdsAndVerdict(t *testing.T) {
	_, doc := render(t, failedRun())
	want := []string{"minAchievedRateRatio 0.9 0.95 fail", "maxP99Latency 400ms 250ms fail", "maxDLQRecords 0 0 pass"}
	if diff := cmp.Diff(want, rowTexts(doc, "threshold")); diff != "" {
		t.Errorf("threshold rows (-want +got):\n%s", diff)
	}
	if v := byID(t, doc, "verdict"); text(v) != "Fail" || !hasClass(v, "fail") {
		t.Errorf("verdict badge %q (class %q), want Fail in class fail", text(v), attr(v, "class"))
	}
	if got := text(byID(t, doc, "message")); !strings.Contains(got, "<script>alert(1)</script>") {
		t.Errorf("the message is not shown as text: %q", got)
	}
	if scripts := find(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "script" }); len(scripts) != 0 {
		t.Errorf("the report has %d script elements; the message must be escaped", len(scripts))
	}
}

func TestReportSections(t *testing.T) {
	_, doc := render(t, failedRun())
	for _, tc := range []struct{ id, want string }{
		{"totals", "scheduled 1,000 sent 1,000 acknowledged 900 failed 100 bytes 123,456"},
		{"errors", "Timeout 60 MessageTooLarge 40"},
		{"dlq", "SchemaError 7 crm.dlq/2@41: bad field"},
		{"lag", "largest lag 5,400 final lag 12 drained no"},
		{"e2e", "delivered 880 duplicates 0 lost 13"},
	} {
		if got := text(byID(t, doc, tc.id)); !strings.Contains(got, tc.want) {
			t.Errorf("section %s reads %q, want it to contain %q", tc.id, got, tc.want)
		}
	}
	workers := rowTexts(doc, "worker")
	if len(workers) != 2 || !strings.HasPrefix(workers[0], "crm-cdc-peak-worker-0 0 500 500 450 50") ||
		!strings.Contains(workers[1], "ran out of samples after 420") {
		t.Errorf("worker rows: %q", workers)
	}
	if got := text(byID(t, doc, "findings")); !strings.Contains(got, "100 of 1,000 records failed") {
		t.Errorf("findings %q do not name the failed records", got)
	}
}

func TestReportLatencyChartBarsAreProportional(t *testing.T) {
	r := failedRun()
	_, doc := render(t, r)
	for _, tc := range []struct {
		id string
		p  *results.Percentiles
	}{{"latency-chart", r.Document.Latency}, {"e2e-chart", r.Document.EndToEnd.Latency}} {
		bars := find(byID(t, doc, tc.id), func(n *html.Node) bool { return n.Data == "rect" && hasClass(n, "bar") })
		want := []time.Duration{tc.p.P50, tc.p.P90, tc.p.P95, tc.p.P99, tc.p.P999, tc.p.Max}
		if len(bars) != len(want) {
			t.Fatalf("%s: %d bars, want one per percentile (%d)", tc.id, len(bars), len(want))
		}
		var labels []string
		for i, bar := range bars {
			labels = append(labels, attr(bar, "data-label"))
			h, err := strconv.ParseFloat(attr(bar, "height"), 64)
			if err != nil {
				t.Fatalf("%s bar %d height %q: %v", tc.id, i, attr(bar, "height"), err)
			}
			// The tallest bar (max) fills the plot; the others are in proportion.
			wantH := float64(want[i]) / float64(tc.p.Max) * plotHeight
			if math.Abs(h-wantH) > 0.01 {
				t.Errorf("%s bar %s is %.2f high, want %.2f (%v of max %v)", tc.id, labels[i], h, wantH, want[i], tc.p.Max)
			}
			y, _ := strconv.ParseFloat(attr(bar, "y"), 64)
			if math.Abs(y+h-plotBottom) > 0.01 {
				t.Errorf("%s bar %s does not stand on the base line: y %.2f + height %.2f", tc.id, labels[i], y, h)
			}
		}
		if diff := cmp.Diff([]string{"p50", "p90", "p95", "p99", "p99.9", "max"}, labels); diff != "" {
			t.Errorf("%s bar labels (-want +got):\n%s", tc.id, diff)
		}
	}
}

func TestReportFetchesNothing(t *testing.T) {
	page, doc := render(t, failedRun())
	for _, s := range []string{"http://", "https://", "//", "url(", "@import"} {
		if s == "//" {
			// A protocol-relative URL in an attribute.
			for _, n := range find(doc, func(n *html.Node) bool { return n.Type == html.ElementNode }) {
				for _, a := range n.Attr {
					if strings.HasPrefix(a.Val, "//") {
						t.Errorf("<%s %s=%q> points elsewhere", n.Data, a.Key, a.Val)
					}
				}
			}
			continue
		}
		if strings.Contains(page, s) {
			t.Errorf("the report contains %q: it must not fetch anything", s)
		}
	}
	for _, n := range find(doc, func(n *html.Node) bool { return n.Type == html.ElementNode }) {
		switch n.Data {
		case "script", "link", "img", "iframe", "object", "embed":
			t.Errorf("the report has a <%s> element", n.Data)
		}
		if attr(n, "src") != "" || attr(n, "href") != "" {
			t.Errorf("<%s> has src or href", n.Data)
		}
	}
}

func TestReportWithoutResults(t *testing.T) {
	lt := &streamreplayv1alpha1.LoadTest{ObjectMeta: metav1.ObjectMeta{Name: "early"}}
	lt.Status.Phase = streamreplayv1alpha1.PhaseError
	lt.Status.Verdict = streamreplayv1alpha1.VerdictInconclusive
	_, doc := render(t, Run{LoadTest: lt})
	byID(t, doc, "no-results")
	if bars := find(doc, func(n *html.Node) bool { return n.Data == "rect" }); len(bars) != 0 {
		t.Errorf("%d bars drawn without results", len(bars))
	}
	if v := byID(t, doc, "verdict"); text(v) != "Inconclusive" || !hasClass(v, "other") {
		t.Errorf("verdict badge %q (class %q)", text(v), attr(v, "class"))
	}
}

func TestReportRateChart(t *testing.T) {
	r := failedRun() // 90/s achieved of 100/s asked
	_, doc := render(t, r)
	bars := find(byID(t, doc, "rate-chart"), func(n *html.Node) bool { return n.Data == "rect" && hasClass(n, "bar") })
	var got []string
	for _, b := range bars {
		got = append(got, attr(b, "data-label")+" "+attr(b, "height"))
	}
	if diff := cmp.Diff([]string{"asked 180.00", "achieved 162.00"}, got); diff != "" {
		t.Errorf("rate bars (-want +got):\n%s", diff)
	}
	if got := text(byID(t, doc, "rate-chart")); !strings.Contains(got, "100.0/s") || !strings.Contains(got, "90.0/s") {
		t.Errorf("rate chart text %q does not show both rates", got)
	}
}
