package controllers

import (
	"fmt"
	"math"
	"strconv"

	"k8s.io/utils/ptr"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/results"
)

// runOutcome is what a finished run measured and how it compares with the thresholds.
type runOutcome struct {
	document string // results.json of the ConfigMap
	text     string // summary.txt of the ConfigMap
	summary  *streamreplayv1alpha1.ResultsSummary
	checks   []streamreplayv1alpha1.ThresholdCheck
	passed   bool
	message  string // the verdict in words, errors and shortfalls always named (results.Judge)
}

// badResultsError is a termination message that is not a valid results report, or
// reports that do not belong together. subject names the culprit ("pod x-worker-1").
type badResultsError struct {
	subject string
	err     error
}

func (e *badResultsError) Error() string {
	return fmt.Sprintf("%s reported bad results: %v", e.subject, e.err)
}

func (e *badResultsError) Unwrap() error { return e.err }

// evaluateRun decodes every pod's report, merges them and applies the thresholds; the
// series collected from the pods, when there is one, goes into the document as it is.
func evaluateRun(lt *streamreplayv1alpha1.LoadTest, ms []member, series *results.Timeline) (*runOutcome, error) {
	reports := make([]results.Report, 0, len(ms))
	for i := range ms {
		m := &ms[i]
		t := m.terminated()
		if t == nil {
			return nil, &badResultsError{subject: "pod " + m.name, err: fmt.Errorf("the pod ended without a terminated state for container %q", containerName)}
		}
		report, err := results.Decode([]byte(t.Message))
		if err != nil {
			return nil, &badResultsError{subject: "pod " + m.name, err: err}
		}
		if report.RunID != string(lt.UID) {
			return nil, &badResultsError{subject: "pod " + m.name, err: fmt.Errorf("run id %q is not this run's %q", report.RunID, lt.UID)}
		}
		reports = append(reports, *report)
	}
	doc, err := results.Merge(reports)
	if err != nil {
		return nil, &badResultsError{subject: "the pods together", err: err}
	}
	doc.Series = series
	thresholds, err := parseThresholds(lt.Spec.Thresholds)
	if err != nil {
		return nil, err
	}
	judged := results.Judge(doc, thresholds)
	encoded, err := doc.JSON()
	if err != nil {
		return nil, fmt.Errorf("encoding results document: %w", err)
	}
	out := &runOutcome{
		document: string(encoded),
		text:     doc.Summary(),
		summary:  summarize(doc),
		passed:   judged.Passed,
		message:  judged.Message,
	}
	for _, c := range judged.Checks {
		out.checks = append(out.checks, streamreplayv1alpha1.ThresholdCheck{Name: c.Name, Measured: c.Measured, Limit: c.Limit, Passed: c.Passed})
	}
	return out, nil
}

// defaultRatios are the API's defaults of the ratio thresholds, by name.
var defaultRatios = map[string]*string{
	"minAchievedRateRatio": ptr.To(streamreplayv1alpha1.DefaultMinAchievedRateRatio),
	"maxErrorRatio":        ptr.To(streamreplayv1alpha1.DefaultMaxErrorRatio),
}

// parseThresholds turns the spec's strings into numbers; admission already checked them.
func parseThresholds(t *streamreplayv1alpha1.Thresholds) (results.Thresholds, error) {
	var out results.Thresholds
	if t == nil {
		t = &streamreplayv1alpha1.Thresholds{}
	}
	// Admission writes the ratios' defaults; a LoadTest that somehow lacks them (built
	// without defaulting) is judged by the same defaults, never by nothing.
	ratio := func(name string, s *string) (*float64, error) {
		if s == nil {
			s = defaultRatios[name]
		}
		v, err := strconv.ParseFloat(*s, 64)
		if err != nil {
			return nil, fmt.Errorf("spec.thresholds.%s: %w", name, err)
		}
		return &v, nil
	}
	var err error
	if out.MinAchievedRateRatio, err = ratio("minAchievedRateRatio", t.MinAchievedRateRatio); err != nil {
		return out, err
	}
	if out.MaxErrorRatio, err = ratio("maxErrorRatio", t.MaxErrorRatio); err != nil {
		return out, err
	}
	out.MaxDLQRecords = t.MaxDLQRecords
	out.MaxConsumerLag = t.MaxConsumerLag
	if t.MaxP99Latency != nil {
		out.MaxP99Latency = &t.MaxP99Latency.Duration
	}
	if t.MaxEndToEndP99Latency != nil {
		out.MaxEndToEndP99Latency = &t.MaxEndToEndP99Latency.Duration
	}
	return out, nil
}

// formatDown writes v with digits decimals, cut rather than rounded: an achieved rate of
// 99.96/s or a ratio of 0.99996 must not read 100.0 or 1.0000, better than what happened.
// The tiny allowance keeps 0.95, which floats hold as 0.9499999…, from reading 0.9499.
func formatDown(v float64, digits int) string {
	scale := math.Pow10(digits)
	return strconv.FormatFloat(math.Floor(v*scale+1e-9)/scale, 'f', digits, 64)
}

// summarize is the short form of the document kept in status.
func summarize(d *results.Document) *streamreplayv1alpha1.ResultsSummary {
	s := &streamreplayv1alpha1.ResultsSummary{
		Scheduled:         d.Totals.Scheduled,
		Sent:              d.Totals.Sent,
		Acknowledged:      d.Totals.Acked,
		Errors:            d.Totals.Failed,
		AchievedRate:      formatDown(d.AchievedRate, 1),
		AchievedRateRatio: formatDown(d.AchievedRateRatio, 4),
	}
	if l := d.Latency; l != nil {
		s.P50Latency = results.FormatDuration(l.P50)
		s.P99Latency = results.FormatDuration(l.P99)
		s.MaxLatency = results.FormatDuration(l.Max)
	}
	if d.DLQ != nil {
		s.DLQRecords = &d.DLQ.Records
	}
	if d.Lag != nil {
		s.MaxConsumerLag = &d.Lag.Max
	}
	if e := d.EndToEnd; e != nil && e.Latency != nil {
		s.EndToEndP99Latency = results.FormatDuration(e.Latency.P99)
	}
	return s
}
