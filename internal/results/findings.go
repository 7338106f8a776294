package results

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// maxNamedWorkers is how many workers a finding names before "and N more".
const maxNamedWorkers = 3

// Findings names, in words, what failed or fell short in a run, whatever the thresholds
// say: failed records, scheduled records not acknowledged and why (samples that ran out,
// workers that fell behind, a stop), dead letters, and a pipeline that did not drain or
// lost records. A clean run has none. The verdict's message always carries them, so that
// a Pass never hides an error.
func (d *Document) Findings() []string {
	if d == nil {
		return nil
	}
	var out []string
	t := d.Totals
	if t.Failed > 0 {
		s := fmt.Sprintf("%s of %s records failed (%s)", count(t.Failed), count(t.Acked+t.Failed), percent(t.Failed, t.Acked+t.Failed))
		if len(d.Errors) > 0 {
			s += ": " + classList(errorClasses(d.Errors), 0, 0)
		}
		out = append(out, s)
	}
	if t.Acked < t.Scheduled {
		achieved, asked := ratePair(d.AchievedRate, d.askedRate())
		out = append(out, fmt.Sprintf("achieved %s of %s asked: %s of %s scheduled records acknowledged",
			achieved, asked, count(t.Acked), count(t.Scheduled)))
	}
	out = append(out, d.unsent()...)
	if q := d.DLQ; q != nil && q.Records > 0 {
		out = append(out, fmt.Sprintf("%s record%s dead-lettered", count(q.Records), plural(q.Records)))
	}
	if e := d.EndToEnd; e != nil {
		if e.Loss > 0 {
			out = append(out, fmt.Sprintf("%s acknowledged record%s lost in the pipeline (neither delivered nor dead-lettered by the end of the drain)",
				count(e.Loss), plural(e.Loss)))
		}
		if e.InFlight > 0 {
			out = append(out, fmt.Sprintf("not drained, %s record%s in flight", count(e.InFlight), plural(e.InFlight)))
		}
	}
	if l := d.Lag; l != nil && l.Samples > 0 && !l.Drained && (d.EndToEnd == nil || d.EndToEnd.InFlight == 0) {
		out = append(out, fmt.Sprintf("the pipeline had not drained: consumer lag %s at the end", count(l.Final)))
	}
	return out
}

// unsent says how many scheduled records were never sent and why, one finding per
// cause: workers whose samples ran out, workers that fell behind, and the stop (or no
// known cause, for reports of older workers).
func (d *Document) unsent() []string {
	total := d.Totals.Scheduled - d.Totals.Sent
	if total <= 0 {
		return nil
	}
	var exhausted, behind []string
	var nExhausted, nBehind int64
	for _, w := range d.Workers {
		missing := w.Scheduled - w.Sent
		switch {
		case missing <= 0:
		case w.SamplesExhausted:
			nExhausted += missing
			exhausted = append(exhausted, fmt.Sprintf("worker %d after its %s", w.Index, count(w.Samples)))
		case !w.Stopped:
			nBehind += missing
			behind = append(behind, fmt.Sprintf("worker %d (%s of %s sent, up to %s behind)", w.Index, count(w.Sent), count(w.Scheduled), FormatDuration(w.MaxBehind)))
		}
	}
	line := func(n int64, why string) string {
		s := fmt.Sprintf("%s scheduled record%s never sent", count(n), plural(n))
		if why != "" {
			s += ": " + why
		}
		return s
	}
	var out []string
	if nExhausted > 0 {
		out = append(out, line(nExhausted, "ran out of samples (loop: false): "+andMore(exhausted)))
	}
	if nBehind > 0 {
		out = append(out, line(nBehind, "fell behind the schedule: "+andMore(behind)))
	}
	if rest := total - nExhausted - nBehind; rest > 0 {
		why := ""
		if d.Stopped {
			why = "the run was stopped early"
		}
		out = append(out, line(rest, why))
	}
	return out
}

// andMore joins the first maxNamedWorkers names, then says how many more there are.
func andMore(names []string) string {
	if len(names) <= maxNamedWorkers {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:maxNamedWorkers], ", ") + fmt.Sprintf(" and %d more", len(names)-maxNamedWorkers)
}

func errorClasses(m map[string]int64) []DLQClass {
	classes := make([]DLQClass, 0, len(m))
	for name, n := range m {
		classes = append(classes, DLQClass{Name: name, Count: n})
	}
	return classes
}

// percent writes a/b as a percentage with two significant digits below 1% and one
// decimal above: 0.003%, 0.25%, 50%, 99.9%. A share that is not 0 or 100 never reads as
// either.
func percent(a, b int64) string {
	if b == 0 || a == 0 {
		return "0%"
	}
	p := float64(a) / float64(b) * 100
	decimals := 1
	if p < 1 {
		decimals = decimalsFor(p, 2)
	}
	s := trimZeros(strconv.FormatFloat(p, 'f', decimals, 64))
	for a != b && (s == "100" || s == "0") && decimals < 17 { // never reads as none or all
		decimals++
		s = trimZeros(strconv.FormatFloat(p, 'f', decimals, 64))
	}
	return s + "%"
}

// FormatRatio writes v with 4 significant digits, and more when inexact says that v is
// not a whole number (a ratio of counts that differ) but would read as one: 0.99997 is
// never "1".
func FormatRatio(v float64, inexact bool) string {
	if !inexact {
		return formatRatio(v, 4)
	}
	return formatSignificant(v, 4)
}

// formatSignificant writes v, not a whole number, with at least digits significant
// digits and as many more as it takes not to read as a whole number.
func formatSignificant(v float64, digits int) string {
	for ; digits <= 17; digits++ {
		if s := trimZeros(strconv.FormatFloat(v, 'f', decimalsFor(v, digits), 64)); strings.Contains(s, ".") {
			return s
		}
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// decimalsFor is how many decimals give v the significant digits asked.
func decimalsFor(v float64, digits int) int {
	if v == 0 {
		return 0
	}
	exp := int(math.Floor(math.Log10(math.Abs(v)))) + 1
	return max(0, digits-exp)
}

func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

// ratePair writes an achieved rate and the rate asked, such as "188.1/s" and "200/s",
// with more decimals when an achieved rate below the one asked would read the same.
func ratePair(achieved, asked float64) (string, string) {
	for decimals := 1; ; decimals++ {
		a, b := rateText(achieved, decimals), rateText(asked, decimals)
		if a != b || achieved >= asked || decimals == 9 {
			return a, b
		}
	}
}

// rateText writes records per second with thousands separators and at most the given
// decimals: "4,999.8/s", "200/s".
func rateText(v float64, decimals int) string {
	whole, frac, _ := strings.Cut(strconv.FormatFloat(v, 'f', decimals, 64), ".")
	n, _ := strconv.ParseInt(whole, 10, 64)
	s := count(n)
	if frac = strings.TrimRight(frac, "0"); frac != "" {
		s += "." + frac
	}
	return s + "/s"
}
