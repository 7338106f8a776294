package results

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/google/go-cmp/cmp"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	small := workerReport(2, 1)
	small.Worker.Latency = histOf(latencies(1, 500, 8*time.Millisecond, 0.3))
	small.Worker.SendLatency = histOf(latencies(2, 500, 6*time.Millisecond, 0.3))
	small.Stopped = true
	noHists := workerReport(3, 1)
	noHists.Worker.Latency, noHists.Worker.SendLatency, noHists.Worker.Errors = nil, nil, nil
	emptyObserver := observerReport()
	emptyObserver.Observer = &ObserverResult{}

	tests := []struct {
		name     string
		in       Report
		degraded []string // what Encode had to reduce to fit
	}{
		{"worker at full precision", small, nil},
		{"worker without histograms", noHists, nil},
		{"worker with large histograms", workerReport(1, 1), []string{"latency: 2 significant digits", "send latency: 1 significant digit"}},
		{"observer", observerReport(), nil},
		{"observer without sections", emptyObserver, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustEncode(t, tt.in)
			if len(b) > MaxMessageBytes {
				t.Fatalf("encoded %d bytes", len(b))
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := tt.in
			want.Degraded = tt.degraded
			// Reduced histograms compare at the precision they were sent with.
			if got.Worker != nil && want.Worker != nil {
				w := *want.Worker
				if w.Latency != nil {
					w.Latency = w.Latency.withDigits(got.Worker.Latency.SignificantDigits())
				}
				if w.SendLatency != nil {
					w.SendLatency = w.SendLatency.withDigits(got.Worker.SendLatency.SignificantDigits())
				}
				want.Worker = &w
			}
			if diff := cmp.Diff(&want, got, histComparer); diff != "" {
				t.Errorf("round trip (-want +got)\n%s", diff)
			}
		})
	}
}

func TestEncodeKeepsQuantilesAtFullPrecision(t *testing.T) {
	r := workerReport(0, 9)
	r.Worker.Latency = histOf(latencies(3, 2000, 12*time.Millisecond, 0.5))
	r.Worker.SendLatency = nil
	got, err := Decode(mustEncode(t, r))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Worker.Latency.h.Equals(r.Worker.Latency.h) {
		t.Errorf("latency histogram changed: got %+v, want %+v", histSummary(got.Worker.Latency), histSummary(r.Worker.Latency))
	}
}

func TestEncodeDoesNotChangeReport(t *testing.T) {
	r := observerReport()
	r.Observer.DLQ.Classes[0].Examples[0].Message = strings.Repeat("é", 3000)
	before := histSummary(r.Observer.EndToEnd.Latency)
	msg := r.Observer.DLQ.Classes[0].Examples[0].Message
	b := mustEncode(t, r)
	if got, _ := Decode(b); len(got.Degraded) == 0 {
		t.Fatal("expected the long example to be reduced")
	}
	if r.Observer.DLQ.Classes[0].Examples[0].Message != msg || r.Degraded != nil {
		t.Error("Encode changed the report it encoded")
	}
	if diff := cmp.Diff(before, histSummary(r.Observer.EndToEnd.Latency)); diff != "" {
		t.Errorf("Encode changed a histogram (-want +got)\n%s", diff)
	}
}

func TestEncodeRejectsInvalidReports(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Report)
		want   string
	}{
		{"long pod name", func(r *Report) { r.Pod = strings.Repeat("w", 300) }, "pod name is 300 bytes, more than 253"},
		{"pod name characters", func(r *Report) { r.Pod = "Worker_0" }, `pod name "Worker_0" has a character not allowed`},
		{"long run id", func(r *Report) { r.RunID = strings.Repeat("a", 200) }, "run id is 200 bytes, more than 128"},
		{"no run id", func(r *Report) { r.RunID = "" }, "no run id"},
		{"unknown role", func(r *Report) { r.Role = "sidecar" }, `unknown role "sidecar"`},
		{"other version", func(r *Report) { r.Version = 7 }, "unknown format version 7"},
		{"negative counter", func(r *Report) { r.Worker.Acked = -1 }, "negative counter acked=-1"},
		{"errors above failed", func(r *Report) { r.Worker.Errors["x"] = 1000 }, "error classes count more records than the 60 failed"},
		{"bad degraded note", func(r *Report) { r.Degraded = []string{`quote"`} }, "degraded note"},
		{"too many notes", func(r *Report) { r.Degraded = make([]string, 17) }, "17 degraded notes, more than 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := workerReport(0, 1)
			tt.modify(&r)
			_, err := r.Encode()
			wantErrContains(t, err, "invalid report: ")
			wantErrContains(t, err, tt.want)
		})
	}
	var nilReport *Report
	if _, err := nilReport.Encode(); err == nil {
		t.Error("Encode of a nil report succeeded")
	}
}

func TestDecodeRejects(t *testing.T) {
	valid := mustEncode(t, func() Report {
		r := workerReport(0, 1)
		r.Worker.Latency = histOf(latencies(1, 100, time.Millisecond, 0.3))
		r.Worker.SendLatency = nil
		return r
	}())
	validObserver := mustEncode(t, observerReport())
	// edit returns valid JSON changed by f, working on its generic form.
	edit := func(base []byte, f func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(base, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	worker := func(m map[string]any) map[string]any { return m["worker"].(map[string]any) }
	hist5 := func() string {
		b, err := hdrhistogram.New(1, histHighest, 5).Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}()

	tests := []struct{ name, in, want string }{
		{"empty", "", "empty message"},
		{"blank", " \n", "empty message"},
		{"too large", `{"v":1,"pad":"` + strings.Repeat("x", 5000) + `"}`, "message is 5016 bytes, more than the 4096"},
		{"not JSON", "panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:", `not JSON: "panic: runtime error: index out of ra…" (82 bytes) (invalid character 'p' looking for beginning of value)`},
		{"truncated JSON", string(valid[:len(valid)/2]), "not JSON: "},
		{"JSON but not an object", `["v", 1]`, "not a results report"},
		{"no version", `{"role":"worker"}`, `no format version (field "v"); want 1`},
		{"unknown version", `{"v":2,"role":"worker"}`, "unknown format version 2; this reader knows version 1"},
		{"unknown role", `{"v":1,"role":"sidecar"}`, `unknown role "sidecar"; want "worker" or "observer"`},
		{"worker without section", edit(valid, func(m map[string]any) { delete(m, "worker") }), "role worker but no worker section"},
		{"worker with observer section", edit(valid, func(m map[string]any) { m["observer"] = map[string]any{} }), "role worker but an observer section"},
		{"observer with worker section", edit(validObserver, func(m map[string]any) { m["worker"] = map[string]any{} }), "role observer but a worker section"},
		{"observer without section", edit(validObserver, func(m map[string]any) { delete(m, "observer") }), "role observer but no observer section"},
		{"wrong type", edit(valid, func(m map[string]any) { worker(m)["sent"] = "many" }), "malformed report: field worker.sent is a JSON string, want int64"},
		{"negative counter", edit(valid, func(m map[string]any) { worker(m)["failed"] = -3 }), "worker: negative counter failed=-3"},
		{"negative dlq counter", edit(validObserver, func(m map[string]any) {
			m["observer"].(map[string]any)["dlq"].(map[string]any)["records"] = -1
		}), "dlq: negative counter records=-1"},
		{"acked+failed above sent", edit(valid, func(m map[string]any) { worker(m)["sent"] = 10 }), "worker: acked 749900 + failed 60 is more than sent 10"},
		{"dlq classes above records", edit(validObserver, func(m map[string]any) {
			m["observer"].(map[string]any)["dlq"].(map[string]any)["records"] = 3
		}), "dlq: classes count more records than the 3 of this run"},
		{"end before start", edit(valid, func(m map[string]any) { m["end"] = "2026-11-25T09:00:00Z" }), "end 2026-11-25T09:00:00Z is before start 2026-11-25T10:00:00Z"},
		{"no start", edit(valid, func(m map[string]any) { delete(m, "start") }), "no start time"},
		{"bad time", edit(valid, func(m map[string]any) { m["start"] = "yesterday" }), "malformed report"},
		{"bad duration", edit(valid, func(m map[string]any) { m["lateStart"] = "soon" }), `bad duration: time: invalid duration "soon"`},
		{"negative duration", edit(valid, func(m map[string]any) { m["lateStart"] = "-1s" }), "negative lateStart -1s"},
		{"bad histogram base64", edit(valid, func(m map[string]any) { worker(m)["latency"] = "HIST!!" }), "bad histogram encoding \"HIST!!\": not base64"},
		{"bad histogram data", edit(valid, func(m map[string]any) { worker(m)["latency"] = "SElTVGdhcmJhZ2UK" }), "bad histogram encoding \"SElTVGdhcmJhZ2UK\": not a V2 compressed histogram"},
		{"histogram of other geometry", edit(valid, func(m map[string]any) { worker(m)["latency"] = hist5 }), "at 5 digits, want"},
		{"bad pod name", edit(valid, func(m map[string]any) { m["pod"] = "../etc" }), `pod name "../etc" has a character not allowed at byte 2`},
		{"negative index", edit(valid, func(m map[string]any) { m["index"] = -1 }), "negative worker index -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Decode([]byte(tt.in))
			if r != nil {
				t.Errorf("Decode returned a report with an error")
			}
			wantErrContains(t, err, tt.want)
		})
	}
}
