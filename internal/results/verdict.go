package results

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Thresholds are the spec's pass conditions; nil ones are not checked.
type Thresholds struct {
	MinAchievedRateRatio  *float64
	MaxErrorRatio         *float64
	MaxDLQRecords         *int64
	MaxP99Latency         *time.Duration
	MaxEndToEndP99Latency *time.Duration
	MaxConsumerLag        *int64
}

// Check is the outcome of one threshold. Name is the threshold's JSON name
// in the spec; Measured is NoData when the run has no measurement for it.
type Check struct {
	Name     string `json:"name"`
	Measured string `json:"measured"`
	Limit    string `json:"limit"`
	Passed   bool   `json:"passed"`
}

// NoData is the Measured value of a threshold that could not be measured.
// Such a check fails: a release gate must not pass on a missing measurement.
const NoData = "no data"

// Evaluate checks each set threshold against the document, in the order of
// the spec's fields.
func Evaluate(d *Document, t Thresholds) []Check {
	if d == nil {
		d = &Document{}
	}
	var checks []Check
	if t.MinAchievedRateRatio != nil {
		checks = append(checks, ratioCheck("minAchievedRateRatio", d.AchievedRateRatio,
			d.Totals.Scheduled > 0, *t.MinAchievedRateRatio, true))
	}
	if t.MaxErrorRatio != nil {
		checks = append(checks, ratioCheck("maxErrorRatio", d.ErrorRatio,
			d.Totals.Acked+d.Totals.Failed > 0, *t.MaxErrorRatio, false))
	}
	if t.MaxDLQRecords != nil {
		var n int64
		if d.DLQ != nil {
			n = d.DLQ.Records
		}
		checks = append(checks, countCheck("maxDLQRecords", n, d.DLQ != nil, *t.MaxDLQRecords))
	}
	if t.MaxP99Latency != nil {
		checks = append(checks, latencyCheck("maxP99Latency", d.Latency, *t.MaxP99Latency))
	}
	if t.MaxEndToEndP99Latency != nil {
		var p *Percentiles
		if d.EndToEnd != nil {
			p = d.EndToEnd.Latency
		}
		checks = append(checks, latencyCheck("maxEndToEndP99Latency", p, *t.MaxEndToEndP99Latency))
	}
	if t.MaxConsumerLag != nil {
		var n int64
		if d.Lag != nil {
			n = d.Lag.Max
		}
		checks = append(checks, countCheck("maxConsumerLag", n, d.Lag != nil && d.Lag.Samples > 0, *t.MaxConsumerLag))
	}
	return checks
}

// Implied are the thresholds of a run whose spec sets none at all: every scheduled record
// acknowledged and none failed. Admission writes safe defaults into every new spec, so a
// spec without any is one written before them, or one whose author removed them; a run
// measured against nothing must not pass with errors or a shortfall (see Judge).
var Implied = Thresholds{MinAchievedRateRatio: ptrTo(1.0), MaxErrorRatio: ptrTo(0.0)}

func ptrTo[T any](v T) *T { return &v }

// Outcome is a finished run's verdict in words.
type Outcome struct {
	// Checks are the thresholds' outcomes, in the order of the spec's fields.
	Checks []Check
	// Passed is true when every check passed.
	Passed bool
	// Message names the failed checks (or, on a pass, every check), then every finding:
	// errors and shortfalls are always named, even when the thresholds allow them.
	Message string
}

// Judge checks the thresholds against the document and words the verdict. A ratio, count
// or latency equal to its limit passes. With no threshold set at all, the run is held to
// Implied, and the message says so: a gate that was told nothing must not pass a run with
// failed records or a shortfall. Every finding of the document (Findings) follows, on a
// pass too, e.g. "all thresholds met: ...; findings: 3 of 100,000 records failed
// (0.003%): Timeout 3; achieved 188/s of 200/s asked: ...".
func Judge(d *Document, t Thresholds) Outcome {
	implied := t == Thresholds{}
	if implied {
		t = Implied
	}
	checks := Evaluate(d, t)
	o := Outcome{Checks: checks, Passed: true}
	for _, c := range checks {
		o.Passed = o.Passed && c.Passed
	}
	var b strings.Builder
	switch {
	case implied && o.Passed:
		b.WriteString("no thresholds were set; every scheduled record was acknowledged and none failed")
	case implied:
		b.WriteString("no thresholds were set, so every scheduled record must be acknowledged and none may fail: ")
		b.WriteString(FailedMessage(checks))
	case o.Passed:
		b.WriteString("all thresholds met: ")
		b.WriteString(checkList(checks, true))
	default:
		b.WriteString("thresholds not met: ")
		b.WriteString(FailedMessage(checks))
	}
	if f := d.Findings(); len(f) > 0 {
		b.WriteString("; findings: ")
		b.WriteString(strings.Join(f, "; "))
	}
	o.Message = b.String()
	return o
}

// FailedMessage lists the failed checks, e.g.
// "maxP99Latency: measured 312ms, limit 250ms; maxDLQRecords: measured 17, limit 0".
// It is empty when every check passed.
func FailedMessage(checks []Check) string {
	return checkList(checks, false)
}

// checkList lists the checks that passed or the ones that failed.
func checkList(checks []Check, passed bool) string {
	var parts []string
	for _, c := range checks {
		if c.Passed == passed {
			parts = append(parts, c.Name+": measured "+c.Measured+", limit "+c.Limit)
		}
	}
	return strings.Join(parts, "; ")
}

func ratioCheck(name string, v float64, ok bool, limit float64, atLeast bool) Check {
	if !ok {
		return Check{Name: name, Measured: NoData, Limit: formatRatio(limit, 4)}
	}
	passed := v <= limit
	if atLeast {
		passed = v >= limit
	}
	m, l := distinct(passed, 4, func(p int) (string, string) {
		// A measurement that is not whole never reads as one: 0.99997 is not "1".
		m := formatRatio(v, p)
		if v != math.Trunc(v) {
			m = formatSignificant(v, p)
		}
		return m, formatRatio(limit, p)
	})
	return Check{Name: name, Measured: m, Limit: l, Passed: passed}
}

func countCheck(name string, v int64, ok bool, limit int64) Check {
	c := Check{Name: name, Measured: NoData, Limit: strconv.FormatInt(limit, 10)}
	if ok {
		c.Measured, c.Passed = strconv.FormatInt(v, 10), v <= limit
	}
	return c
}

func latencyCheck(name string, p *Percentiles, limit time.Duration) Check {
	if p == nil || p.Count == 0 {
		return Check{Name: name, Measured: NoData, Limit: limit.String()}
	}
	passed := p.P99 <= limit
	// A failed check shows as many digits as it takes to read above its limit: a near
	// miss reads "250.4ms", not "250ms". The limit reads as the user wrote it.
	m := roundDuration(p.P99, 3)
	for digits := 4; !passed && m <= limit && digits <= 19; digits++ {
		m = roundDuration(p.P99, digits)
	}
	return Check{Name: name, Measured: m.String(), Limit: limit.String(), Passed: passed}
}

// distinct formats a measurement and its limit at the default precision,
// adding digits when a failed check would otherwise read "measured 0.95,
// limit 0.95".
func distinct(passed bool, start int, format func(digits int) (string, string)) (string, string) {
	m, l := format(start)
	for p := start + 1; !passed && m == l && p <= 19; p++ {
		m, l = format(p)
	}
	return m, l
}

// formatRatio writes v with the given significant digits: 0.95, 0.001, 1.667e-05.
func formatRatio(v float64, digits int) string {
	return strconv.FormatFloat(v, 'g', digits, 64)
}

// FormatDuration writes d with 3 significant digits, or more when rounding would move it
// by more than the histograms' precision (a thousandth): "400ms" for the 400.127ms that a
// histogram keeps of 400ms, but "250.4ms" for 250.4ms, so that a latency never reads
// lower than what was measured, to the measurement's precision.
func FormatDuration(d time.Duration) string {
	return roundDuration(d, 3).String()
}

// roundDuration rounds d to the nearest at digits significant digits, and to more digits
// while that moves it by more than a thousandth.
func roundDuration(d time.Duration, digits int) time.Duration {
	if d == 0 {
		return 0
	}
	tolerance := (d / 1000).Abs()
	for ; ; digits++ {
		r := roundDigits(d, digits)
		if (r - d).Abs() <= tolerance {
			return r
		}
	}
}

// roundDigits rounds d to the nearest at digits significant digits.
func roundDigits(d time.Duration, digits int) time.Duration {
	exp := int(math.Floor(math.Log10(math.Abs(float64(d))))) + 1 - digits
	if exp <= 0 {
		return d
	}
	return d.Round(time.Duration(math.Pow10(exp)))
}
