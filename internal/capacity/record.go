package capacity

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/results"
)

// Record is one finished probe as the results ConfigMap keeps it (probes.json): what was
// asked, what was measured, and the verdict. A controller reads the records back and
// calls Next with them, so the search continues after a restart.
type Record struct {
	Probe     int       `json:"probe"`
	Rate      float64   `json:"rate"`
	SentRate  int64     `json:"sentRate"` // the integer rate the pods were asked
	StartTime time.Time `json:"startTime"`
	Hold      Duration  `json:"hold"`

	Scheduled    int64      `json:"scheduled"`
	Acknowledged int64      `json:"acknowledged"`
	Failed       int64      `json:"failed"`
	MaxBehind    Duration   `json:"maxBehind"`
	ProduceP99   Duration   `json:"produceP99"`
	DeadLetters  int64      `json:"deadLetters"`
	EndToEndP99  *Duration  `json:"endToEndP99,omitempty"`
	Lag          []LagPoint `json:"lag"`
	Drained      bool       `json:"drained"`

	Sustained     bool                                `json:"sustained"`
	Factor        streamreplayv1alpha1.LimitingFactor `json:"factor,omitempty"`
	Achieved      float64                             `json:"achieved"`
	Processed     float64                             `json:"processed"`
	LagSlope      float64                             `json:"lagSlope"`
	LagSlopeError float64                             `json:"lagSlopeError"`
	Reasons       []string                            `json:"reasons,omitempty"`
}

// LagPoint is a lag sample in a Record, at seconds from the probe's start.
type LagPoint struct {
	At  float64 `json:"at"`
	Lag int64   `json:"lag"`
}

// Duration is a time.Duration written as Go writes it ("1.5s") in a Record.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration must be a string like \"1.5s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// NewRecord is the record of probe index, asked at rate (sent to the pods as sentRate)
// from start, judged with l.
func NewRecord(index int, rate float64, sentRate int64, start time.Time, l Limits, s Signals, drained bool) Record {
	v := Evaluate(l, s)
	r := Record{
		Probe: index, Rate: rate, SentRate: sentRate, StartTime: start, Hold: Duration(s.Hold),
		Scheduled: s.Scheduled, Acknowledged: s.Acknowledged, Failed: s.Failed,
		MaxBehind: Duration(s.MaxBehind), ProduceP99: Duration(s.ProduceP99), DeadLetters: s.DeadLetters,
		Lag: make([]LagPoint, 0, len(s.Lag)), Drained: drained,
		Sustained: v.Sustained, Factor: v.Factor, Achieved: v.Achieved, Processed: v.Processed,
		LagSlope: v.LagSlope, LagSlopeError: v.LagSlopeError, Reasons: v.Reasons,
	}
	if s.HasEndToEnd {
		d := Duration(s.EndToEndP99)
		r.EndToEndP99 = &d
	}
	for _, p := range s.Lag {
		r.Lag = append(r.Lag, LagPoint{At: p.At.Seconds(), Lag: p.Lag})
	}
	return r
}

// AsProbe is the record as Next takes it.
func (r Record) AsProbe() Probe {
	s := Signals{
		Rate: float64(r.SentRate), Hold: time.Duration(r.Hold), Scheduled: r.Scheduled, Acknowledged: r.Acknowledged,
		Failed: r.Failed, MaxBehind: time.Duration(r.MaxBehind), ProduceP99: time.Duration(r.ProduceP99), DeadLetters: r.DeadLetters,
	}
	if r.EndToEndP99 != nil {
		s.EndToEndP99, s.HasEndToEnd = time.Duration(*r.EndToEndP99), true
	}
	for _, p := range r.Lag {
		s.Lag = append(s.Lag, LagSample{At: time.Duration(p.At * float64(time.Second)), Lag: p.Lag})
	}
	return Probe{Rate: r.Rate, Signals: s, Undrained: !r.Drained, Verdict: Verdict{
		Sustained: r.Sustained, Factor: r.Factor, Achieved: r.Achieved, Processed: r.Processed,
		LagSlope: r.LagSlope, LagSlopeError: r.LagSlopeError, Reasons: r.Reasons,
	}}
}

// Probes turns records into the probes Next takes.
func Probes(records []Record) []Probe {
	out := make([]Probe, len(records))
	for i := range records {
		out[i] = records[i].AsProbe()
	}
	return out
}

// DecodeRecords reads probes.json; empty data is no probe yet. Its errors say which
// probe is wrong.
func DecodeRecords(data string) ([]Record, error) {
	if strings.TrimSpace(data) == "" {
		return nil, nil
	}
	var out []Record
	if err := json.Unmarshal([]byte(data), &out); err != nil {
		return nil, fmt.Errorf("probes.json: %w", err)
	}
	for i, r := range out {
		if r.Probe != i {
			return nil, fmt.Errorf("probes.json: entry %d is probe %d; the probes must be in order from 0", i, r.Probe)
		}
	}
	return out, nil
}

// Judge words a finished search's verdict. The capacity and what limited it are always
// named. With minCapacity set, the search passes when the capacity reaches it; a search
// the load generator limited below it fails and says to add workers, since the pipeline
// was not measured there. Without minCapacity, a search passes when it found a capacity
// that the pipeline, the broker or the maximum rate bounded; one the generator ended,
// or one that sustained no rate, fails: it measured the workers, not the pipeline.
func Judge(r Result, minCapacity *int64) results.Outcome {
	capacity := int64(math.Floor(r.Capacity))
	measured := FormatRate(capacity) + " (limited by " + string(r.Factor) + ")"
	o := results.Outcome{Passed: true}
	if minCapacity != nil {
		c := results.Check{Name: "minCapacity", Measured: measured, Limit: FormatRate(*minCapacity), Passed: capacity >= *minCapacity}
		o.Checks = append(o.Checks, c)
		o.Passed = c.Passed
	} else {
		o.Passed = capacity > 0 && r.Factor != streamreplayv1alpha1.LimitingGenerator
	}
	var b strings.Builder
	switch {
	case o.Passed && minCapacity != nil:
		b.WriteString("all thresholds met: ")
		b.WriteString("minCapacity: measured " + measured + ", limit " + FormatRate(*minCapacity))
	case o.Passed:
		b.WriteString("capacity " + measured)
	case minCapacity != nil:
		b.WriteString("thresholds not met: " + results.FailedMessage(o.Checks))
	case capacity == 0:
		b.WriteString("no rate was sustained (limited by " + string(r.Factor) + ")")
	default:
		b.WriteString("capacity " + measured + ": the search measured the load generator, not the pipeline")
	}
	b.WriteString("; " + r.String())
	if r.Factor == streamreplayv1alpha1.LimitingGenerator {
		b.WriteString("; add workers: the pipeline was not measured above " + FormatRate(capacity))
	}
	o.Message = b.String()
	return o
}

// FormatRate writes a rate in records per second with thousands separators: "8,000/s".
func FormatRate(v int64) string {
	return results.GroupThousands(strconv.FormatInt(v, 10)) + "/s"
}
