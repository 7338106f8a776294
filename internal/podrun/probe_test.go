package podrun

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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
	if n := len(f.probes); n > 0 && req.Probe < n {
		if f.probes[req.Probe].Same(req) {
			return nil
		}
		return fmt.Errorf("%w: probe %d already asked with other values", ErrProbeConflict, req.Probe)
	}
	if req.Probe != len(f.probes) {
		return fmt.Errorf("%w: probe %d skips %d", ErrProbeConflict, req.Probe, len(f.probes))
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
