package results

import (
	"testing"
)

func FuzzDecode(f *testing.F) {
	for _, r := range []Report{workerReport(0, 1), observerReport(), pathologicalWorker(), pathologicalObserver()} {
		f.Add(mustEncode(f, r))
	}
	for _, s := range []string{
		"", "{}", "null", `{"v":1}`, `{"v":1,"role":"worker","worker":{}}`,
		`{"v":1,"role":"observer","pod":"o","run":"r","start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z","observer":{"dlq":{"records":1,"classes":[{"name":"x","count":1}]}}}`,
		`{"v":1,"role":"worker","pod":"w","run":"r","start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:01Z","lateStart":"1s","worker":{"sent":3,"acked":1,"failed":2,"errors":{"a":1,"b":1},"latency":"HISTFAAAACR42pJpmSzMwMDAxgABjFCaCURcm7yEwf4DRKBdj+kuE9N8FiZWJkEmXSZZJlumQCZfJnWmYCZrJk2mw4xMDEz8TMcZmfSZDJn8mUSZnJmYmVKZWJlEmSyZGJgimYSZYplmg1QZMnEzMbEyxTKpMpUzSTM5M/kycTPZMrFcZWTyZAIEAAD//yAvEbA="}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data)
		if err != nil {
			if r != nil {
				t.Fatal("Decode returned a report with an error")
			}
			return
		}
		b, err := r.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded report: %v\ninput: %q", err, data)
		}
		if len(b) > MaxMessageBytes {
			t.Fatalf("re-encoded %d bytes", len(b))
		}
		again, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode of re-encoded report: %v\nencoded: %s", err, b)
		}
		if w, a := r.Worker, again.Worker; w != nil && (w.Sent != a.Sent || w.Acked != a.Acked || w.Failed != a.Failed ||
			sumValues(w.Errors) != sumValues(a.Errors) || w.Latency.Count() != a.Latency.Count() && a.Latency != nil) {
			t.Fatalf("re-encoding changed worker counters: %+v -> %+v", w, a)
		}
		if d, a := r.Observer, again.Observer; d != nil && d.DLQ != nil && (d.DLQ.Records != a.DLQ.Records || d.DLQ.OmittedRecords+sumClasses(d.DLQ.Classes) != a.DLQ.OmittedRecords+sumClasses(a.DLQ.Classes)) {
			t.Fatalf("re-encoding changed DLQ counts: %+v -> %+v", d.DLQ, a.DLQ)
		}
	})
}

func sumClasses(cs []DLQClass) int64 {
	var s int64
	for _, c := range cs {
		s += c.Count
	}
	return s
}
