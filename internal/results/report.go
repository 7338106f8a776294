// Package results defines what each pod of a load test reports in its
// Kubernetes termination message, merges the reports of all pods into the
// results document, and evaluates the verdict against the thresholds.
package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	// MaxMessageBytes is the size limit of a container's termination message.
	MaxMessageBytes = 4096
	// FormatVersion is the version of the Report JSON; readers refuse others.
	FormatVersion = 1

	maxPodName     = 253 // a DNS subdomain, as Kubernetes requires of pod names
	maxRunID       = 128 // a UID is 36; leave room, but keep the report's fixed part small
	maxDegraded    = 16
	maxDegradedLen = 64
)

// Role is the job of a pod: its plan (internal/plan) gives it, its report names it. It
// lives here, in a package that imports nothing of the project, so that both can use it.
type Role string

// Roles of the pods.
const (
	RoleWorker   Role = "worker"
	RoleObserver Role = "observer"
)

// Report is what one pod writes into /dev/termination-log when it ends.
// Encode keeps it within MaxMessageBytes; Decode checks it.
type Report struct {
	Version int    `json:"v"`
	Role    Role   `json:"role"`
	Pod     string `json:"pod"`
	Index   int    `json:"index,omitempty"` // worker index
	RunID   string `json:"run"`
	// Start and End are the window the pod actually ran.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// LateStart is how late the pod began after the agreed start time.
	LateStart time.Duration `json:"lateStart,omitempty"`
	// Stopped is set when the pod ended early (stop request, SIGTERM): results are partial.
	Stopped bool `json:"stopped,omitempty"`
	// Degraded lists what Encode reduced to fit the message (precision, examples, classes).
	Degraded []string `json:"degraded,omitempty"`

	Worker   *WorkerResult   `json:"worker,omitempty"`
	Observer *ObserverResult `json:"observer,omitempty"`
}

// WorkerResult is what a replay worker measured.
type WorkerResult struct {
	// Scheduled is the records the schedule intended to send by the end: the whole
	// schedule, or until the stop. It is what the user asked for, never lowered to what
	// the worker could send (samples that ran out, a worker that fell behind).
	Scheduled int64 `json:"scheduled"`
	// ScheduledFor is the part of the schedule that Scheduled covers: the run's length,
	// or until the stop. 0 in reports of older workers.
	ScheduledFor time.Duration `json:"scheduledFor,omitempty"`
	// Samples is how many samples the worker's shard had; SamplesExhausted says that it
	// ran out of them before the schedule's end (loop: false).
	Samples          int64 `json:"samples,omitempty"`
	SamplesExhausted bool  `json:"samplesExhausted,omitempty"`
	Sent             int64 `json:"sent"`
	Acked            int64 `json:"acked"`
	Failed           int64 `json:"failed"`
	Bytes            int64 `json:"bytes"`
	// MaxBehind is how far sends fell behind the schedule at worst.
	MaxBehind time.Duration `json:"maxBehind,omitempty"`
	// Errors counts failed records by error class.
	Errors map[string]int64 `json:"errors,omitempty"`
	// Latency is acknowledgement latency from the intended send time (no
	// coordinated omission); SendLatency is from the actual send time.
	Latency     *Histogram `json:"latency,omitempty"`
	SendLatency *Histogram `json:"sendLatency,omitempty"`
}

// ObserverResult is what the observer saw of the pipeline. Each section is
// nil when the spec did not ask for it.
type ObserverResult struct {
	DLQ      *DLQResult      `json:"dlq,omitempty"`
	Lag      *LagResult      `json:"lag,omitempty"`
	EndToEnd *EndToEndResult `json:"e2e,omitempty"`
}

// DLQResult counts the dead letters in the run's window.
type DLQResult struct {
	Records      int64 `json:"records"`                // dead letters of this run
	OtherRecords int64 `json:"otherRecords,omitempty"` // dead letters in the window not of this run
	// Classes classify Records; with OmittedRecords they add up to Records.
	Classes []DLQClass `json:"classes,omitempty"`
	// OmittedClasses and OmittedRecords are the classes dropped to fit.
	OmittedClasses int   `json:"omittedClasses,omitempty"`
	OmittedRecords int64 `json:"omittedRecords,omitempty"`
}

// DLQClass is one kind of dead letter (by the error headers) with a few examples.
type DLQClass struct {
	Name     string       `json:"name"`
	Count    int64        `json:"count"`
	Examples []DLQExample `json:"examples,omitempty"`
}

// DLQExample points at one dead letter and says why it died.
type DLQExample struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Message   string `json:"message,omitempty"`
}

// LagResult is the sampled lag of the pipeline's consumer group on the input topic.
type LagResult struct {
	Max     int64 `json:"max"`
	Final   int64 `json:"final"`
	Drained bool  `json:"drained"` // the lag reached zero by the end of the drain period
	Samples int   `json:"samples"`
}

// EndToEndResult counts this run's records on the pipeline's output topic.
// Latency runs from the intended send time (worker clock) to the time the
// observer read the record (observer clock): it assumes the nodes' clocks are
// synchronised (NTP, typically within milliseconds), so values well below the
// clock error mean little; negative values are recorded as 0.
type EndToEndResult struct {
	Delivered  int64      `json:"delivered"`
	Duplicates int64      `json:"duplicates,omitempty"`
	Latency    *Histogram `json:"latency,omitempty"`
}

// Decode parses and checks a termination message. Its errors say what is
// wrong, for messages such as "pod X reported bad results: <err>".
func Decode(data []byte) (*Report, error) {
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return nil, errors.New("empty message")
	case len(data) > MaxMessageBytes:
		return nil, fmt.Errorf("message is %d bytes, more than the %d a termination message holds", len(data), MaxMessageBytes)
	}
	// Version and role first: a report of another version may not even parse
	// as this one, and "unknown version" is the useful error then.
	var head struct {
		Version json.RawMessage `json:"v"`
		Role    Role            `json:"role"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) || !json.Valid(data) {
			return nil, fmt.Errorf("not JSON: %s (%w)", quoteHead(data, 40), err)
		}
		return nil, fmt.Errorf("not a results report: %s (%w)", quoteHead(data, 40), err)
	}
	if string(head.Version) != strconv.Itoa(FormatVersion) {
		if head.Version == nil {
			return nil, fmt.Errorf("no format version (field \"v\"); want %d", FormatVersion)
		}
		return nil, fmt.Errorf("unknown format version %s; this reader knows version %d", Shorten(string(head.Version), 20), FormatVersion)
	}
	if head.Role != RoleWorker && head.Role != RoleObserver {
		return nil, fmt.Errorf("unknown role %q; want %q or %q", head.Role, RoleWorker, RoleObserver)
	}
	r := new(Report)
	if err := json.Unmarshal(data, r); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("malformed report: field %s is a JSON %s, want %s (%w)", fieldPath(te.Field), te.Value, te.Type, err)
		}
		return nil, fmt.Errorf("malformed report: %w", err)
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// fieldPath drops the helper types of MarshalJSON from a JSON field path.
func fieldPath(p string) string {
	parts := strings.Split(p, ".")
	parts = slices.DeleteFunc(parts, func(s string) bool { return s == "reportFields" || s == "workerFields" })
	return strings.Join(parts, ".")
}

// validate checks what Decode accepts and Encode produces. Encode relies on
// its bounds (names, degraded notes) to guarantee the message size.
func (r *Report) validate() error {
	if r.Version != FormatVersion {
		return fmt.Errorf("unknown format version %d; this reader knows version %d", r.Version, FormatVersion)
	}
	if err := checkName("pod name", r.Pod, maxPodName, isPodNameByte); err != nil {
		return err
	}
	if err := checkName("run id", r.RunID, maxRunID, isRunIDByte); err != nil {
		return err
	}
	if r.Index < 0 {
		return fmt.Errorf("negative worker index %d", r.Index)
	}
	switch {
	case r.Start.IsZero():
		return errors.New("no start time")
	case r.End.IsZero():
		return errors.New("no end time")
	case r.End.Before(r.Start):
		return fmt.Errorf("end %s is before start %s", r.End.Format(time.RFC3339Nano), r.Start.Format(time.RFC3339Nano))
	case r.LateStart < 0:
		return fmt.Errorf("negative lateStart %s", r.LateStart)
	}
	if err := checkDegraded(r.Degraded); err != nil {
		return err
	}
	switch r.Role {
	case RoleWorker:
		if r.Worker == nil {
			return errors.New("role worker but no worker section")
		}
		if r.Observer != nil {
			return errors.New("role worker but an observer section")
		}
		return r.Worker.validate()
	case RoleObserver:
		if r.Observer == nil {
			return errors.New("role observer but no observer section")
		}
		if r.Worker != nil {
			return errors.New("role observer but a worker section")
		}
		return r.Observer.validate()
	default:
		return fmt.Errorf("unknown role %q; want %q or %q", r.Role, RoleWorker, RoleObserver)
	}
}

func (w *WorkerResult) validate() error {
	if err := nonNegative("worker", counters{{"scheduled", w.Scheduled}, {"scheduledFor", int64(w.ScheduledFor)},
		{"samples", w.Samples}, {"sent", w.Sent}, {"acked", w.Acked},
		{"failed", w.Failed}, {"bytes", w.Bytes}, {"maxBehind", int64(w.MaxBehind)}}); err != nil {
		return err
	}
	if done, ok := addInt64(w.Acked, w.Failed); !ok || done > w.Sent {
		return fmt.Errorf("worker: acked %d + failed %d is more than sent %d", w.Acked, w.Failed, w.Sent)
	}
	var sum int64
	for name, n := range w.Errors {
		if n < 0 {
			return fmt.Errorf("worker: negative count %d for error class %q", n, Shorten(name, 64))
		}
		var ok bool
		if sum, ok = addInt64(sum, n); !ok || sum > w.Failed {
			return fmt.Errorf("worker: error classes count more records than the %d failed", w.Failed)
		}
	}
	return nil
}

func (o *ObserverResult) validate() error {
	if d := o.DLQ; d != nil {
		if err := nonNegative("dlq", counters{{"records", d.Records}, {"otherRecords", d.OtherRecords},
			{"omittedClasses", int64(d.OmittedClasses)}, {"omittedRecords", d.OmittedRecords}}); err != nil {
			return err
		}
		sum := d.OmittedRecords
		for _, c := range d.Classes {
			if c.Count < 0 {
				return fmt.Errorf("dlq: negative count %d for class %q", c.Count, Shorten(c.Name, 64))
			}
			var ok bool
			if sum, ok = addInt64(sum, c.Count); !ok || sum > d.Records {
				return fmt.Errorf("dlq: classes count more records than the %d of this run", d.Records)
			}
			for _, e := range c.Examples {
				if e.Partition < 0 || e.Offset < 0 {
					return fmt.Errorf("dlq: example of class %q has negative partition %d or offset %d",
						Shorten(c.Name, 64), e.Partition, e.Offset)
				}
			}
		}
	}
	if l := o.Lag; l != nil {
		if err := nonNegative("lag", counters{{"max", l.Max}, {"final", l.Final}, {"samples", int64(l.Samples)}}); err != nil {
			return err
		}
	}
	if e := o.EndToEnd; e != nil {
		if err := nonNegative("e2e", counters{{"delivered", e.Delivered}, {"duplicates", e.Duplicates}}); err != nil {
			return err
		}
	}
	return nil
}

type counters []struct {
	name  string
	value int64
}

func nonNegative(section string, cs counters) error {
	for _, c := range cs {
		if c.value < 0 {
			return fmt.Errorf("%s: negative counter %s=%d", section, c.name, c.value)
		}
	}
	return nil
}

func checkName(what, s string, maxLen int, ok func(byte) bool) error {
	if s == "" {
		return fmt.Errorf("no %s", what)
	}
	if len(s) > maxLen {
		return fmt.Errorf("%s is %d bytes, more than %d: %s", what, len(s), maxLen, quoteHead([]byte(s), 40))
	}
	for i := range len(s) {
		if !ok(s[i]) {
			return fmt.Errorf("%s %s has a character not allowed at byte %d", what, quoteHead([]byte(s), 40), i)
		}
	}
	return nil
}

func isPodNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.'
}

func isRunIDByte(c byte) bool {
	return isPodNameByte(c) || c >= 'A' && c <= 'Z' || c == '_' || c == ':'
}

// checkDegraded bounds the notes so that a report's fixed part stays small
// whatever a pod wrote there.
func checkDegraded(notes []string) error {
	if len(notes) > maxDegraded {
		return fmt.Errorf("%d degraded notes, more than %d", len(notes), maxDegraded)
	}
	for _, n := range notes {
		if n == "" || len(n) > maxDegradedLen {
			return fmt.Errorf("degraded note %s must be 1 to %d bytes", quoteHead([]byte(n), 40), maxDegradedLen)
		}
		for i := range len(n) {
			if c := n[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
				return fmt.Errorf("degraded note %s has a character not allowed at byte %d", quoteHead([]byte(n), 40), i)
			}
		}
	}
	return nil
}

// addInt64 adds two non-negative counters, reporting overflow.
func addInt64(a, b int64) (int64, bool) {
	s := a + b
	return s, s >= a
}

// quoteHead quotes the first n bytes of b for an error message.
func quoteHead(b []byte, n int) string {
	if len(b) <= n {
		return strconv.Quote(string(b))
	}
	return strconv.Quote(Shorten(string(b), n)) + fmt.Sprintf(" (%d bytes)", len(b))
}

// Shorten cuts s to at most n (>= 3) bytes on a rune boundary, marking the cut
// with "…", and replaces invalid UTF-8 (JSON would turn it into U+FFFD anyway).
func Shorten(s string, n int) string {
	const ellipsis = "…"
	if len(s) <= n {
		return toValidUTF8(s)
	}
	cut := max(0, n-len(ellipsis))
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return toValidUTF8(s[:cut]) + ellipsis
}

func toValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	// One-byte "?" rather than "\uFFFD", so the result stays within the cut.
	var b []byte
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, '?')
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return string(b)
}

// jsonDuration is a time.Duration in JSON as Go's duration string ("1.5s"):
// readable, exact, and what time.ParseDuration and Kubernetes' metav1.Duration
// read. The spec's thresholds are written the same way.
type jsonDuration time.Duration

func (d jsonDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration %s is not a string like \"1.5s\"", quoteHead(b, 20))
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("bad duration: %w", err)
	}
	*d = jsonDuration(v)
	return nil
}

// The *Fields types have the fields but not the methods of their originals,
// so MarshalJSON can reuse the field tags and override the durations.
type (
	reportFields Report
	reportJSON   struct {
		*reportFields
		LateStart jsonDuration `json:"lateStart,omitempty"`
	}
	workerFields WorkerResult
	workerJSON   struct {
		*workerFields
		ScheduledFor jsonDuration `json:"scheduledFor,omitempty"`
		MaxBehind    jsonDuration `json:"maxBehind,omitempty"`
	}
)

// MarshalJSON writes durations as strings.
func (r Report) MarshalJSON() ([]byte, error) {
	return marshalJSON(reportJSON{(*reportFields)(&r), jsonDuration(r.LateStart)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Report) UnmarshalJSON(b []byte) error {
	aux := reportJSON{reportFields: (*reportFields)(r)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	r.LateStart = time.Duration(aux.LateStart)
	return nil
}

// MarshalJSON writes durations as strings.
func (w WorkerResult) MarshalJSON() ([]byte, error) {
	return marshalJSON(workerJSON{(*workerFields)(&w), jsonDuration(w.ScheduledFor), jsonDuration(w.MaxBehind)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (w *WorkerResult) UnmarshalJSON(b []byte) error {
	aux := workerJSON{workerFields: (*workerFields)(w)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	w.ScheduledFor, w.MaxBehind = time.Duration(aux.ScheduledFor), time.Duration(aux.MaxBehind)
	return nil
}

// marshalJSON is json.Marshal without HTML escaping: "<" in an exception
// message costs 1 byte instead of 6, and nobody embeds these in HTML.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
