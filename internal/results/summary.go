package results

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// summaryClasses is how many error or DLQ classes a summary line names.
const summaryClasses = 5

// Summary is a short text of the results for people (the ConfigMap's
// summary.txt): one labelled line per aspect, only for what was measured.
func (d *Document) Summary() string {
	if d == nil {
		return "no results\n"
	}
	var b strings.Builder
	line := func(label, format string, args ...any) {
		s := fmt.Sprintf("%-11s "+format, append([]any{label}, args...)...)
		b.WriteString(strings.TrimRight(s, " ") + "\n")
	}
	line("run", "%s", d.RunID)
	w := fmt.Sprintf("%s (%d worker%s)", time.Duration(d.Window.Seconds*float64(time.Second)).Round(time.Millisecond),
		len(d.Workers), plural(len(d.Workers)))
	if !d.Window.Start.IsZero() {
		w = d.Window.Start.UTC().Format(time.RFC3339) + " .. " + d.Window.End.UTC().Format(time.RFC3339) + ", " + w
	}
	if d.Stopped {
		w += ", stopped early: partial results"
	}
	line("window", "%s", w)
	t := d.Totals
	line("records", "scheduled %s  sent %s  acked %s  failed %s", count(t.Scheduled), count(t.Sent), count(t.Acked), count(t.Failed))
	achieved, asked := ratePair(d.AchievedRate, d.askedRate())
	line("rate", "achieved %s of %s asked (ratio %s), error ratio %s", achieved, asked,
		FormatRatio(d.AchievedRateRatio, t.Acked != t.Scheduled), formatRatio(d.ErrorRatio, 4))
	if s := d.samplesLine(); s != "" {
		line("samples", "%s", s)
	}
	if d.Latency != nil {
		line("latency", "%s", percentiles(d.Latency))
	}
	if d.SendLatency != nil {
		line("send lat.", "%s", percentiles(d.SendLatency))
	}
	if len(d.Errors) > 0 {
		var classes []DLQClass
		for name, n := range d.Errors {
			classes = append(classes, DLQClass{Name: name, Count: n})
		}
		line("errors", "%s", classList(classes, 0, 0))
	}
	if q := d.DLQ; q != nil {
		s := fmt.Sprintf("%s record%s of this run", count(q.Records), plural(q.Records))
		if q.OtherRecords > 0 {
			s += fmt.Sprintf(" (+%s of others)", count(q.OtherRecords))
		}
		if len(q.Classes) > 0 || q.OmittedClasses > 0 {
			s += ": " + classList(q.Classes, q.OmittedClasses, q.OmittedRecords)
		}
		line("dlq", "%s", s)
	}
	if l := d.Lag; l != nil {
		drained := "not drained"
		if l.Drained {
			drained = "drained"
		}
		line("lag", "max %s  final %s, %s (%d samples)", count(l.Max), count(l.Final), drained, l.Samples)
	}
	if e := d.EndToEnd; e != nil {
		s := fmt.Sprintf("delivered %s  duplicates %s  loss %s", count(e.Delivered), count(e.Duplicates), count(e.Loss))
		if e.InFlight > 0 {
			s += fmt.Sprintf(", not drained, %s record%s in flight", count(e.InFlight), plural(e.InFlight))
		}
		if e.Latency != nil {
			s += "; " + percentiles(e.Latency)
		}
		line("end-to-end", "%s", s)
	}
	for i, f := range d.Findings() {
		label := ""
		if i == 0 {
			label = "findings"
		}
		line(label, "%s", f)
	}
	for i, n := range d.Degraded {
		label := ""
		if i == 0 {
			label = "degraded"
		}
		line(label, "%s", n)
	}
	return b.String()
}

func percentiles(p *Percentiles) string {
	if p.Count == 0 {
		return "no records"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p95 %s  p99 %s  p99.9 %s  max %s (%s records)",
		FormatDuration(p.P50), FormatDuration(p.P90), FormatDuration(p.P95),
		FormatDuration(p.P99), FormatDuration(p.P999), FormatDuration(p.Max), count(p.Count))
}

// classList names the largest classes with their counts, then how many more.
func classList(classes []DLQClass, omitted int, omittedRecords int64) string {
	classes = slices.SortedFunc(slices.Values(classes), func(a, b DLQClass) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name))
	})
	var parts []string
	for i, c := range classes {
		if i == summaryClasses {
			for _, c := range classes[i:] {
				omitted++
				omittedRecords += c.Count
			}
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s", Shorten(c.Name, 80), count(c.Count)))
	}
	if omitted > 0 {
		parts = append(parts, fmt.Sprintf("+%d more class%s (%s)", omitted, pluralEs(omitted), count(omittedRecords)))
	}
	return strings.Join(parts, ", ")
}

// count writes n with thousands separators: 2,999,950.
func count(n int64) string {
	return GroupThousands(strconv.FormatInt(n, 10))
}

// GroupThousands puts separators in the digits of a whole number: "2999950" reads
// "2,999,950".
func GroupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// askedRate is ScheduledRate, or for documents written before it, scheduled over the window.
func (d *Document) askedRate() float64 {
	if d.ScheduledRate > 0 || d.Window.Seconds <= 0 {
		return d.ScheduledRate
	}
	return float64(d.Totals.Scheduled) / d.Window.Seconds
}

// samplesLine sums the workers' shards: "2,000 in 2 shards (881 to 1,119), worker 0 ran
// out of them (loop: false)"; empty when no worker reported its samples.
func (d *Document) samplesLine() string {
	var total, smallest, largest int64
	var exhausted []string
	for i, w := range d.Workers {
		if i == 0 || w.Samples < smallest {
			smallest = w.Samples
		}
		largest = max(largest, w.Samples)
		total += w.Samples
		if w.SamplesExhausted {
			exhausted = append(exhausted, strconv.Itoa(w.Index))
		}
	}
	if total == 0 {
		return ""
	}
	s := count(total)
	if n := len(d.Workers); n > 1 {
		s += fmt.Sprintf(" in %d shards (%s to %s)", n, count(smallest), count(largest))
	}
	if len(exhausted) > 0 {
		s += fmt.Sprintf("; ran out before the schedule's end (loop: false): worker %s", andMore(exhausted))
	}
	return s
}

func pluralEs(n int) string {
	if n == 1 {
		return ""
	}
	return "es"
}
