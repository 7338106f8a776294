package podrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamreplay/streamreplay/internal/capacity"
	"github.com/streamreplay/streamreplay/internal/control"
)

// fakeProber is a fakeRunner that keeps the probes it is given.
type fakeProber struct {
	fakeRunner
	mu     sync.Mutex
	probes []control.ProbeRequest
}

func (f *fakeProber) StartProbe(req control.ProbeRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if repeat, err := ProbeOrder(req, len(f.probes), func(i int) control.ProbeRequest { return f.probes[i] }); repeat || err != nil {
		return err
	}
	f.probes = append(f.probes, req)
	return nil
}

func (f *fakeProber) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.probes)
}

func (f *fakeProber) ProbeResult(n int) (*control.ProbeResult, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n >= len(f.probes) {
		return nil, false
	}
	return &control.ProbeResult{Probe: n, Done: true, Worker: &control.WorkerProbe{Scheduled: f.probes[n].Rate}}, true
}

func TestProbeRoutesAreAuthenticatedAndIdempotent(t *testing.T) {
	runner := &fakeProber{fakeRunner: fakeRunner{runFor: time.Minute}}
	h := start(t, runner, nil)
	h.waitReady()
	req := control.ProbeRequest{RunID: runID, Probe: 0, Rate: 300, StartTime: time.Now().Add(time.Second), Hold: 10 * time.Second}

	// Without the token: the same bare 401 as every other call, and nothing changes.
	for _, bearer := range []string{"", "guess", runID} {
		if code, body := h.call(http.MethodPost, h.base+control.PathProbe, bearer, req); code != http.StatusUnauthorized || body != "unauthorized\n" {
			t.Errorf("POST /probe with bearer %q: %d %q, want 401 unauthorized", bearer, code, body)
		}
		if code, body := h.call(http.MethodGet, h.base+control.PathProbe+"/0?runID="+runID, bearer, nil); code != http.StatusUnauthorized || body != "unauthorized\n" {
			t.Errorf("GET /probe/0 with bearer %q: %d %q, want 401 unauthorized", bearer, code, body)
		}
	}
	if runner.count() != 0 {
		t.Fatalf("forged calls started probes: %v", runner.probes)
	}

	host, port, _ := net.SplitHostPort(strings.TrimPrefix(h.base, "http://"))
	p, _ := strconv.Atoi(port)
	c := control.NewClient(2 * time.Second)
	ctx := context.Background()
	if _, err := c.ProbeResult(ctx, host, int32(p), token, runID, 0); err == nil || !strings.Contains(err.Error(), control.ErrNoProbe.Error()) {
		t.Errorf("GET /probe/0 before it was asked: %v, want %v", err, control.ErrNoProbe)
	}
	for range 2 { // the same request twice: idempotent
		if err := c.Probe(ctx, host, int32(p), token, req); err != nil {
			t.Fatalf("POST /probe: %v", err)
		}
	}
	if n := runner.count(); n != 1 {
		t.Errorf("probes after the same request twice: %d, want 1", n)
	}
	other := req
	other.Rate = 600
	if code, body := h.post(control.PathProbe, other); code != http.StatusConflict {
		t.Errorf("probe 0 again with another rate: %d %q, want 409", code, body)
	}
	wrongRun := req
	wrongRun.RunID = "other"
	if code, _ := h.post(control.PathProbe, wrongRun); code != http.StatusConflict {
		t.Errorf("probe for another run: %d, want 409", code)
	}
	bad := req
	bad.Probe, bad.Hold = 1, 0
	if code, body := h.post(control.PathProbe, bad); code != http.StatusBadRequest || !strings.Contains(body, "hold") {
		t.Errorf("probe without hold: %d %q, want 400 naming hold", code, body)
	}
	res, err := c.ProbeResult(ctx, host, int32(p), token, runID, 0)
	if err != nil {
		t.Fatalf("GET /probe/0: %v", err)
	}
	if b, _ := json.Marshal(res); res.Worker == nil || res.Worker.Scheduled != 300 {
		t.Errorf("GET /probe/0 = %s, want the role's answer", b)
	}
	if code, _ := h.call(http.MethodGet, h.base+control.PathProbe+"/0?runID=other", token, nil); code != http.StatusConflict {
		t.Errorf("GET /probe/0 for another run: %d, want 409", code)
	}
	h.cancel()
	_ = h.wait()
}

// A runner that runs no search answers 404 to an authenticated /probe.
func TestProbeOnARoleWithoutSearch(t *testing.T) {
	h := start(t, &fakeRunner{runFor: time.Minute}, nil)
	h.waitReady()
	req := control.ProbeRequest{RunID: runID, Rate: 300, StartTime: time.Now(), Hold: time.Second}
	if code, _ := h.post(control.PathProbe, req); code != http.StatusNotFound {
		t.Errorf("POST /probe to a plain worker: %d, want 404", code)
	}
	h.cancel()
	_ = h.wait()
}

func TestProbeOrder(t *testing.T) {
	at := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	probe := func(n int, rate int64) control.ProbeRequest {
		return control.ProbeRequest{Probe: n, Rate: rate, StartTime: at, Hold: time.Minute}
	}
	asked := []control.ProbeRequest{probe(0, 100), probe(1, 200)}
	many := make([]control.ProbeRequest, capacity.MaxProbes)
	for i := range many {
		many[i] = probe(i, int64(100*(i+1)))
	}
	for _, tc := range []struct {
		name     string
		asked    []control.ProbeRequest
		req      control.ProbeRequest
		repeat   bool
		conflict string
	}{
		{name: "first", req: probe(0, 100)},
		{name: "next", asked: asked, req: probe(2, 300)},
		{name: "the same again", asked: asked, req: probe(1, 200), repeat: true},
		{name: "an earlier index with other values", asked: asked, req: probe(1, 250), conflict: "probe 1 was asked with other values"},
		{name: "skips one", asked: asked, req: probe(3, 400), conflict: "probe 3 asked before probe 2"},
		{name: "one too many", asked: many, req: probe(len(many), 1), conflict: fmt.Sprintf("a search has at most %d probes", capacity.MaxProbes)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repeat, err := ProbeOrder(tc.req, len(tc.asked), func(i int) control.ProbeRequest { return tc.asked[i] })
			if repeat != tc.repeat {
				t.Errorf("repeat = %v, want %v", repeat, tc.repeat)
			}
			switch {
			case tc.conflict == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.conflict != "" && (!errors.Is(err, ErrProbeConflict) || !strings.Contains(fmt.Sprint(err), tc.conflict)):
				t.Errorf("error %v, want a probe conflict saying %q", err, tc.conflict)
			}
		})
	}
}
